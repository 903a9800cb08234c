package lsl

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
)

// TestSourceFramesAndMarkers: an LSL EEG stream in microvolts and a marker stream become frames in
// volts with positions in metres, host-clock times and the markers on the right samples; the frame
// outlet and prediction outlet carry them back out.
func TestSourceFramesAndMarkers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := "frames-" + newUID()
	eeg := StreamInfo{Name: "amp", Type: "EEG", ChannelCount: 2, NominalRateHz: 100, Format: Float32, SourceID: src}
	eeg.SetChannels([]Channel{{Label: "C3", Unit: "microvolts", Location: [3]float64{-50, 0, 60}, HasLocation: true}, {Label: "STATUS", Type: "stim", Unit: "code"}})
	data := newTestOutlet(t, eeg)
	mk := newTestOutlet(t, StreamInfo{Name: "task", Type: "Markers", ChannelCount: 1, Format: String, SourceID: src + "-m"})

	infos, err := Resolve(ctx, "source_id='"+src+"' or source_id='"+src+"-m'", ResolveOptions{Wait: 3 * time.Second, Minimum: 2})
	if err != nil || len(infos) != 2 {
		t.Fatalf("resolved %d streams: %v", len(infos), err)
	}
	var dataInfo, markerInfo StreamInfo
	for _, i := range infos {
		if i.Name == "amp" {
			dataInfo = i
		} else {
			markerInfo = i
		}
	}
	s, err := NewSource(ctx, dataInfo, SourceOptions{FrameSamples: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	markers, err := NewMarkers(ctx, []StreamInfo{markerInfo}, []*Source{s}, InletOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer markers.Close()
	info := s.Info()
	if info.StreamID != "lsl-amp-"+src || info.Channels[0].Unit != "V" || info.Channels[0].Type != streams.ChannelEEG || info.Channels[1].Type != streams.ChannelStim ||
		info.Channels[1].Unit != "code" || !info.Channels[0].HasPosition || info.Channels[0].Position != [3]float64{-0.05, 0, 0.06} {
		t.Fatalf("stream info %+v", info)
	}
	if err := data.WaitForConsumers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := mk.WaitForConsumers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	t0 := Clock()
	if err := mk.PushStrings([]string{"17"}, t0+0.035); err != nil {
		t.Fatal(err)
	}
	for markers.Count() < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	samples := make([]float32, 20*2)
	for i := range 20 {
		samples[2*i], samples[2*i+1] = float32(i), 3
	}
	if err := data.PushFloat32(samples, t0); err != nil {
		t.Fatal(err)
	}
	var f streams.Frame
	if err := s.Next(ctx, &f); err != nil {
		t.Fatal(err)
	}
	if f.NumSamples != 10 || f.Samples[2*4] != 4e-6 || f.Samples[2*4+1] != 3 {
		t.Fatalf("frame %+v", f)
	}
	want := (t0 + s.TimeCorrection() + s.wallOffset) * 1e9
	if math.Abs(float64(f.SourceTimeNs)-want) > 1e3 {
		t.Fatalf("SourceTimeNs %d, want %.0f", f.SourceTimeNs, want)
	}
	if st := s.LiveStats(); st.Samples < 10 || st.Samples > 20 || st.LostSamples != 0 || st.Clock.OffsetSec != s.TimeCorrection() || st.Clock.Samples == 0 {
		t.Fatalf("live stats %+v", st)
	}
	if len(f.Markers) != 1 || f.Markers[0].Code != 17 || f.Markers[0].SampleOffset != 4 && f.Markers[0].SampleOffset != 3 {
		t.Fatalf("markers %+v", f.Markers)
	}

	// Five samples never sent: counted, and the frame after the gap says so.
	if err := data.PushFloat32(samples[:20], t0+0.25); err != nil {
		t.Fatal(err)
	}
	var f2 streams.Frame
	for range 2 {
		if err := s.Next(ctx, &f2); err != nil {
			t.Fatal(err)
		}
	}
	if s.LostSamples() != 5 || len(f2.Markers) != 1 || f2.Markers[0].Label != "neurostream gap: 5 samples lost" {
		t.Fatalf("lost %d, markers %+v", s.LostSamples(), f2.Markers)
	}

	// Out again: a frame outlet read by our inlet gives microvolts back; predictions arrive as JSON.
	fo, err := NewFrameOutlet(&info, "neurostream-clean", OutletOptions{NoDiscoveryPort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	po, err := NewPredictionOutlet("neurostream-predictions", OutletOptions{NoDiscoveryPort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer po.Close()
	in, err := OpenInlet(ctx, fo.Outlet().Info(), InletOptions{NoRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	pin, err := OpenInlet(ctx, po.Outlet().Info(), InletOptions{NoRecover: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pin.Close()
	full := in.Info()
	if chs := full.Channels(); chs[0].Unit != "microvolts" || chs[0].Location != [3]float64{-50, 0, 60} || chs[1].Unit != "code" {
		t.Fatalf("re-published channels %+v", chs)
	}
	_ = fo.Outlet().WaitForConsumers(ctx, 1)
	_ = po.Outlet().WaitForConsumers(ctx, 1)
	f.AcquiredAtNs = time.Now().UnixNano()
	if err := fo.PushFrame(&f); err != nil {
		t.Fatal(err)
	}
	if err := po.Push(&streams.Prediction{StreamID: info.StreamID, Decoder: "alpha", Label: "eyes-closed", AcquiredAtNs: f.AcquiredAtNs}); err != nil {
		t.Fatal(err)
	}
	var c Chunk
	got := 0
	for got < 10 {
		if err := in.Pull(ctx, &c, 0); err != nil {
			t.Fatal(err)
		}
		for i := range c.N {
			if v := c.Values[2*i]; math.Abs(v-float64(got+i)) > 1e-4 {
				t.Fatalf("re-published sample %d: %v µV", got+i, v)
			}
		}
		got += c.N
	}
	if err := pin.Pull(ctx, &c, 0); err != nil {
		t.Fatal(err)
	}
	var p streams.Prediction
	if err := json.Unmarshal([]byte(c.Strings[0]), &p); err != nil || p.Label != "eyes-closed" {
		t.Fatalf("prediction marker %q: %v", c.Strings[0], err)
	}
}

// TestMarkerSentWithItsSamples: a marker stream is a connection of its own, so an event pushed right
// after the samples it marks reaches us after them. The source holds each frame MarkerWait after its
// last sample arrived, and the event lands on its sample; without the hold it lands on the next
// frame's first sample and is counted late.
func TestMarkerSentWithItsSamples(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	open := func(wait time.Duration) (*Outlet, *Outlet, *Source, *Markers) {
		uid := newUID()
		data := newTestOutlet(t, StreamInfo{Name: "amp", Type: "EEG", ChannelCount: 1, NominalRateHz: 100, Format: Float32, SourceID: "held-" + uid})
		mk := newTestOutlet(t, StreamInfo{Name: "task", Type: "Markers", ChannelCount: 1, Format: String, SourceID: "held-" + uid + "-m"})
		s, err := NewSource(ctx, resolveOne(t, ctx, "source_id='held-"+uid+"'"), SourceOptions{FrameSamples: 10, MarkerWait: wait})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		m, err := NewMarkers(ctx, []StreamInfo{resolveOne(t, ctx, "source_id='held-"+uid+"-m'")}, []*Source{s}, InletOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		for _, o := range []*Outlet{data, mk} {
			if err := o.WaitForConsumers(ctx, 1); err != nil {
				t.Fatal(err)
			}
		}
		return data, mk, s, m
	}
	ten := make([]float32, 10)

	// Held 2 s: long enough for a slow machine to deliver the event in time.
	data, mk, s, _ := open(2 * time.Second)
	t0 := Clock()
	if err := data.PushFloat32(ten, t0); err != nil {
		t.Fatal(err)
	}
	// The event reaches us 0.2 s after the samples it marks.
	pushed := make(chan error, 1)
	time.AfterFunc(200*time.Millisecond, func() { pushed <- mk.PushStrings([]string{"7"}, t0+0.05) })
	var f streams.Frame
	if err := s.Next(ctx, &f); err != nil {
		t.Fatal(err)
	}
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}
	if len(f.Markers) != 1 || f.Markers[0].Code != 7 || f.Markers[0].SampleOffset != 5 || s.LateMarkers() != 0 {
		t.Fatalf("held frame: markers %+v, %d late", f.Markers, s.LateMarkers())
	}

	// Not held: the frame goes before the event is read; the event goes on the next frame.
	data, mk, s, m := open(-1)
	t0 = Clock()
	if err := data.PushFloat32(ten, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.Next(ctx, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Markers) != 0 {
		t.Fatalf("first frame: markers %+v before the event was sent", f.Markers)
	}
	if err := mk.PushStrings([]string{"8"}, t0+0.05); err != nil {
		t.Fatal(err)
	}
	for m.Count() < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := data.PushFloat32(ten, t0+0.1); err != nil {
		t.Fatal(err)
	}
	if err := s.Next(ctx, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Markers) != 1 || f.Markers[0].Code != 8 || f.Markers[0].SampleOffset != 0 || s.LateMarkers() != 1 {
		t.Fatalf("next frame: markers %+v, %d late", f.Markers, s.LateMarkers())
	}
}
