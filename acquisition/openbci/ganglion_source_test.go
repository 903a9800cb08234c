package openbci

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/ble"
	"github.com/neurostream/neurostream/streams"
)

// A simulated Ganglion on a simulated link: 'b' starts it, notifications become 4-channel frames in
// volts, a lost notification is counted as two lost samples, impedance messages do not disturb the
// stream.
func TestGanglionSourceOnSimulatedLink(t *testing.T) {
	link := ble.NewSimulatedLink(GanglionNotifyChar, GanglionWriteChar)
	g, err := NewGanglion(link, GanglionConfig{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if w := link.Written(); len(w) != 1 || w[0] != "b" {
		t.Fatalf("written %q", w)
	}
	sig := ganglionSignal(1 + 2*100)
	enc := GanglionEncoder{}
	link.Notify(GanglionNotifyChar, enc.Encode(sig[0]))
	for k := 1; k <= 100; k++ {
		note := enc.Encode(sig[2*k-1], sig[2*k])
		if k == 60 { // lost: the samples after it are offset by its deltas (firmware 2)
			continue
		}
		if k == 30 {
			link.Notify(GanglionNotifyChar, []byte("\xca512Z"))
		}
		link.Notify(GanglionNotifyChar, note)
	}
	var got []float32
	for len(got) < 4*(1+2*100-8) {
		var f streams.Frame
		if err := g.Next(context.Background(), &f); err != nil {
			t.Fatal(err)
		}
		got = append(got, f.Samples...)
	}
	for s := range 1 + 2*58 {
		for c := range 4 {
			if e := math.Abs(float64(got[4*s+c])/GanglionVoltsPerCount() - float64(sig[s][c])); e > 1.01 {
				t.Fatalf("sample %d ch %d off by %.2f counts", s, c, e)
			}
		}
	}
	if st := g.LiveStats(); st.LostSamples != 2 {
		t.Fatalf("lost %d samples, want 2", st.LostSamples)
	}
	if g.Impedance()[1] != 512 {
		t.Fatalf("impedance %v", g.Impedance())
	}
	if _, err := NewGanglion(ble.NewSimulatedLink(), GanglionConfig{}); err == nil || !strings.Contains(err.Error(), "subscribe") {
		t.Fatalf("link without the characteristic: %v", err)
	}
}
