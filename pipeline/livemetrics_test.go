package pipeline

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/clock"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

type liveStub struct{ st acquisition.LiveStats }

func (l *liveStub) Info() streams.StreamInfo                   { return streams.StreamInfo{} }
func (l *liveStub) Next(context.Context, *streams.Frame) error { return nil }
func (l *liveStub) LiveStats() acquisition.LiveStats           { return l.st }

// A live source's clock estimate and losses become per-stream metrics; counters follow the
// source's running totals.
func TestLiveSourceMetrics(t *testing.T) {
	m := metrics.New()
	src := &liveStub{st: acquisition.LiveStats{LostSamples: 12, RejectedPackets: 3,
		Clock: clock.Stats{OffsetSec: 1.79e9, DriftPPM: -41.5, JitterSec: 0.004, Samples: 500}}}
	l := newLiveMetrics(src, "cyton-1", m)
	l.update()
	src.st.LostSamples, src.st.RejectedPackets, src.st.LateMarkers = 20, 3, 2
	l.update()
	for name, want := range map[string]float64{
		"drift": -41.5, "jitter": 0.004, "offset": 1.79e9, "lost": 20, "rejected": 3, "late markers": 2} {
		var got float64
		switch name {
		case "drift":
			got = value(m.ClockDrift.WithLabelValues("cyton-1"))
		case "jitter":
			got = value(m.ClockJitter.WithLabelValues("cyton-1"))
		case "offset":
			got = value(m.ClockOffset.WithLabelValues("cyton-1"))
		case "lost":
			got = value(m.DeviceLost.WithLabelValues("cyton-1"))
		case "rejected":
			got = value(m.DeviceRejected.WithLabelValues("cyton-1"))
		case "late markers":
			got = value(m.LateMarkers.WithLabelValues("cyton-1"))
		}
		if got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	if newLiveMetrics(nopSource{}, "x", m) != nil {
		t.Fatal("a source without live stats got live metrics")
	}
}

type nopSource struct{}

func (nopSource) Info() streams.StreamInfo                   { return streams.StreamInfo{} }
func (nopSource) Next(context.Context, *streams.Frame) error { return nil }

func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}
