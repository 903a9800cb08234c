package devices

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/openbci"
	"github.com/neurostream/neurostream/acquisition/serialport"
	"github.com/neurostream/neurostream/streams"
)

// A simulated Cyton that goes quiet after 120 samples (and streams again when restarted): the
// reconnecting source notices, reopens the port, restarts the board and goes on, with continuous
// sequence numbers and a marker at the reconnection.
func TestReconnectingCyton(t *testing.T) {
	ctl, pts, err := serialport.OpenPTY()
	if err != nil {
		t.Skip(err)
	}
	defer ctl.Close()
	// Hold the terminal side open: with no terminal fd left, a pty's controller reads fail and the
	// simulated board would stop, unlike a board whose serial link comes back.
	keep, err := serialport.Open(pts, 115200)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	data := make([][]float64, 8)
	for c := range data {
		data[c] = make([]float64, 120)
		for s := range data[c] {
			data[c][s] = 1e-5 * math.Sin(float64(s+c))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go (&openbci.Simulator{Data: data}).Serve(ctx, ctl)
	d, _ := Builtin().Lookup("cyton")
	open := func(ctx context.Context) (Source, error) {
		return d.Open(ctx, Options{Port: pts, StreamID: "re", Timeout: 500 * time.Millisecond})
	}
	r, err := NewReconnecting(ctx, open, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var marks []string
	for i := range 40 { // 320 samples: the board's data twice and more
		var f streams.Frame
		if err := r.Next(ctx, &f); err != nil {
			t.Fatal(err)
		}
		if f.Seq != uint64(i) {
			t.Fatalf("frame %d has seq %d", i, f.Seq)
		}
		for _, m := range f.Markers {
			marks = append(marks, m.Label)
		}
	}
	if r.Reconnects() < 2 || len(marks) < 2 || !strings.HasPrefix(marks[0], ReconnectLabel) {
		t.Fatalf("reconnects %d, markers %q", r.Reconnects(), marks)
	}
	if st := r.LiveStats(); st.Samples < 240 {
		t.Fatalf("stats across connections: %+v", st)
	}
}
