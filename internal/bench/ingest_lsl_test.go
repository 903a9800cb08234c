package bench

import (
	"context"
	"testing"
	"time"
)

// liblsl's side of the ingest comparison moves every sample it pushed (nothing lost) and reports
// rates and CPU; skipped where liblsl is not installed (tools/install-liblsl.sh).
func TestLiblslIngestRun(t *testing.T) {
	r := &benchRun{python: "/usr/bin/python3", toolsDir: FindRepoDir("tools")}
	peer, err := lslPeerCommand(r)
	if err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := liblslIngestRun(ctx, peer, 306, 3e7)
	if err != nil {
		t.Fatal(err)
	}
	if res.lost != 0 {
		t.Fatalf("%d samples pushed but not pulled", res.lost)
	}
	if !(res.pushRate > 0 && res.pullRate > 0 && res.cores > 0) {
		t.Fatalf("nothing measured: %+v", res)
	}
	if res.chunk != 214 {
		t.Fatalf("chunk of %d samples for 306 ch, want 214 (~256 KB)", res.chunk)
	}
}
