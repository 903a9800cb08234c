package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

// Options tunes a Forwarder; zero fields take defaults.
type Options struct {
	// DirectTimeout bounds one direct publish before the frame goes to the spool (default 5 s): a
	// broker that hangs must not stall acquisition longer than that. A write that times out may
	// still have been stored, and is then published twice (consumers see a duplicate sequence
	// number), so this is not much shorter: under load a busy broker took over a second to answer.
	DirectTimeout time.Duration
	// SyncInterval is how often appended frames are fsynced (default 200 ms).
	SyncInterval time.Duration
	Metrics      *metrics.Metrics
	Log          *slog.Logger
}

// Forwarder publishes one source's frames: straight to the broker while it answers, through the
// spool while it does not (see the package doc). Publish is called by the source's one publishing
// goroutine, Run by another.
type Forwarder struct {
	spool    *Spool
	prod     *streams.Producer
	streamID string
	opts     Options
	log      *slog.Logger

	// spooling is true while the spool holds frames not yet published (or the stream's description
	// is not yet published): new frames go behind them. Set by Publish, cleared by Run once the
	// spool is empty, both under the spool's mutex so that no frame overtakes another.
	spooling bool
	wake     chan struct{}
	info     func(context.Context) error // publishes the stream description, once, before any frame
	buf, key []byte
	dropped  int64
	full     bool // the current episode of a full spool was logged

	// The direct publishes' timeout context, shared by the publishes of a few seconds (see direct):
	// one per frame was four allocations ~31 times a second per stream.
	dctx      context.Context
	dparent   context.Context
	dcancel   context.CancelFunc
	ddeadline time.Time
}

// NewForwarder returns a forwarder for streamID's frames. publishInfo, if set, publishes the
// stream's description; the forwarder calls it (retrying through outages) before the first frame,
// so that frames acquired while the broker is away at start-up wait in the spool.
func NewForwarder(s *Spool, p *streams.Producer, streamID string, publishInfo func(context.Context) error, opts Options) *Forwarder {
	if opts.DirectTimeout <= 0 {
		opts.DirectTimeout = 5 * time.Second
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = 200 * time.Millisecond
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	f := &Forwarder{spool: s, prod: p, streamID: streamID, opts: opts, log: log, wake: make(chan struct{}, 1), info: publishInfo}
	f.spooling = true // until the description is published and leftovers of an earlier run are forwarded
	if n, b := s.Pending(); n > 0 {
		log.Info("spool holds frames from an earlier run; publishing them first", "stream", streamID, "frames", n, "bytes", b, "dir", s.Dir())
	}
	f.report()
	return f
}

// Publish sends frames to topic, or appends them to the spool when the broker cannot take them now
// or earlier frames still wait there. It returns an error only for failures that waiting cannot fix
// (a non-transient broker error, a disk error); frames dropped because the spool is full are counted
// and logged, not returned.
func (f *Forwarder) Publish(ctx context.Context, topic string, frames ...*streams.Frame) error {
	if len(frames) == 0 {
		return nil
	}
	f.spool.mu.Lock()
	spooling := f.spooling
	f.spool.mu.Unlock()
	if !spooling {
		err := f.prod.TryPublishFrames(f.direct(ctx), topic, frames...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !streams.Transient(err) && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		f.prod.Outages().Down("publish", err)
	}
	// Holding the spool's mutex from here to the last append keeps Run from seeing an empty spool
	// and sending later frames straight to the broker ahead of these.
	f.spool.mu.Lock()
	defer f.spool.mu.Unlock()
	f.spooling = true
	for _, fr := range frames {
		f.buf = streams.AppendFrame(f.buf[:0], fr)
		f.key = append(f.key[:0], fr.StreamID...)
		err := f.spool.appendLocked(Record{Topic: topic, Key: f.key, Value: f.buf})
		switch {
		case err == nil:
			f.full = false
		case errors.Is(err, ErrFull):
			f.dropped++
			if f.opts.Metrics != nil {
				f.opts.Metrics.SpoolDropped.WithLabelValues(f.streamID).Inc()
			}
			if !f.full {
				f.full = true
				b := f.spool.bytes - f.spool.ackBytes
				f.log.Error("spool full: dropping new frames until the broker takes the spooled ones (consumers will see a sequence gap)",
					"stream", f.streamID, "bytes", b, "dir", f.spool.Dir(), "seq", fr.Seq)
			}
		default:
			return err
		}
	}
	f.reportLocked()
	select {
	case f.wake <- struct{}{}:
	default:
	}
	return nil
}

// direct returns a context that ends with ctx or at a deadline between 3/4 of DirectTimeout and
// DirectTimeout from now: a new one only once the last has less than 3/4 left, so that the direct
// path does not allocate a context and its timer per frame.
func (f *Forwarder) direct(ctx context.Context) context.Context {
	now := time.Now()
	if f.dctx == nil || f.dparent != ctx || f.ddeadline.Sub(now) < f.opts.DirectTimeout*3/4 {
		if f.dcancel != nil {
			f.dcancel()
		}
		f.dparent, f.ddeadline = ctx, now.Add(f.opts.DirectTimeout)
		f.dctx, f.dcancel = context.WithDeadline(ctx, f.ddeadline)
	}
	return f.dctx
}

// Dropped is how many frames were dropped because the spool was full.
func (f *Forwarder) Dropped() int64 { return f.dropped }

// Run forwards spooled frames until ctx ends; it returns ctx's error then, or the error of a publish
// that waiting cannot fix.
func (f *Forwarder) Run(ctx context.Context) error {
	tick := time.NewTicker(f.opts.SyncInterval)
	defer tick.Stop()
	out := f.prod.Outages()
	if f.info != nil {
		if err := out.Retry(ctx, "publish", f.info); err != nil {
			return err
		}
	}
	for {
		recs, next, err := f.spool.Peek(512, 1<<20)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			f.spool.mu.Lock()
			if f.spool.pending == 0 {
				f.spooling = false
			}
			f.spool.mu.Unlock()
			f.report()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-f.wake:
			case <-tick.C:
				if err := f.spool.Sync(); err != nil {
					return err
				}
			}
			continue
		}
		select {
		case <-tick.C:
			if err := f.spool.Sync(); err != nil {
				return err
			}
		default:
		}
		// Publish runs of records for one topic as one batch each.
		for i := 0; i < len(recs); {
			j := i + 1
			for j < len(recs) && recs[j].Topic == recs[i].Topic {
				j++
			}
			keys, vals := make([][]byte, 0, j-i), make([][]byte, 0, j-i)
			for _, r := range recs[i:j] {
				keys, vals = append(keys, r.Key), append(vals, r.Value)
			}
			err := out.Retry(ctx, "publish", func(ctx context.Context) error {
				return f.prod.TryPublishEncoded(ctx, recs[i].Topic, keys, vals)
			})
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("forward spooled frames of %s: %w", f.streamID, err)
			}
			i = j
		}
		if err := f.spool.Ack(next, len(recs)); err != nil {
			return err
		}
		f.report()
	}
}

// Drain waits until every spooled frame was published (Run must be running), or ctx ends.
func (f *Forwarder) Drain(ctx context.Context) error {
	for {
		f.spool.mu.Lock()
		done := !f.spooling
		f.spool.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (f *Forwarder) report() {
	f.spool.mu.Lock()
	defer f.spool.mu.Unlock()
	f.reportLocked()
}

func (f *Forwarder) reportLocked() {
	if f.opts.Metrics == nil {
		return
	}
	n, b := f.spool.pending, f.spool.bytes-f.spool.ackBytes
	f.opts.Metrics.SpoolFrames.WithLabelValues(f.streamID).Set(float64(n))
	f.opts.Metrics.SpoolBytes.WithLabelValues(f.streamID).Set(float64(b))
}
