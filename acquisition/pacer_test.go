package acquisition

import (
	"context"
	"errors"
	"testing"
)

func TestPacerCancelAndNoPacing(t *testing.T) {
	var free Pacer
	if err := free.Wait(context.Background(), 1e6); err != nil {
		t.Fatalf("unpaced Wait: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := Pacer{Speed: 1}
	if err := p.Wait(ctx, 3600); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait for a frame an hour away with a cancelled context: %v, want context.Canceled", err)
	}
	if err := p.Wait(context.Background(), 0); err != nil { // already due
		t.Fatal(err)
	}
}
