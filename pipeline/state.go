package pipeline

// How a pipeline's stage state survives a restart or a rebalance.
//
// A stage's output depends on the stream's whole history (an IIR filter's memory, a window's
// buffered samples), and that history is deterministic: the input topic holds it. Every pipeline
// member therefore keeps, per stream, the epoch and sequence number of the last input frame its
// stages have taken (the chain's sequence tracker), and every checkpoint interval it
//
//  1. snapshots the state of the stages of the streams it advanced (StatefulStage) with that position
//     to the compacted state topic, keyed "<group>/<stream>", and only then
//  2. commits the group offsets of the messages taken before the snapshot.
//
// So a committed offset never runs ahead of a snapshot. A member that starts on a stream — after a
// restart, a crash or a rebalance — reads the state topic to its end, restores the newest snapshot
// and skips the input frames it already covers; a member whose own chain for a stream is older than
// the newest snapshot (the stream came back to it after a rebalance) restores it too. The restored
// stages then continue bit for bit as an uninterrupted run would.
//
// What this costs: after a crash (kill -9), the frames taken between the last snapshot and the crash
// are processed again, so their outputs — clean frames with the same sequence number, feature vectors
// and predictions with the same window end sample — are published a second time, identical. Our
// consumers (pipelines, record, consume) drop them by sequence number or window; a plain Kafka
// reader (kcat) sees them, at most one checkpoint interval of them, marked by those numbers. A clean
// stop (Ctrl-C, SIGTERM) snapshots and commits first, so it repeats nothing.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/internal/snapshot"
	"github.com/neurostream/neurostream/streams"
)

// StatefulStage is a stage whose memory outlives one frame. AppendState appends that memory to b;
// RestoreState, on a stage started on the same stream with the same configuration, makes it continue
// exactly where the stage that wrote it stood. A stage that keeps state across frames but does not
// implement it starts cold after a restart.
type StatefulStage interface {
	Stage
	AppendState(b []byte) []byte
	RestoreState(b []byte) error
}

const stateMagic = "neurostream-state/1"

// maxStateBytes keeps a snapshot under the brokers' default 1 MB message limit.
const maxStateBytes = 1_000_000

// encodeState writes the chain's snapshot: the configuration fingerprint, the last input sequence
// number (and source epoch) its stages have taken, and every stage's state by name.
func (c *chain) encodeState(b []byte, fingerprint string) []byte {
	epoch, seq, _ := c.seq.Last()
	b = snapshot.AppendString(b, stateMagic)
	b = snapshot.AppendString(b, fingerprint)
	b = snapshot.AppendUint(b, epoch)
	b = snapshot.AppendUint(b, seq)
	b = snapshot.AppendUint(b, uint64(len(c.stages)))
	var tmp []byte
	for i, st := range c.stages {
		b = snapshot.AppendString(b, c.names[i])
		tmp = tmp[:0]
		if s, ok := st.(StatefulStage); ok {
			tmp = s.AppendState(tmp)
		}
		b = snapshot.AppendBytes(b, tmp)
	}
	return b
}

// decodedState is a snapshot read back, not yet applied.
type decodedState struct {
	epoch, seq uint64
	stages     [][]byte
}

// after reports whether the snapshot's position is past (epoch, seq).
func (d decodedState) after(epoch, seq uint64) bool {
	return d.epoch > epoch || (d.epoch == epoch && d.seq > seq)
}

func decodeState(b []byte, fingerprint string, names []string) (decodedState, error) {
	r := snapshot.NewReader(b)
	if m := r.String(); r.Err() == nil && m != stateMagic {
		return decodedState{}, fmt.Errorf("not a stage-state snapshot (%.20q)", m)
	}
	if fp := r.String(); r.Err() == nil && fp != fingerprint {
		return decodedState{}, fmt.Errorf("the snapshot was taken under another pipeline configuration")
	}
	d := decodedState{epoch: r.Uint(), seq: r.Uint()}
	r.Expect("stage count", uint64(len(names)))
	for _, name := range names {
		if got := r.String(); r.Err() == nil && got != name {
			return decodedState{}, fmt.Errorf("snapshot stage %q where this pipeline has %q", got, name)
		}
		d.stages = append(d.stages, r.Bytes())
	}
	if err := r.Err(); err != nil {
		return decodedState{}, err
	}
	return d, nil
}

// StateStore follows the compacted state topic and publishes snapshots to it.
type StateStore struct {
	cfg   streams.Config
	topic string
	prod  *streams.Producer
	log   *slog.Logger

	mu      sync.Mutex
	snaps   map[string][]byte
	next    int64         // offset of the next message to read
	changed chan struct{} // closed and replaced on every message read
	readErr error
	reader  *kafka.Reader
	client  *kafka.Client // asks for the topic's end
}

// NewStateStore starts reading the state topic from its beginning; prod publishes snapshots.
func NewStateStore(ctx context.Context, cfg streams.Config, prod *streams.Producer, log *slog.Logger) (*StateStore, error) {
	d, err := cfg.Dialer()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	tr, err := cfg.Transport()
	if err != nil {
		return nil, err
	}
	topic := cfg.Topics().State
	s := &StateStore{cfg: cfg, topic: topic, prod: prod, log: log, snaps: make(map[string][]byte), changed: make(chan struct{}),
		client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: 10 * time.Second},
		reader: kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: topic, Partition: 0,
			Dialer: d, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: time.Second, StartOffset: kafka.FirstOffset,
			ReadBackoffMin: 10 * time.Millisecond, ReadBackoffMax: 200 * time.Millisecond})}
	go s.follow(ctx)
	return s, nil
}

func (s *StateStore) follow(ctx context.Context) {
	for {
		m, err := s.reader.ReadMessage(ctx)
		s.mu.Lock()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				s.log.Error("state topic unreadable", "topic", s.topic, "err", err)
			}
			s.readErr = fmt.Errorf("state topic %s: %w", s.topic, err)
			close(s.changed)
			s.mu.Unlock()
			return
		}
		if m.Value == nil {
			delete(s.snaps, string(m.Key))
		} else {
			s.snaps[string(m.Key)] = m.Value
		}
		s.next = m.Offset + 1
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
}

// endOffset asks the partition leader for the state topic's end, on the store's pooled
// connections: a new connection per question (two dials) made 1,000 streams starting at once wait
// ~0.6 s for their state, 20,000 frames behind.
func (s *StateStore) endOffset(ctx context.Context) (int64, error) {
	res, err := s.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{s.topic: {kafka.LastOffsetOf(0)}}})
	if err != nil {
		return 0, fmt.Errorf("end of state topic %s: %w", s.topic, err)
	}
	for _, po := range res.Topics[s.topic] {
		if po.Partition != 0 {
			continue
		}
		if po.Error != nil {
			return 0, fmt.Errorf("end of state topic %s: %w", s.topic, po.Error)
		}
		return po.LastOffset, nil
	}
	return 0, fmt.Errorf("end of state topic %s: the broker did not answer for partition 0", s.topic)
}

// Get returns the newest snapshot under key after reading the state topic up to its present end,
// so a snapshot another member published before committing its offsets is always seen.
func (s *StateStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	end, err := s.endOffset(ctx)
	if err != nil {
		return nil, false, err
	}
	for {
		s.mu.Lock()
		next, ch, rerr := s.next, s.changed, s.readErr
		if next >= end {
			b, ok := s.snaps[key]
			s.mu.Unlock()
			return b, ok, nil
		}
		s.mu.Unlock()
		if rerr != nil {
			return nil, false, rerr
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// Put publishes a snapshot under key and waits for the broker's acknowledgement.
func (s *StateStore) Put(ctx context.Context, key string, value []byte) error {
	return s.prod.PublishState(ctx, s.topic, key, value)
}

// PutAll publishes snapshots, values[i] under keys[i], in as few acknowledged writes as fit.
func (s *StateStore) PutAll(ctx context.Context, keys []string, values [][]byte) error {
	return s.prod.PublishStates(ctx, s.topic, keys, values)
}

// Close stops following the topic.
func (s *StateStore) Close() error {
	if tr, ok := s.client.Transport.(*kafka.Transport); ok {
		tr.CloseIdleConnections()
	}
	return s.reader.Close()
}

// Stage state. Stages keep their position in the stream with their buffers so that window ends (and
// the sample indices predictions carry) continue where they were.

func (s *FilterStage) AppendState(b []byte) []byte {
	started := uint64(0)
	if s.started {
		started = 1
	}
	return s.filter.AppendState(snapshot.AppendUint(b, started))
}

// errNotStarted refuses state for a stage that has no stream yet.
var errNotStarted = errors.New("restore state: the stage has not been started on a stream")

func (s *FilterStage) RestoreState(b []byte) error {
	if s.filter == nil {
		return errNotStarted
	}
	r := snapshot.NewReader(b)
	started := r.Uint()
	if r.Err() != nil {
		return r.Err()
	}
	if _, err := s.filter.RestoreState(r.Rest()); err != nil {
		return err
	}
	s.started = started == 1
	return nil
}

func (s *DecoderStage) AppendState(b []byte) []byte {
	return appendWindowState(b, s.windower, s.pushed)
}

func (s *DecoderStage) RestoreState(b []byte) error {
	return restoreWindowState(b, s.windower, &s.pushed)
}

func (s *FeatureStage) AppendState(b []byte) []byte {
	return appendWindowState(b, s.windower, s.pushed)
}

func (s *FeatureStage) RestoreState(b []byte) error {
	return restoreWindowState(b, s.windower, &s.pushed)
}

// appendWindowState and restoreWindowState hold what a windowed stage (decoder, features) must
// carry over a restart: its window buffer and how many samples it has taken.
func appendWindowState(b []byte, w *dsp.Windower, pushed int64) []byte {
	return w.AppendState(snapshot.AppendInt(b, pushed))
}

func restoreWindowState(b []byte, w *dsp.Windower, pushed *int64) error {
	if w == nil {
		return errNotStarted
	}
	r := snapshot.NewReader(b)
	n := r.Int()
	if r.Err() != nil {
		return r.Err()
	}
	if _, err := w.RestoreState(r.Rest()); err != nil {
		return err
	}
	*pushed = n
	return nil
}

func (s *TokenizerStage) AppendState(b []byte) []byte { return s.tk.AppendState(b) }

func (s *TokenizerStage) RestoreState(b []byte) error {
	if s.tk == nil {
		return errNotStarted
	}
	_, err := s.tk.RestoreState(b)
	return err
}

// Re-referencing mixes simultaneous samples only: nothing to keep.
func (s *ReferenceStage) AppendState(b []byte) []byte { return b }
func (s *ReferenceStage) RestoreState([]byte) error   { return nil }
