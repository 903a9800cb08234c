package pipeline

import (
	"context"
	"math"
	"testing"

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
