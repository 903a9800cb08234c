package streams

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Mode chooses between latency and throughput for a producer.
type Mode int

const (
	// LowLatency sends every write at once, in the caller's goroutine, straight to the partition
	// leader on one connection per partition, acknowledged by all replicas (see leaderConns).
	LowLatency Mode = iota
	// Bulk batches up to 1000 messages or maxBatchBytes, for replaying files faster than real
	// time. Uncompressed: float32 MEG samples do not compress (lz4: 0.98 of the size on
	// sample_audvis), and compressing cost a 100x replay of a 306-channel 1 kHz stream a third of its
	// CPU, enough to fall behind (82-92x real time with lz4, 95-100x without); 16-bit EDF EEG shrinks to
	// 0.54, but it is a hundredth of the bandwidth. A write's messages go out together: the batch
	// timeout is only long enough for one call to add them all (at 1 ms, every 32-frame write of a
	// 100x MEG replay waited it out, and the replay reached 70-80x real time instead of ~118x).
	Bulk
)

// maxBatchBytes bounds a bulk producer's batches below the 1,048,588-byte record-batch limit that
// Kafka brokers (and kfake) apply by default (message.max.bytes): a bigger batch is refused whole
// ("Message Size Too Large"), which is what replaying a 376-channel MEG file with 16 MiB batches hit.
const maxBatchBytes = 1_000_000

// HeaderType is the record header that names the message type.
const HeaderType = "ns-type"

// Message types carried in HeaderType.
const (
	TypeFrame      = "frame"
	TypeStreamInfo = "stream-info"
	TypePrediction = "prediction"
	TypeFeatures   = "features"
	TypeTokens     = "tokens"
	TypeState      = "state"
)

// Read-only header slices shared by every message of a type; kafka-go does not modify them.
var (
	frameHeaders      = []kafka.Header{{Key: HeaderType, Value: []byte(TypeFrame)}}
	streamInfoHeaders = []kafka.Header{{Key: HeaderType, Value: []byte(TypeStreamInfo)}}
	predictionHeaders = []kafka.Header{{Key: HeaderType, Value: []byte(TypePrediction)}}
	featureHeaders    = []kafka.Header{{Key: HeaderType, Value: []byte(TypeFeatures)}}
	tokenHeaders      = []kafka.Header{{Key: HeaderType, Value: []byte(TypeTokens)}}
	stateHeaders      = []kafka.Header{{Key: HeaderType, Value: []byte(TypeState)}}
)

// Producer publishes neurostream messages to any topic, keyed by stream id. It is safe for
// concurrent use; each call blocks until the broker acknowledged its messages.
type Producer struct {
	outages *Outages
	w       *kafka.Writer // Bulk
	direct  *leaderConns  // LowLatency
	batches sync.Pool     // *frameBatch, reused once a write has returned
}

// frameBatch holds one PublishFrames call's encode buffers and messages, so that publishing a
// stream's frames does not allocate on our side once the pool is warm.
type frameBatch struct {
	bufs, keys [][]byte
	msgs       []kafka.Message
}

// NewProducer connects a producer (lazily: the first write dials).
func NewProducer(cfg Config, mode Mode) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch mode {
	case LowLatency:
		d, err := cfg.Dialer()
		if err != nil {
			return nil, err
		}
		return &Producer{outages: cfg.Outages, direct: newLeaderConns(d, cfg.Brokers)}, nil
	case Bulk:
	default:
		return nil, fmt.Errorf("producer: unknown mode %d", mode)
	}
	tr, err := cfg.Transport()
	if err != nil {
		return nil, err
	}
	return &Producer{outages: cfg.Outages, w: &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Balancer:               &kafka.CRC32Balancer{}, // places keys like librdkafka/kcat
		RequiredAcks:           kafka.RequireAll,
		Transport:              tr,
		AllowAutoTopicCreation: true,
		WriteTimeout:           10 * time.Second,
		ReadTimeout:            10 * time.Second,
		BatchSize:              1000,
		BatchTimeout:           50 * time.Microsecond,
		BatchBytes:             maxBatchBytes,
	}}, nil
}

// write sends msgs and returns once the broker acknowledged them, retrying through broker outages
// (see Outages) until ctx ends. A write whose acknowledgement was lost is sent again: consumers see
// the repeat as a duplicate sequence number.
func (p *Producer) write(ctx context.Context, msgs ...kafka.Message) error {
	return p.outages.Retry(ctx, "publish", func(ctx context.Context) error { return p.writeOnce(ctx, msgs...) })
}

// writeOnce is one attempt at write (a broken connection is still redialled once).
func (p *Producer) writeOnce(ctx context.Context, msgs ...kafka.Message) error {
	if p.direct != nil {
		return p.direct.write(ctx, msgs)
	}
	return p.w.WriteMessages(ctx, msgs...)
}

// PublishFrames writes frames to topic in one call (one batch in Bulk mode), retrying through
// broker outages until ctx ends.
func (p *Producer) PublishFrames(ctx context.Context, topic string, frames ...*Frame) error {
	return p.publishFrames(ctx, p.write, topic, frames)
}

// TryPublishFrames is PublishFrames without retries: one attempt, for callers that keep the frames
// elsewhere when the broker is away (the source spool).
func (p *Producer) TryPublishFrames(ctx context.Context, topic string, frames ...*Frame) error {
	return p.publishFrames(ctx, p.writeOnce, topic, frames)
}

// TryPublishEncoded writes already encoded frames (AppendFrame's output, keyed by stream id) in one
// attempt, without retries.
func (p *Producer) TryPublishEncoded(ctx context.Context, topic string, keys, values [][]byte) error {
	msgs := make([]kafka.Message, len(values))
	for i := range values {
		msgs[i] = kafka.Message{Topic: topic, Key: keys[i], Value: values[i], Headers: frameHeaders}
	}
	if err := p.writeOnce(ctx, msgs...); err != nil {
		return fmt.Errorf("publish %d frame(s) to %s: %w", len(values), topic, err)
	}
	return nil
}

// Outages returns the producer's outage tracker (nil when none was configured).
func (p *Producer) Outages() *Outages { return p.outages }

func (p *Producer) publishFrames(ctx context.Context, write func(context.Context, ...kafka.Message) error, topic string, frames []*Frame) error {
	if len(frames) == 0 {
		return nil
	}
	b, _ := p.batches.Get().(*frameBatch)
	if b == nil {
		b = new(frameBatch)
	}
	for len(b.bufs) < len(frames) {
		b.bufs = append(b.bufs, make([]byte, 0, 4096))
		b.keys = append(b.keys, make([]byte, 0, 32))
	}
	b.msgs = b.msgs[:0]
	for i, f := range frames {
		b.bufs[i] = AppendFrame(b.bufs[i][:0], f)
		b.keys[i] = append(b.keys[i][:0], f.StreamID...)
		b.msgs = append(b.msgs, kafka.Message{Topic: topic, Key: b.keys[i], Value: b.bufs[i], Headers: frameHeaders})
	}
	err := write(ctx, b.msgs...)
	clear(b.msgs)
	p.batches.Put(b)
	if err != nil {
		return fmt.Errorf("publish %d frame(s) of %s to %s: %w", len(frames), frames[0].StreamID, topic, err)
	}
	return nil
}

// StreamInfoKey is the compacted stream-info topic's key for a stream's description on a given topic
// kind ("raw", "clean"): stages that change a stream's shape publish its new description under
// their output kind, without overwriting the source's.
func StreamInfoKey(kind, streamID string) string { return kind + "/" + streamID }

// PublishStreamInfo writes info to the stream-info topic under StreamInfoKey(kind, info.StreamID).
func (p *Producer) PublishStreamInfo(ctx context.Context, topics Topics, kind string, info *StreamInfo) error {
	b, err := MarshalStreamInfo(info)
	if err != nil {
		return err
	}
	msg := kafka.Message{Topic: topics.StreamInfo, Key: []byte(StreamInfoKey(kind, info.StreamID)), Value: b, Headers: streamInfoHeaders}
	if err := p.write(ctx, msg); err != nil {
		return fmt.Errorf("publish stream info of %s to %s: %w", info.StreamID, topics.StreamInfo, err)
	}
	return nil
}

// PublishPredictions writes predictions as JSON objects; PublishedAtNs and LatencyNs are filled here,
// just before the write, from AcquiredAtNs.
func (p *Producer) PublishPredictions(ctx context.Context, topic string, preds ...*Prediction) error {
	if len(preds) == 0 {
		return nil
	}
	b, _ := p.batches.Get().(*frameBatch)
	if b == nil {
		b = new(frameBatch)
	}
	defer func() {
		clear(b.msgs)
		p.batches.Put(b)
	}()
	for len(b.bufs) < len(preds) {
		b.bufs = append(b.bufs, make([]byte, 0, 4096))
		b.keys = append(b.keys, make([]byte, 0, 32))
	}
	b.msgs = b.msgs[:0]
	for i, pr := range preds {
		pr.PublishedAtNs = time.Now().UnixNano()
		if pr.AcquiredAtNs != 0 {
			pr.LatencyNs = pr.PublishedAtNs - pr.AcquiredAtNs
		}
		var err error
		if b.bufs[i], err = AppendPredictionJSON(b.bufs[i][:0], pr); err != nil {
			return fmt.Errorf("encode prediction of %s: %w", pr.StreamID, err)
		}
		b.keys[i] = append(b.keys[i][:0], pr.StreamID...)
		b.msgs = append(b.msgs, kafka.Message{Topic: topic, Key: b.keys[i], Value: b.bufs[i], Headers: predictionHeaders})
	}
	if err := p.write(ctx, b.msgs...); err != nil {
		return fmt.Errorf("publish %d prediction(s) to %s: %w", len(preds), topic, err)
	}
	return nil
}

// PublishFeatures writes one feature vector.
func (p *Producer) PublishFeatures(ctx context.Context, topic string, v *FeatureVector) error {
	b, err := MarshalFeatures(v)
	if err != nil {
		return err
	}
	if err := p.write(ctx, kafka.Message{Topic: topic, Key: []byte(v.StreamID), Value: b, Headers: featureHeaders}); err != nil {
		return fmt.Errorf("publish features of %s to %s: %w", v.StreamID, topic, err)
	}
	return nil
}

// PublishTokens writes one tokens message (pb.Tokens), reusing the frame encode buffers.
func (p *Producer) PublishTokens(ctx context.Context, topic string, t *Tokens) error {
	b, _ := p.batches.Get().(*frameBatch)
	if b == nil {
		b = new(frameBatch)
	}
	if len(b.bufs) == 0 {
		b.bufs = append(b.bufs, make([]byte, 0, 4096))
		b.keys = append(b.keys, make([]byte, 0, 32))
	}
	b.bufs[0] = AppendTokens(b.bufs[0][:0], t)
	b.keys[0] = append(b.keys[0][:0], t.StreamID...)
	b.msgs = append(b.msgs[:0], kafka.Message{Topic: topic, Key: b.keys[0], Value: b.bufs[0], Headers: tokenHeaders})
	err := p.write(ctx, b.msgs...)
	clear(b.msgs)
	p.batches.Put(b)
	if err != nil {
		return fmt.Errorf("publish tokens of %s to %s: %w", t.StreamID, topic, err)
	}
	return nil
}

// PublishState writes one stage-state snapshot under key (see Topics.State).
func (p *Producer) PublishState(ctx context.Context, topic, key string, value []byte) error {
	if err := p.write(ctx, kafka.Message{Topic: topic, Key: []byte(key), Value: value, Headers: stateHeaders}); err != nil {
		return fmt.Errorf("publish state %s to %s (%d bytes): %w", key, topic, len(value), err)
	}
	return nil
}

// PublishStates writes stage-state snapshots, values[i] under keys[i], as one acknowledged write
// per partition run rather than a round trip each (a checkpoint of 1,000 streams).
func (p *Producer) PublishStates(ctx context.Context, topic string, keys []string, values [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(keys))
	for i := range keys {
		msgs[i] = kafka.Message{Topic: topic, Key: []byte(keys[i]), Value: values[i], Headers: stateHeaders}
	}
	// One write stays under the broker's batch limit.
	for len(msgs) > 0 {
		n, sz := 0, 0
		for n < len(msgs) && (n == 0 || sz+len(msgs[n].Key)+len(msgs[n].Value)+64 <= maxBatchBytes) {
			sz += len(msgs[n].Key) + len(msgs[n].Value) + 64
			n++
		}
		if err := p.write(ctx, msgs[:n]...); err != nil {
			return fmt.Errorf("publish %d state snapshot(s) to %s (%d bytes): %w", n, topic, sz, err)
		}
		msgs = msgs[n:]
	}
	return nil
}

// Close flushes and closes the producer.
func (p *Producer) Close() error {
	if p.direct != nil {
		return p.direct.close()
	}
	return p.w.Close()
}

// ConsumerConfig selects what a Consumer reads.
type ConsumerConfig struct {
	Topic string
	// GroupID makes the consumer a member of a consumer group: partitions are shared among the
	// group's members and offsets are committed, so a restarted member resumes where it stopped.
	GroupID string
	// Partition is read when GroupID is empty (Config.PartitionOf finds a stream's).
	Partition int
	// FromStart reads from the oldest retained message instead of only new ones (new groups only).
	FromStart bool
	// Bulk favours throughput (64 KiB minimum fetches, 100 ms wait) over latency.
	Bulk bool
}

// Consumer reads neurostream messages from one topic and checks frame sequence numbers.
type Consumer struct {
	r      *kafka.Reader
	seq    *SequenceChecker
	client *kafka.Client // asks the broker for partition ends (Behind)
	topic  string

	outages *Outages
	op      string // "fetch <topic>", for outage logs and metrics

	mu      sync.Mutex
	fetched map[int]int64 // per partition, the offset after the last message handed out
}

// NewConsumer creates a consumer (lazily connected).
func NewConsumer(cfg Config, cc ConsumerConfig) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cc.Topic == "" {
		return nil, fmt.Errorf("consumer: no topic")
	}
	d, err := cfg.Dialer()
	if err != nil {
		return nil, err
	}
	rc := kafka.ReaderConfig{
		Brokers:  cfg.Brokers,
		Topic:    cc.Topic,
		Dialer:   d,
		MinBytes: 1,
		MaxBytes: 16 << 20,
		// MaxWait is the fetch long-poll: the broker answers as soon as one byte arrives, so a long
		// wait costs no latency, while a short one turns into socket timeouts and 100 ms back-offs.
		MaxWait:        time.Second,
		ReadBackoffMin: 10 * time.Millisecond,
		ReadBackoffMax: 200 * time.Millisecond,
		StartOffset:    kafka.LastOffset,
	}
	if cc.FromStart {
		rc.StartOffset = kafka.FirstOffset
	}
	if cc.Bulk {
		rc.MinBytes, rc.MaxWait = 64<<10, 100*time.Millisecond
	}
	if cc.GroupID != "" {
		rc.GroupID = cc.GroupID
		rc.CommitInterval = time.Second
		// Defaults made a second member wait ~9 s for its first message (FINDINGS); these gave 0.75 s.
		rc.HeartbeatInterval = 250 * time.Millisecond
		rc.JoinGroupBackoff = 250 * time.Millisecond
		rc.RebalanceTimeout = 2 * time.Second
		rc.SessionTimeout = 6 * time.Second
		rc.WatchPartitionChanges = true
		rc.PartitionWatchInterval = time.Second
	} else {
		rc.Partition = cc.Partition
	}
	r := kafka.NewReader(rc)
	if cc.GroupID == "" && !cc.FromStart {
		// StartOffset applies to groups only; a partition reader starts at the first offset unless told.
		if err := r.SetOffset(kafka.LastOffset); err != nil {
			r.Close()
			return nil, fmt.Errorf("consumer %s[%d]: %w", cc.Topic, cc.Partition, err)
		}
	}
	tr, err := cfg.Transport()
	if err != nil {
		r.Close()
		return nil, err
	}
	return &Consumer{r: r, seq: NewSequenceChecker(), topic: cc.Topic, fetched: make(map[int]int64),
		outages: cfg.Outages, op: "fetch " + cc.Topic,
		client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr, Timeout: 10 * time.Second}}, nil
}

// Fetch returns the next message without committing it. Through a broker outage it waits, the
// reader reconnecting with backoff, until the broker is back or ctx ends.
func (c *Consumer) Fetch(ctx context.Context) (kafka.Message, error) {
	var m kafka.Message
	err := c.outages.Retry(ctx, c.op, func(ctx context.Context) error {
		var err error
		m, err = c.r.FetchMessage(ctx)
		return err
	})
	if err == nil {
		c.mu.Lock()
		c.fetched[m.Partition] = m.Offset + 1
		c.mu.Unlock()
	}
	return m, err
}

// Behind asks the broker how many messages lie after the last one this consumer handed out, summed
// over the partitions it has read from. Unlike Lag it is fresh while the caller is busy with a
// message (kafka-go's figure only moves when its fetcher does, and that stops once its queue is
// full), so it can be polled from another goroutine to see a stalled consumer fall behind.
func (c *Consumer) Behind(ctx context.Context) (int64, error) {
	c.mu.Lock()
	req := make([]kafka.OffsetRequest, 0, len(c.fetched))
	next := make(map[int]int64, len(c.fetched))
	for p, off := range c.fetched {
		req = append(req, kafka.LastOffsetOf(p))
		next[p] = off
	}
	c.mu.Unlock()
	if len(req) == 0 {
		return 0, nil
	}
	res, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{c.topic: req}})
	if err != nil {
		return 0, fmt.Errorf("consumer %s: look up partition ends: %w", c.topic, err)
	}
	var behind int64
	for _, po := range res.Topics[c.topic] {
		if po.Error != nil {
			return 0, fmt.Errorf("consumer %s[%d]: look up partition end: %w", c.topic, po.Partition, po.Error)
		}
		if d := po.LastOffset - next[po.Partition]; d > 0 {
			behind += d
		}
	}
	return behind, nil
}

// ReadFrame fetches the next message, decodes it into f and checks its sequence number. Messages
// of other types on the topic are returned with ErrNotFrame so callers can skip them.
func (c *Consumer) ReadFrame(ctx context.Context, f *Frame) (kafka.Message, SeqResult, error) {
	m, err := c.Fetch(ctx)
	if err != nil {
		return m, SeqResult{}, err
	}
	if t := MessageType(m); t != TypeFrame && t != "" {
		return m, SeqResult{}, fmt.Errorf("%w: %s", ErrNotFrame, t)
	}
	if err := DecodeFrame(m.Value, f); err != nil {
		return m, SeqResult{}, fmt.Errorf("%s[%d]@%d: %w", m.Topic, m.Partition, m.Offset, err)
	}
	return m, c.seq.Check(f.StreamID, f.Epoch, f.Seq), nil
}

// ErrNotFrame marks a message on a frame topic that is not a frame.
var ErrNotFrame = fmt.Errorf("message is not a frame")

// Commit marks messages as processed; with a group they are committed within CommitInterval.
func (c *Consumer) Commit(ctx context.Context, msgs ...kafka.Message) error {
	if c.r.Config().GroupID == "" {
		return nil
	}
	return c.r.CommitMessages(ctx, msgs...)
}

// Lag is how many messages the consumer is behind the end of its partition (-1 if unknown).
func (c *Consumer) Lag() int64 { return c.r.Stats().Lag }

// Stats returns kafka-go's reader statistics since the last call.
func (c *Consumer) Stats() kafka.ReaderStats { return c.r.Stats() }

// Sequence returns the consumer's sequence checker.
func (c *Consumer) Sequence() *SequenceChecker { return c.seq }

// Close leaves the group (committing offsets) and closes connections.
func (c *Consumer) Close() error { return c.r.Close() }

// MessageType returns the HeaderType value of m, or "". The known types come back as the constants,
// without allocating (every consumed message is asked).
func MessageType(m kafka.Message) string {
	for _, h := range m.Headers {
		if h.Key == HeaderType {
			for _, t := range messageTypes {
				if string(h.Value) == t {
					return t
				}
			}
			return string(h.Value)
		}
	}
	return ""
}

var messageTypes = [...]string{TypeFrame, TypeStreamInfo, TypePrediction, TypeFeatures, TypeTokens, TypeState}
