package openbci

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/acquisition/serialport"
	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/streams"
)

func TestParsePacketRoundTrip(t *testing.T) {
	p := Packet{Counter: 255, Footer: 0xC3}
	vals := [8]int32{0, 1, -1, 1<<23 - 1, -(1 << 23), 12345, -54321, 0x7F00FF}
	p.Channels = vals
	copy(p.Aux[:], []byte{1, 2, 3, 4, 5, 6})
	b := AppendPacket(nil, &p)
	if len(b) != PacketSize || b[0] != 0xA0 || b[32] != 0xC3 {
		t.Fatalf("packet bytes % x", b)
	}
	// Channel 3 is -1: 0xFFFFFF big-endian.
	if !bytes.Equal(b[2+3*2:2+3*3], []byte{0xFF, 0xFF, 0xFF}) {
		t.Fatalf("channel 3 bytes % x", b[8:11])
	}
	got, ok := ParsePacket(b)
	if !ok || got != p {
		t.Fatalf("round trip: %+v, %v; want %+v", got, ok, p)
	}
	for _, bad := range []func([]byte){func(b []byte) { b[0] = 0xA1 }, func(b []byte) { b[32] = 0xC7 }, func(b []byte) { b[32] = 0xBF }} {
		c := append([]byte(nil), b...)
		bad(c)
		if _, ok := ParsePacket(c); ok {
			t.Fatalf("accepted % x", c)
		}
	}
	if _, ok := ParsePacket(b[:32]); ok {
		t.Fatal("accepted a short packet")
	}
}

func TestScaleAndAccel(t *testing.T) {
	// µV = raw × 4.5 / (2^23 − 1) / gain × 1e6: full scale at gain 24 is 187.5 mV.
	if v := VoltsPerCount(24) * float64(1<<23-1); math.Abs(v-0.1875) > 1e-12 {
		t.Fatalf("full scale at gain 24: %v V", v)
	}
	if got := Quantize(1e-3, 24); got != int32(math.Round(1e-3/VoltsPerCount(24))) {
		t.Fatalf("quantize 1 mV: %d", got)
	}
	if Quantize(1, 24) != 1<<23-1 || Quantize(-1, 24) != -(1<<23) {
		t.Fatal("quantize does not clip to 24 bits")
	}
	p := Packet{Footer: FooterAccel, Aux: [6]byte{0x1F, 0x40, 0xE0, 0xC0, 0, 0}} // 8000, -8000, 0
	xyz, ok := p.Accel()
	if !ok || xyz != [3]float64{1, -1, 0} {
		t.Fatalf("accel %v %v, want 1 g, -1 g, 0", xyz, ok)
	}
	p.Footer = 0xC1
	if _, ok := p.Accel(); ok {
		t.Fatal("accel read from a packet whose footer says the aux bytes are something else")
	}
	for _, g := range []int{1, 2, 4, 6, 8, 12, 24} {
		if CheckGain(g) != nil {
			t.Errorf("gain %d refused", g)
		}
	}
	if CheckGain(3) == nil {
		t.Error("gain 3 accepted")
	}
}

// The framer finds packets in any chunking of the stream, skips garbage, and resynchronises after
// broken packets, counting them.
func TestFramerResync(t *testing.T) {
	var stream []byte
	var want []uint8
	for i := range 40 {
		p := Packet{Counter: uint8(i), Footer: 0xC0}
		for c := range p.Channels {
			p.Channels[c] = int32(i*1000 + c)
		}
		switch i {
		case 5: // garbage holding header bytes before a good packet
			stream = append(stream, 0xA0, 1, 2, 0xA0, 0xC0, 9, 9)
		case 9: // broken footer
			b := AppendPacket(nil, &p)
			b[32] = 0
			stream = append(stream, b...)
			continue
		case 20: // truncated
			stream = append(stream, AppendPacket(nil, &p)[:30]...)
			continue
		}
		stream = AppendPacket(stream, &p)
		want = append(want, uint8(i))
	}
	for _, chunk := range []int{1, 7, 33, 1000} {
		var fr Framer
		var got []uint8
		for off := 0; off < len(stream); off += chunk {
			fr.Write(stream[off:min(off+chunk, len(stream))])
			for {
				p, ok := fr.Next()
				if !ok {
					break
				}
				if p.Channels[1] != int32(p.Counter)*1000+1 {
					t.Fatalf("chunk %d: packet %d carries %v", chunk, p.Counter, p.Channels)
				}
				got = append(got, p.Counter)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("chunk %d: packets %v\nwant %v", chunk, got, want)
		}
		if fr.Rejected() < 3 || fr.Skipped() < 7 {
			t.Fatalf("chunk %d: rejected %d, skipped %d bytes", chunk, fr.Rejected(), fr.Skipped())
		}
	}
}

// physionet reads n samples of the named channels of PhysioNet S001R01 (volts), skipping if absent.
func physionet(t *testing.T, names []string, n int) [][]float64 {
	t.Helper()
	path := shareddata.Path(t, "physionet_eegmmidb_S001/S001R01.edf")
	f, err := edf.ReadFile(path, edf.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := f.Recording
	out := make([][]float64, len(names))
	for i, name := range names {
		c := -1
		for k, ch := range rec.Info.Channels {
			if strings.EqualFold(strings.TrimRight(ch.Name, "."), name) {
				c = k
			}
		}
		if c < 0 {
			t.Fatalf("%s: no channel %s", path, name)
		}
		out[i] = rec.Data[c][:n]
	}
	return out
}

// streamBoard runs sim on a pseudo-terminal, opens it as cfg says and reads frames until n samples.
func streamBoard(t *testing.T, sim *Simulator, cfg CytonConfig, n int) ([]streams.Frame, *Cyton) {
	t.Helper()
	ctl, pts, err := serialport.OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- sim.Serve(ctx, ctl) }()
	t.Cleanup(func() {
		cancel()
		ctl.Close()
		if err := <-done; err != nil {
			t.Errorf("simulator: %v", err)
		}
	})
	cfg.Port = pts
	cfg.Timeout = 30 * time.Second // generous: the machine may be loaded
	board, err := OpenCyton(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { board.Close() })
	var frames []streams.Frame
	got := 0
	for got < n {
		var f streams.Frame
		if err := board.Next(ctx, &f); err != nil {
			t.Fatalf("after %d samples: %v", got, err)
		}
		if err := f.Validate(); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
		got += f.NumSamples
	}
	return frames, board
}

// checkReplay compares frames with the simulated data: every sample that arrived equals the data
// within half a count; every lost one holds the previous sample's values and sits under a gap
// marker; the lost count is exactly the injected one.
func checkReplay(t *testing.T, frames []streams.Frame, data [][]float64, lostSample map[int]bool, gain int, board *Cyton) {
	t.Helper()
	half := VoltsPerCount(gain) / 2 * 1.0001
	nch := len(data)
	var all []float32
	marked := map[int]bool{}
	for i, f := range frames {
		if f.Seq != uint64(i) {
			t.Fatalf("frame %d has seq %d", i, f.Seq)
		}
		base := len(all) / f.NumChannels
		for _, m := range f.Markers {
			var k int
			if _, err := fmt.Sscanf(m.Label, acquisition.GapLabelFormat, &k); err != nil {
				t.Fatalf("unexpected marker %+v", m)
			}
			for j := range k {
				marked[base+int(m.SampleOffset)+j] = true
			}
		}
		all = append(all, f.Samples...)
	}
	n := len(all) / frames[0].NumChannels
	var maxErr float64
	for s := range n {
		for c := range nch {
			got := float64(all[s*frames[0].NumChannels+c])
			if lostSample[s] {
				if !marked[s] {
					t.Fatalf("lost sample %d not marked", s)
				}
				continue
			}
			if marked[s] {
				t.Fatalf("sample %d marked lost but was sent", s)
			}
			if e := math.Abs(got - data[c][s]); e > half {
				t.Fatalf("sample %d channel %d: %g V, sent %g V (off by %.3g counts)", s, c, got, data[c][s], e/VoltsPerCount(gain))
			} else {
				maxErr = max(maxErr, e)
			}
		}
	}
	wantLost := 0
	for s := range lostSample {
		if s < n {
			wantLost++
		}
	}
	st := board.LiveStats()
	t.Logf("%d samples x %d channels: max |error| %.3g V (half a count %.3g V); lost %d (injected %d); rejected %d, skipped %d bytes; clock drift %.1f ppm jitter %.2f ms",
		n, nch, maxErr, half, st.LostSamples, wantLost, st.RejectedPackets, st.SkippedBytes, st.Clock.DriftPPM, st.Clock.JitterSec*1e3)
	if int(st.LostSamples) != wantLost {
		t.Fatalf("counted %d lost samples, injected %d", st.LostSamples, wantLost)
	}
}

// faults to inject: drops (one, several in a row, and across the counter's wrap at 256, and a run
// longer than a wrap would be ambiguous is avoided), garbage, damaged framing.
func testFaults() []Fault {
	f := []Fault{
		{Packet: 40, Kind: FaultDrop},
		{Packet: 100, Kind: FaultGarbage, Bytes: 50},
		{Packet: 130, Kind: FaultBadFooter},
		{Packet: 200, Kind: FaultBadHeader},
		{Packet: 300, Kind: FaultTruncate, Bytes: 30},
		{Packet: 420, Kind: FaultTruncate, Bytes: 27},
		{Packet: 700, Kind: FaultGarbage, Bytes: 3},
	}
	for p := 250; p < 262; p++ { // 12 in a row across the counter's wrap (255 -> 0)
		f = append(f, Fault{Packet: p, Kind: FaultDrop})
	}
	for p := 500; p < 700; p++ { // 200 in a row: most of a wrap
		f = append(f, Fault{Packet: p, Kind: FaultDrop})
	}
	return f
}

// A real PhysioNet recording replayed by a simulated Cyton on a pseudo-terminal arrives sample for
// sample within the 24-bit quantisation, and every injected loss is counted.
func TestCytonReplaysPhysioNet(t *testing.T) {
	const n = 1600
	data := physionet(t, CytonChannels, n)
	faults := testFaults()
	sim := &Simulator{Data: data, Faults: faults, Accel: [3]int16{0, 0, 8000}}
	lost := map[int]bool{}
	for _, f := range faults {
		if f.Loses() {
			lost[f.Packet] = true
		}
	}
	frames, board := streamBoard(t, sim, CytonConfig{Accel: true}, n-16)
	checkReplay(t, frames, data, lost, 24, board)
	if info := board.Info(); len(info.Channels) != 11 || info.SampleRateHz != 250 || info.Channels[0].Name != "Fp1" || !info.Channels[0].HasPosition {
		t.Fatalf("stream info %+v", info)
	}
	// The accelerometer's Z axis: 8000 counts = 1 g.
	last := frames[len(frames)-1]
	if z := last.Samples[(last.NumSamples-1)*11+10]; math.Abs(float64(z)-StandardGravity) > 1e-4 {
		t.Fatalf("accel Z %v m/s², want %v", z, StandardGravity)
	}
}

// Cyton + Daisy: 16 channels at 125 Hz from even/odd packet pairs; losing either half of a pair
// loses that sample (its arrived half is kept), losing both loses it once.
func TestCytonDaisyReplaysPhysioNet(t *testing.T) {
	const n = 800
	names := append(append([]string(nil), CytonChannels...), DaisyChannels...)
	data := physionet(t, names, n)
	faults := testFaults()
	sim := &Simulator{Data: data, Daisy: true, Faults: faults}
	lost := map[int]bool{}
	for _, f := range faults {
		if f.Loses() {
			lost[f.Packet/2] = true
		}
	}
	frames, board := streamBoard(t, sim, CytonConfig{Daisy: true}, n-16)
	// A sample that lost only one half keeps the other: check those halves too.
	checkReplay(t, frames, data, lost, 24, board)
	if info := board.Info(); len(info.Channels) != 16 || info.SampleRateHz != 125 || info.Channels[15].Name != "P4" {
		t.Fatalf("stream info %+v", info)
	}
}

func TestCytonGainAndBannerChecks(t *testing.T) {
	data := make([][]float64, 8)
	for c := range data {
		data[c] = make([]float64, 64)
		for s := range data[c] {
			data[c][s] = 1e-3 * math.Sin(float64(s+c))
		}
	}
	// Gain 8: the board (at 24 after its reset) is sent channel settings, and counts are scaled at 8.
	frames, board := streamBoard(t, &Simulator{Data: data}, CytonConfig{Gain: 8}, 48)
	checkReplay(t, frames, data, nil, 8, board)

	// A Daisy board opened as a plain Cyton is refused with a message that says so.
	ctl, pts, err := serialport.OpenPTY()
	if err != nil {
		t.Skip(err)
	}
	defer ctl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d16 := append(append([][]float64(nil), data...), data...)
	go (&Simulator{Data: d16, Daisy: true}).Serve(ctx, ctl)
	_, err = OpenCyton(ctx, CytonConfig{Port: pts, Timeout: 30 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "Daisy") {
		t.Fatalf("Daisy board opened without --daisy: %v", err)
	}
}

// A board that never answers the reset, and one that stops streaming, give errors that say so.
func TestCytonSilentBoard(t *testing.T) {
	ctl, pts, err := serialport.OpenPTY()
	if err != nil {
		t.Skip(err)
	}
	defer ctl.Close()
	ctx := context.Background()
	_, err = OpenCyton(ctx, CytonConfig{Port: pts, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("silent board: %v", err)
	}
	board, err := OpenCyton(ctx, CytonConfig{Port: pts, Timeout: 300 * time.Millisecond, SkipReset: true})
	if err != nil {
		t.Fatal(err)
	}
	defer board.Close()
	var f streams.Frame
	if err := board.Next(ctx, &f); err == nil || !strings.Contains(err.Error(), "stopped answering") {
		t.Fatalf("silent stream: %v", err)
	}
	if _, err := OpenCyton(ctx, CytonConfig{}); err == nil || !strings.Contains(err.Error(), "--port") {
		t.Fatalf("no port: %v", err)
	}
}
