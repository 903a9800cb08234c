// Package metrics defines the Prometheus metrics every neurostream process exports and serves them on
// /metrics. Sources, stages, decoders and Kafka clients report into one Metrics value per process
// (its own registry: nothing is registered globally), which Prometheus scrapes.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds a process's collectors.
type Metrics struct {
	Registry *prometheus.Registry

	FramesIn    *prometheus.CounterVec // by stage
	SamplesIn   *prometheus.CounterVec // by stage, samples per channel
	FramesOut   *prometheus.CounterVec // by stage
	SamplesOut  *prometheus.CounterVec // by stage
	SeqGaps     *prometheus.CounterVec // frames missing, by topic
	SeqDups     *prometheus.CounterVec // duplicate or out-of-order frames, by topic
	SeqRestarts *prometheus.CounterVec // new epochs of a stream (its source restarted), by topic
	Rejected    *prometheus.CounterVec // frames/messages refused, by reason
	DecodeTime  *prometheus.HistogramVec
	Latency     *prometheus.HistogramVec // acquisition of a window's last frame to prediction publish
	KafkaErrors *prometheus.CounterVec   // by operation
	ConsumerLag *prometheus.GaugeVec     // messages behind, by topic
	Predictions *prometheus.CounterVec   // by decoder

	// Live devices, by stream: the host-clock estimate (acquisition/clock) and the link's losses.
	ClockOffset    *prometheus.GaugeVec   // host minus device clock, seconds
	ClockDrift     *prometheus.GaugeVec   // device clock rate error, ppm
	ClockJitter    *prometheus.GaugeVec   // RMS arrival-time noise removed, seconds
	DeviceLost     *prometheus.CounterVec // samples lost on the link (filled and marked)
	DeviceRejected *prometheus.CounterVec // packets with broken framing
	LateMarkers    *prometheus.CounterVec // marker events placed on the frame after theirs

	KafkaOutages       *prometheus.CounterVec // outages begun, by operation
	KafkaUnreachable   *prometheus.GaugeVec   // 1 while an operation is retrying, by operation
	KafkaOutageSeconds *prometheus.CounterVec // time spent in ended outages, by operation
	SpoolBytes         *prometheus.GaugeVec   // bytes waiting in a source's spool, by stream
	SpoolFrames        *prometheus.GaugeVec   // frames waiting in a source's spool, by stream
	SpoolDropped       *prometheus.CounterVec // frames dropped because the spool was full, by stream
}

// RejectReasons and KafkaOps are the label values the pipeline reports. New starts each at 0, so
// that dashboards and alerts read 0 rather than "no data" before the first rejection or error.
var (
	RejectReasons = []string{"stream-not-started", "invalid-frame", "channel-count", "stage-error", "not-a-frame", "undecodable"}
	KafkaOps      = []string{"publish-stream-info", "publish-frames", "publish-predictions", "publish-features", "publish-tokens",
		"fetch", "commit", "metrics-server"}
)

// New creates the collectors in a fresh registry, with Go runtime and process metrics.
func New() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{
		Registry:    r,
		FramesIn:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_frames_in_total", Help: "Frames received by a stage."}, []string{"stage"}),
		SamplesIn:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_samples_in_total", Help: "Samples (per channel) received by a stage."}, []string{"stage"}),
		FramesOut:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_frames_out_total", Help: "Frames passed on or published by a stage."}, []string{"stage"}),
		SamplesOut:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_samples_out_total", Help: "Samples (per channel) passed on by a stage."}, []string{"stage"}),
		SeqGaps:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_sequence_gap_frames_total", Help: "Frames missing from sequence-number gaps."}, []string{"topic"}),
		SeqDups:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_sequence_duplicates_total", Help: "Frames whose sequence number was already seen."}, []string{"topic"}),
		SeqRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_sequence_restarts_total", Help: "Streams whose source restarted: a new epoch and sequence began."}, []string{"topic"}),
		Rejected:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_rejected_total", Help: "Frames or messages refused (bad data, unknown stream, ...)."}, []string{"reason"}),
		DecodeTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "neurostream_decode_seconds", Help: "Time a decoder spends on one window.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 2, 22)}, []string{"decoder"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "neurostream_end_to_end_latency_seconds",
			Help:    "From acquisition of a window's last frame to publication of its prediction.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 18)}, []string{"decoder"}),
		KafkaErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_kafka_errors_total", Help: "Kafka errors by operation."}, []string{"op"}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "neurostream_consumer_lag_messages", Help: "Messages the consumer is behind the end of its partitions."}, []string{"topic"}),
		Predictions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_predictions_total", Help: "Predictions published."}, []string{"decoder"}),
		ClockOffset: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "neurostream_clock_offset_seconds",
			Help: "Estimated host-clock time minus the device's clock at its latest sample (for a serial device: when its clock started)."}, []string{"stream"}),
		ClockDrift: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "neurostream_clock_drift_ppm",
			Help: "Estimated rate error of the device's clock against the host's, parts per million (positive: device fast)."}, []string{"stream"}),
		ClockJitter: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "neurostream_clock_jitter_seconds",
			Help: "RMS of sample arrival times around the fitted clock line: the timing noise removed from timestamps."}, []string{"stream"}),
		DeviceLost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_device_lost_samples_total",
			Help: "Samples a device's counters say were lost on the link (filled with the last values and marked)."}, []string{"stream"}),
		DeviceRejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_device_rejected_packets_total",
			Help: "Device packets refused for broken framing (garbage, truncation)."}, []string{"stream"}),
		LateMarkers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_device_late_markers_total",
			Help: "Marker events (LSL marker streams) that arrived after the frame they belong on was sent, and went on the next frame's first sample."}, []string{"stream"}),
		KafkaOutages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_kafka_outages_total",
			Help: "Times an operation found the broker unreachable and started retrying."}, []string{"op"}),
		KafkaUnreachable: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "neurostream_kafka_unreachable",
			Help: "1 while an operation is retrying because the broker is unreachable."}, []string{"op"}),
		KafkaOutageSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_kafka_outage_seconds_total",
			Help: "Seconds spent retrying in outages that have ended."}, []string{"op"}),
		SpoolBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "neurostream_spool_bytes",
			Help: "Bytes of frames waiting in a source's local spool for the broker."}, []string{"stream"}),
		SpoolFrames: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "neurostream_spool_frames",
			Help: "Frames waiting in a source's local spool for the broker."}, []string{"stream"}),
		SpoolDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "neurostream_spool_dropped_frames_total",
			Help: "Frames dropped because the source's spool was full (a sequence gap downstream)."}, []string{"stream"}),
	}
	for _, c := range []prometheus.Collector{m.FramesIn, m.SamplesIn, m.FramesOut, m.SamplesOut, m.SeqGaps, m.SeqDups, m.SeqRestarts, m.Rejected,
		m.DecodeTime, m.Latency, m.KafkaErrors, m.ConsumerLag, m.Predictions,
		m.ClockOffset, m.ClockDrift, m.ClockJitter, m.DeviceLost, m.DeviceRejected, m.LateMarkers,
		m.KafkaOutages, m.KafkaUnreachable, m.KafkaOutageSeconds, m.SpoolBytes, m.SpoolFrames, m.SpoolDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	for _, r := range RejectReasons {
		m.Rejected.WithLabelValues(r)
	}
	for _, op := range KafkaOps {
		m.KafkaErrors.WithLabelValues(op)
	}
	return m
}

// Serve serves /metrics on addr until ctx ends. It returns once listening, with the bound address
// (useful with port 0).
func (m *Metrics) Serve(ctx context.Context, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics: listen on %s: %w (pick another with --metrics-addr, or \"\" to disable)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.KafkaErrors.WithLabelValues("metrics-server").Inc()
		}
	}()
	return ln.Addr().String(), nil
}
