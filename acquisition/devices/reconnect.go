package devices

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
)

// ReconnectLabel starts the marker on the first frame after a device came back.
const ReconnectLabel = "neurostream: device reconnected"

// Reconnecting keeps a device streaming across link failures: when its Next fails (the device
// stopped answering, the port or radio link went away), it closes the device and reopens it every
// Retry until it answers again or ctx ends. The stream goes on: sequence numbers continue, the first
// frame after the outage carries a ReconnectLabel marker saying how long it lasted, and frame times
// (on the host clock) jump by the outage. Not safe for concurrent use.
type Reconnecting struct {
	open  func(ctx context.Context) (Source, error)
	src   Source
	info  streams.StreamInfo
	retry time.Duration
	log   *slog.Logger

	seq        uint64
	reconnects int64
	mark       string
	past       acquisition.LiveStats // totals of the sources before the current one
}

// NewReconnecting opens the device once (failing if it cannot) and returns the reconnecting source.
func NewReconnecting(ctx context.Context, open func(ctx context.Context) (Source, error), retry time.Duration, log *slog.Logger) (*Reconnecting, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if retry <= 0 {
		retry = 2 * time.Second
	}
	src, err := open(ctx)
	if err != nil {
		return nil, err
	}
	return &Reconnecting{open: open, src: src, info: src.Info(), retry: retry, log: log}, nil
}

// Info describes the stream (as the device first described it).
func (r *Reconnecting) Info() streams.StreamInfo { return r.info }

// Reconnects counts how often the device had to be reopened.
func (r *Reconnecting) Reconnects() int64 { return r.reconnects }

// Next fills f with the next frame, reconnecting as needed.
func (r *Reconnecting) Next(ctx context.Context, f *streams.Frame) error {
	for {
		err := r.src.Next(ctx, f)
		if err == nil {
			f.Seq = r.seq
			r.seq++
			if r.mark != "" {
				f.Markers = append(f.Markers, streams.Marker{Label: r.mark})
				r.mark = ""
			}
			return nil
		}
		if ctx.Err() != nil || errors.Is(err, io.EOF) {
			return err
		}
		down := time.Now()
		r.log.Error("device interrupted; reconnecting", "stream", r.info.StreamID, "err", err, "retry_every", r.retry)
		r.keepStats()
		r.src.Close()
		if err := r.reopen(ctx); err != nil {
			return err
		}
		r.reconnects++
		r.mark = fmt.Sprintf("%s after %.1f s", ReconnectLabel, time.Since(down).Seconds())
		r.log.Info("device reconnected", "stream", r.info.StreamID, "after", time.Since(down).Round(time.Millisecond))
	}
}

func (r *Reconnecting) reopen(ctx context.Context) error {
	t := time.NewTimer(r.retry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		src, err := r.open(ctx)
		if err == nil {
			if got := src.Info(); len(got.Channels) != len(r.info.Channels) || got.SampleRateHz != r.info.SampleRateHz {
				src.Close()
				return fmt.Errorf("device %s came back with %d channels at %g Hz, it streamed %d at %g Hz",
					r.info.StreamID, len(got.Channels), got.SampleRateHz, len(r.info.Channels), r.info.SampleRateHz)
			}
			r.src = src
			return nil
		}
		r.log.Warn("device not back yet", "stream", r.info.StreamID, "err", err)
		t.Reset(r.retry)
	}
}

func (r *Reconnecting) keepStats() {
	if ls, ok := r.src.(acquisition.LiveSource); ok {
		s := ls.LiveStats()
		r.past.Samples += s.Samples
		r.past.LostSamples += s.LostSamples
		r.past.RejectedPackets += s.RejectedPackets
		r.past.SkippedBytes += s.SkippedBytes
		r.past.LateMarkers += s.LateMarkers
	}
}

// LiveStats adds the current device's stats to those of the connections before.
func (r *Reconnecting) LiveStats() acquisition.LiveStats {
	s := r.past
	if ls, ok := r.src.(acquisition.LiveSource); ok {
		cur := ls.LiveStats()
		s.Samples += cur.Samples
		s.LostSamples += cur.LostSamples
		s.RejectedPackets += cur.RejectedPackets
		s.SkippedBytes += cur.SkippedBytes
		s.LateMarkers += cur.LateMarkers
		s.Clock = cur.Clock
	}
	return s
}

// Close closes the current device.
func (r *Reconnecting) Close() error { return r.src.Close() }
