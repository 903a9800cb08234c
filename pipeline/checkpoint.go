package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/neurostream/neurostream/streams"
)

// errStateUnavailable marks a frame that could not be processed because the state topic could not
// be read: processing it from a cold state would publish wrong values, so the consumer stops.
var errStateUnavailable = errors.New("stage state unavailable")

// errNotSnapshotted stops a checkpoint whose offsets must not be committed.
var errNotSnapshotted = errors.New("stage state not snapshotted")

// resume brings the chain to the newest snapshot of its stream when the chain is new or f does not
// simply continue it (another member may have taken the stream further); the sequence check that
// follows then drops the frames the restored state already covers (c.mu held).
func (p *Processor) resume(ctx context.Context, c *chain, f *streams.Frame) error {
	epoch, last, started := c.seq.Last()
	if started && f.Epoch == epoch && f.Seq <= last+1 {
		return nil // the next frame, or one already taken
	}
	b, ok, err := p.state.Get(ctx, p.stateKey+"/"+f.StreamID)
	if err != nil {
		return fmt.Errorf("%w: stream %s: %w", errStateUnavailable, f.StreamID, err)
	}
	if !ok {
		return nil
	}
	d, err := decodeState(b, p.fingerprint, c.names)
	if err != nil {
		if !c.coldWarned {
			p.log.Warn("stage state not restored, starting cold", "processor", p.name, "stream", f.StreamID, "err", err)
			c.coldWarned = true
		}
		return nil
	}
	if started && !d.after(epoch, last) {
		return nil // nobody went further: a gap or a restart in the input itself
	}
	for i, st := range c.stages {
		if len(d.stages[i]) == 0 {
			continue
		}
		s, ok := st.(StatefulStage)
		if !ok {
			err = fmt.Errorf("stage %s keeps no state but the snapshot has some", c.names[i])
		} else if err = s.RestoreState(d.stages[i]); err != nil {
			err = fmt.Errorf("stage %s: %w", c.names[i], err)
		}
		if err != nil {
			break
		}
	}
	if err != nil {
		// Some stages may hold restored state and others not: start them all afresh.
		p.log.Error("stage state not restored, starting cold", "processor", p.name, "stream", f.StreamID, "err", err)
		info := c.inInfo
		_ = c.close(p.log)
		c.stages, c.names, c.counts = nil, nil, nil
		c.seq, c.saved, c.tainted = streams.SeqTracker{}, false, false
		if err := p.start(ctx, c, f.StreamID, info); err != nil {
			p.fail(c, f.StreamID, "stream-not-started", err)
			return err
		}
		return nil
	}
	if started {
		p.log.Info("stage state taken over from the newest snapshot", "processor", p.name, "stream", f.StreamID,
			"from_epoch", epoch, "from_seq", last, "to_epoch", d.epoch, "to_seq", d.seq)
	} else {
		p.log.Info("stage state restored", "processor", p.name, "stream", f.StreamID, "epoch", d.epoch, "seq", d.seq)
	}
	c.seq = streams.SeqTracker{}
	c.seq.Check(d.epoch, d.seq)
	c.saved, c.savedEpoch, c.savedSeq, c.tainted = true, d.epoch, d.seq, false
	return nil
}

// Checkpoint publishes a snapshot of every named stream whose stages moved since their last one.
// It fails, and its caller must not commit, when a stream's state could not be snapshotted. The
// results of the frames a snapshot covers must have been acknowledged first (see committer.flush).
func (p *Processor) Checkpoint(ctx context.Context, streamIDs []string) error {
	snaps, err := p.snapshot(streamIDs)
	if err != nil {
		return err
	}
	return p.saveSnapshots(ctx, snaps)
}

// streamSnapshot is one stream's encoded stage state and the input position it covers.
type streamSnapshot struct {
	id         string
	c          *chain
	epoch, seq uint64
	b          []byte
}

// snapshot encodes the state of every named stream whose stages moved since their last snapshot.
func (p *Processor) snapshot(streamIDs []string) ([]streamSnapshot, error) {
	if p.state == nil {
		return nil, nil
	}
	var snaps []streamSnapshot
	for _, id := range streamIDs {
		p.mu.Lock()
		c := p.chains[id]
		p.mu.Unlock()
		if c == nil {
			continue
		}
		c.mu.Lock()
		if c.state == chainWaiting {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: stream %s: frames held until its description arrives", errNotSnapshotted, id)
		}
		epoch, seq, started := c.seq.Last()
		if c.state != chainReady || !started || (c.saved && c.savedEpoch == epoch && c.savedSeq == seq) {
			c.mu.Unlock()
			continue
		}
		if c.tainted {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: stream %s was interrupted in the middle of a frame", errNotSnapshotted, id)
		}
		b := c.encodeState(nil, p.fingerprint)
		c.mu.Unlock()
		if len(b) > maxStateBytes {
			return nil, fmt.Errorf("%w: stream %s: its state takes %d bytes, over the %d a Kafka message may hold (shorter windows or fewer channels per pipeline)",
				errNotSnapshotted, id, len(b), maxStateBytes)
		}
		snaps = append(snaps, streamSnapshot{id: id, c: c, epoch: epoch, seq: seq, b: b})
	}
	return snaps, nil
}

// saveSnapshots publishes snapshots (together) and records the positions they cover.
func (p *Processor) saveSnapshots(ctx context.Context, snaps []streamSnapshot) error {
	if len(snaps) == 0 {
		return nil
	}
	keys, values := make([]string, len(snaps)), make([][]byte, len(snaps))
	for i, s := range snaps {
		keys[i], values[i] = p.stateKey+"/"+s.id, s.b
	}
	if err := p.state.PutAll(ctx, keys, values); err != nil {
		return fmt.Errorf("%w: %w", errNotSnapshotted, err)
	}
	for _, s := range snaps {
		c := s.c
		c.mu.Lock()
		if !c.saved || s.epoch > c.savedEpoch || (s.epoch == c.savedEpoch && s.seq > c.savedSeq) {
			c.saved, c.savedEpoch, c.savedSeq = true, s.epoch, s.seq
		}
		c.mu.Unlock()
	}
	return nil
}

// barrierSink is a sink whose writes may still be in flight when Emit returns (KafkaSink with an
// AsyncWriter): Barrier returns once everything emitted before it was acknowledged.
type barrierSink interface {
	Barrier(ctx context.Context) error
}

// committer commits a consumer's offsets. Without stage state and with a sink that writes
// synchronously it commits every handled message at once. Otherwise it collects them and commits them
// every checkpoint interval, only after the results they led to have been acknowledged (the sink's
// Barrier) and a snapshot of the streams they advanced has been published (see state.go): a crash
// repeats results, never loses one.
type committer struct {
	c       *streams.Consumer
	proc    *Processor
	barrier barrierSink // nil: the sink's writes are acknowledged when Emit returns

	mu      sync.Mutex
	pending map[int]kafka.Message // the last handled message per partition
	touched map[string]struct{}   // streams advanced since the last checkpoint
	failing bool                  // the last checkpoint failed (logged once until one succeeds)
}

func newCommitter(c *streams.Consumer, proc *Processor) *committer {
	k := &committer{c: c, proc: proc, pending: make(map[int]kafka.Message), touched: make(map[string]struct{})}
	k.barrier, _ = proc.sink.(barrierSink)
	return k
}

// deferred reports whether offsets wait for flush (state to snapshot or writes to be acknowledged).
func (k *committer) deferred() bool { return k.proc.state != nil || k.barrier != nil }

// done marks msg handled; streamID is the stream whose stages it advanced ("" for none).
func (k *committer) done(ctx context.Context, msg kafka.Message, streamID string) error {
	if !k.deferred() {
		return k.c.Commit(ctx, msg)
	}
	k.mu.Lock()
	k.pending[msg.Partition] = msg
	if streamID != "" {
		k.touched[streamID] = struct{}{}
	}
	k.mu.Unlock()
	return nil
}

// flush snapshots the advanced streams, waits for the results of every frame the snapshots and the
// pending messages cover to be acknowledged, publishes the snapshots, then commits the messages.
func (k *committer) flush(ctx context.Context) error {
	k.mu.Lock()
	pending, touched := k.pending, k.touched
	if len(pending) == 0 && len(touched) == 0 {
		k.mu.Unlock()
		return nil
	}
	k.pending, k.touched = make(map[int]kafka.Message), make(map[string]struct{})
	k.mu.Unlock()
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	// Encoded before the barrier: a frame taken after this point is in neither the snapshots nor
	// the pending offsets, so its results need not be waited for.
	snaps, err := k.proc.snapshot(ids)
	if err == nil && k.barrier != nil {
		err = k.barrier.Barrier(ctx)
	}
	if err == nil {
		err = k.proc.saveSnapshots(ctx, snaps)
	}
	if err == nil {
		msgs := make([]kafka.Message, 0, len(pending))
		for _, m := range pending {
			msgs = append(msgs, m)
		}
		if err = k.c.Commit(ctx, msgs...); err == nil {
			return nil
		}
	}
	// Keep what was not committed for the next try; newer messages stay newer.
	k.mu.Lock()
	for p, m := range pending {
		if _, ok := k.pending[p]; !ok {
			k.pending[p] = m
		}
	}
	for id := range touched {
		k.touched[id] = struct{}{}
	}
	k.mu.Unlock()
	return err
}

// run flushes every interval until stop is closed.
func (k *committer) run(ctx context.Context, stop <-chan struct{}, onErr func(error)) {
	t := time.NewTicker(k.proc.checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			err := k.flush(ctx)
			if err != nil && ctx.Err() == nil && !k.failing {
				onErr(err)
			}
			k.failing = err != nil
		case <-stop:
			return
		}
	}
}
