package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/streams/broker"
)

// The motor-imagery demo trains on R06 and decodes R10 replayed through a real Kafka broker: every
// trial gets an online decision, equal to the offline one, and the accuracy is the one the native
// decoder tests check against MNE + scikit-learn (14/15). Its --metrics-addr reaches the decoding process.
func TestDemoMotorImagery(t *testing.T) {
	shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", "S001R10.edf"))
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err = runDemo(ctx, []string{"--motor-imagery", "--replay-speed", "0", "--brokers", b.Addr(), "--namespace", "demo-mi",
		"--data", shareddata.Dir(), "--metrics-addr", "127.0.0.1:0"}, &out)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{"agree on 15/15 trials (0 without an online window)", "accuracy online 0.933, offline 0.933",
		"metrics: http://127.0.0.1:"} { // --metrics-addr reaches the decoding process
		if !strings.Contains(out.String(), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
