package muse

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/ble"
	"github.com/neurostream/neurostream/streams"
)

// A simulated headband on a simulated link: the driver sends Interaxon's start commands, and the
// frames carry every sample in volts, lost notifications filled, marked and counted.
func TestSourceOnSimulatedLink(t *testing.T) {
	link := ble.NewSimulatedLink(append([]string{ControlChar}, EEGChars...)...)
	src, err := New(link, Config{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if w := strings.Join(link.Written(), ""); w != "\x02h\n\x04p21\n\x02s\n\x02d\n" {
		t.Fatalf("commands %q", w)
	}
	const seqs = 60
	val := func(k, c, s int) uint16 { return uint16(0x800 + (k*12+s)%200 - 100 + c*7) }
	lost := map[int]bool{7: true, 8: true}
	for k := range seqs {
		if lost[k] {
			continue
		}
		for c, ch := range EEGChars {
			var p Packet
			p.Seq = uint16(65530 + k) // wraps
			for s := range p.Samples {
				p.Samples[s] = val(k, c, s)
			}
			link.Notify(ch, AppendPacket(nil, &p))
		}
	}
	ctx := context.Background()
	var frames []streams.Frame
	for range seqs - len(lost) - window {
		var f streams.Frame
		if err := src.Next(ctx, &f); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
	}
	s := 0
	marked := 0
	for _, f := range frames {
		for _, m := range f.Markers {
			var n int
			fmt.Sscanf(m.Label, acquisition.GapLabelFormat, &n)
			marked += n
		}
		for i := range f.NumSamples {
			k, sm := s/12, s%12
			for c := range 4 {
				want := float32(Volts(val(k, c, sm)))
				if lost[k] {
					want = float32(Volts(val(6, c, 11)))
				}
				if got := f.Samples[i*4+c]; got != want {
					t.Fatalf("sample %d (seq %d) ch %d: %g, want %g", s, k, c, got, want)
				}
			}
			s++
		}
	}
	if st := src.LiveStats(); st.LostSamples != 24 || marked != 24 {
		t.Fatalf("lost %d, marked %d; want 24", st.LostSamples, marked)
	}
	if info := src.Info(); info.Channels[1].Name != "AF7" || !info.Channels[3].HasPosition || info.SampleRateHz != 256 {
		t.Fatalf("info %+v", info)
	}
	// Silence: an error that says the headband stopped.
	quiet, _ := New(ble.NewSimulatedLink(append([]string{ControlChar}, EEGChars...)...), Config{Timeout: 50 * time.Millisecond})
	var f streams.Frame
	if err := quiet.Next(ctx, &f); err == nil || !strings.Contains(err.Error(), "stopped answering") {
		t.Fatalf("silent headband: %v", err)
	}
}
