package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/neurostream/neurostream/decoders"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

type memSink struct {
	frames []uint64
	infos  int
}

func (m *memSink) EmitPrediction(context.Context, *streams.Prediction) error  { return nil }
func (m *memSink) EmitFeatures(context.Context, *streams.FeatureVector) error { return nil }
func (m *memSink) WriteStreamInfo(context.Context, *streams.StreamInfo) error { m.infos++; return nil }
func (m *memSink) WriteFrame(_ context.Context, f *streams.Frame) error {
	m.frames = append(m.frames, f.Seq)
	return nil
}

// Bad frames are rejected and counted; the frames around them still go through.
func TestProcessorRejectsBadFramesAndGoesOn(t *testing.T) {
	info := streams.StreamInfo{StreamID: "s", SampleRateHz: 250, Channels: []streams.Channel{{Name: "a"}, {Name: "b"}}}
	sink := &memSink{}
	m := metrics.New()
	p, err := NewProcessor(ProcessorConfig{Name: "t", Sink: sink, Metrics: m,
		Stages: []StageFactory{{Name: "bp", New: func() (Stage, error) { return NewBandpass(4, 1, 40), nil }}},
		Lookup: func(context.Context, string) (streams.StreamInfo, error) { return info, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good := func(seq uint64) *streams.Frame {
		return &streams.Frame{StreamID: "s", Seq: seq, NumSamples: 2, NumChannels: 2, Samples: []float32{1, 2, 3, 4}}
	}
	nan := good(1)
	nan.Samples[3] = float32(math.NaN())
	wrong := &streams.Frame{StreamID: "s", Seq: 2, NumSamples: 1, NumChannels: 3, Samples: []float32{1, 2, 3}}
	for i, f := range []*streams.Frame{good(0), nan, wrong, good(3)} {
		err := p.Process(ctx, f)
		if (i == 1 || i == 2) != (err != nil) {
			t.Fatalf("frame %d: err %v", i, err)
		}
	}
	if len(sink.frames) != 2 || sink.frames[0] != 0 || sink.frames[1] != 3 || sink.infos != 1 {
		t.Fatalf("sink got frames %v, %d infos", sink.frames, sink.infos)
	}
	if v := counter(t, m, "invalid-frame") + counter(t, m, "channel-count"); v != 2 {
		t.Fatalf("rejections counted: %v, want 2", v)
	}
	// A stream whose stages cannot start (no such stream info) is refused, not a crash.
	p2, _ := NewProcessor(ProcessorConfig{Name: "t2", Sink: sink, Metrics: m,
		Lookup: func(context.Context, string) (streams.StreamInfo, error) {
			return streams.StreamInfo{}, context.DeadlineExceeded
		}})
	if err := p2.Process(ctx, good(0)); err == nil {
		t.Fatal("frame of an unknown stream accepted")
	}
}

func counter(t *testing.T, m *metrics.Metrics, reason string) float64 {
	t.Helper()
	mf, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mf {
		if f.GetName() != "neurostream_rejected_total" {
			continue
		}
		for _, x := range f.Metric {
			for _, l := range x.Label {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return x.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// closingDecoder counts Close calls, as an ONNX session would need them.
type closingDecoder struct {
	closed *int
	bindOK bool
}

func (d *closingDecoder) Name() string       { return "closing" }
func (d *closingDecoder) WindowSamples() int { return 4 }
func (d *closingDecoder) Bind(in streams.StreamInfo) ([]int, error) {
	if !d.bindOK {
		return nil, fmt.Errorf("channels do not match")
	}
	return []int{0}, nil
}
func (d *closingDecoder) Decode([][]float64, *streams.Prediction) error { return nil }
func (d *closingDecoder) Close() error                                  { *d.closed++; return nil }

// Decoders are closed: the probe load at build time, each stream's at Processor.Close, and those of
// a chain that failed to start right away.
func TestDecodersAreClosed(t *testing.T) {
	closed, loads := 0, 0
	bindOK := true
	loaders := Loaders{"c": func(StageConfig) (decoders.WindowDecoder, error) {
		loads++
		return &closingDecoder{closed: &closed, bindOK: bindOK}, nil
	}}
	stages, err := BuildStages([]StageConfig{{Kind: "decoder", Decoder: "c"}}, loaders, nil)
	if err != nil {
		t.Fatal(err)
	}
	if loads != 1 || closed != 1 {
		t.Fatalf("after build: %d loads, %d closed; want the probe loaded and closed", loads, closed)
	}
	info := streams.StreamInfo{SampleRateHz: 250, Channels: []streams.Channel{{Name: "a"}}}
	p, err := NewProcessor(ProcessorConfig{Name: "t", Sink: &memSink{}, Stages: stages,
		Lookup: func(_ context.Context, id string) (streams.StreamInfo, error) { info.StreamID = id; return info, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, id := range []string{"s1", "s2"} {
		if err := p.Process(ctx, &streams.Frame{StreamID: id, NumSamples: 1, NumChannels: 1, Samples: []float32{1}}); err != nil {
			t.Fatal(err)
		}
	}
	bindOK = false
	if err := p.Process(ctx, &streams.Frame{StreamID: "bad", NumSamples: 1, NumChannels: 1, Samples: []float32{1}}); err == nil {
		t.Fatal("a stream whose decoder cannot bind was accepted")
	}
	if loads != 4 || closed != 2 {
		t.Fatalf("before Close: %d loads, %d closed; want 4 and 2 (probe + failed chain)", loads, closed)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if closed != 4 {
		t.Fatalf("after Close: %d of 4 decoders closed", closed)
	}
}

// A backlog read faster than its stream's description arrives is held up to the bound, then the
// consumer waits for the description instead of dropping frames it has taken: every frame gets through,
// in order.
func TestHeldFramesBeyondTheBoundWait(t *testing.T) {
	info := streams.StreamInfo{StreamID: "s", SampleRateHz: 250, Channels: []streams.Channel{{Name: "a"}, {Name: "b"}}}
	sink := &memSink{}
	m := metrics.New()
	release := make(chan struct{})
	p, err := NewProcessor(ProcessorConfig{Name: "t", Sink: sink, Metrics: m,
		Stages: []StageFactory{{Name: "bp", New: func() (Stage, error) { return NewBandpass(4, 1, 40), nil }}},
		Known:  func(string) (streams.StreamInfo, bool) { return streams.StreamInfo{}, false },
		Lookup: func(ctx context.Context, _ string) (streams.StreamInfo, error) {
			select {
			case <-release:
				return info, nil
			case <-ctx.Done():
				return streams.StreamInfo{}, ctx.Err()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	const n = maxPendingFrames + 100
	done := make(chan error, 1)
	go func() {
		for seq := range uint64(n) {
			f := &streams.Frame{StreamID: "s", Seq: seq, NumSamples: 2, NumChannels: 2, Samples: []float32{1, 2, 3, 4}}
			if err := p.Process(context.Background(), f); err != nil && !errors.Is(err, ErrHeld) {
				done <- fmt.Errorf("frame %d: %w", seq, err)
				return
			}
		}
		done <- nil
	}()
	for { // until the hold is full and the consumer waits
		p.mu.Lock()
		c := p.chains["s"]
		p.mu.Unlock()
		if c != nil {
			c.mu.Lock()
			full := len(c.pending) == maxPendingFrames
			c.mu.Unlock()
			if full {
				break
			}
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(sink.frames) != n {
		t.Fatalf("%d frames reached the sink, want %d", len(sink.frames), n)
	}
	for i, seq := range sink.frames {
		if seq != uint64(i) {
			t.Fatalf("frame %d has seq %d", i, seq)
		}
	}
	if v := counter(t, m, "no-stream-info"); v != 0 {
		t.Fatalf("%v frames rejected", v)
	}
}

// A snapshot is restored only into stages configured as those that wrote it; a truncated or foreign
// one is refused (the stream then starts cold), never half applied.
func TestStateSnapshotChecks(t *testing.T) {
	info := streams.StreamInfo{StreamID: "s", SampleRateHz: 250, Channels: []streams.Channel{{Name: "a"}, {Name: "b"}}}
	bp := NewBandpass(4, 1, 40)
	if _, err := bp.Start(info); err != nil {
		t.Fatal(err)
	}
	c := &chain{stages: []Stage{bp}, names: []string{"0-bandpass"}}
	c.seq.Check(7, 41)
	b := c.encodeState(nil, "fp")
	d, err := decodeState(b, "fp", c.names)
	if err != nil || d.epoch != 7 || d.seq != 41 || len(d.stages) != 1 {
		t.Fatalf("decode: %+v, %v", d, err)
	}
	if err := NewBandpass(4, 1, 40).RestoreState(d.stages[0]); err == nil {
		t.Fatal("state restored into a stage that was not started for the stream")
	}
	if _, err := decodeState(b, "other", c.names); err == nil {
		t.Fatal("a snapshot of another configuration was accepted")
	}
	if _, err := decodeState(b, "fp", []string{"0-notch"}); err == nil {
		t.Fatal("a snapshot of other stages was accepted")
	}
	for cut := range len(b) {
		d, err := decodeState(b[:cut], "fp", c.names)
		if err != nil {
			continue
		}
		fresh := NewBandpass(4, 1, 40)
		if _, err := fresh.Start(info); err != nil {
			t.Fatal(err)
		}
		if fresh.RestoreState(d.stages[0]) == nil {
			t.Fatalf("a snapshot cut to %d of %d bytes was restored", cut, len(b))
		}
	}
}
