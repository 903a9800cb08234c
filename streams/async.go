package streams

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// AsyncWriter publishes a pipeline's results without making the caller wait for the broker: each
// message is encoded into a buffer of its own and queued on its partition's lane, where one
// goroutine per partition sends everything queued as one acknowledged batch, then the next. A
// consumer whose stages emit a prediction goes on with its next frame while the prediction is in
// flight, instead of waiting a round trip per prediction (which, for every member of a consumer
// group, made frames queue behind the writes of the frames before them).
//
// Order is kept per partition, so per stream. What is queued or in flight is bounded (the caller
// waits for room beyond it). Barrier tells a caller when everything published before it has been
// acknowledged: consumers commit their offsets, and snapshot their stages, only after that, so that
// a crash repeats results but never loses one.
type AsyncWriter struct {
	p      *Producer
	ctx    context.Context // the lanes' writes; cancelled by Close
	cancel context.CancelFunc
	slots  chan struct{} // one per message queued or in flight
	wg     sync.WaitGroup
	pool   sync.Pool // *asyncMsg

	mu      sync.Mutex
	lanes   map[topicPartition]*lane
	closed  bool
	epoch   uint64         // advanced by every Barrier
	open    map[uint64]int // messages not yet acknowledged, by the epoch they were queued in
	lost    error          // the first message given up unacknowledged (the writer closed under it)
	changed chan struct{}  // closed when a message completes, if a Barrier waits
}

// DefaultAsyncInFlight bounds the messages an AsyncWriter holds queued or in flight.
const DefaultAsyncInFlight = 16384

// lane is one partition's queue and its sending goroutine.
type lane struct {
	tp    topicPartition
	wake  chan struct{} // buffered: a queued message wakes the sender
	mu    sync.Mutex
	queue []*asyncMsg
}

// asyncMsg is one queued message with its own buffers, reused through the writer's pool.
type asyncMsg struct {
	key, value []byte
	headers    []kafka.Header
	epoch      uint64
	onAck      func(error)
	onPred     func(*Prediction, error)
	pred       Prediction // a copy of the published prediction, for onPred
}

// NewAsyncWriter returns a writer publishing through p with at most inFlight messages queued or
// in flight (DefaultAsyncInFlight if <= 0). Close it after its last Barrier.
func NewAsyncWriter(p *Producer, inFlight int) *AsyncWriter {
	if inFlight <= 0 {
		inFlight = DefaultAsyncInFlight
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &AsyncWriter{p: p, ctx: ctx, cancel: cancel, slots: make(chan struct{}, inFlight),
		lanes: make(map[topicPartition]*lane), open: make(map[uint64]int),
		pool: sync.Pool{New: func() any { return &asyncMsg{value: make([]byte, 0, 1024), key: make([]byte, 0, 32)} }}}
}

// errWriterClosed refuses messages after Close.
var errWriterClosed = errors.New("async writer closed")

// PublishPrediction queues pr as JSON on topic (PublishedAtNs and LatencyNs filled now, as
// PublishPredictions does). onAck, if set, is called with a copy of pr once the broker acknowledged
// it (nil error) or the writer gave it up; it runs in the partition's goroutine.
func (w *AsyncWriter) PublishPrediction(ctx context.Context, topic string, pr *Prediction, onAck func(*Prediction, error)) error {
	m, err := w.get(ctx)
	if err != nil {
		return err
	}
	pr.PublishedAtNs = time.Now().UnixNano()
	if pr.AcquiredAtNs != 0 {
		pr.LatencyNs = pr.PublishedAtNs - pr.AcquiredAtNs
	}
	if m.value, err = AppendPredictionJSON(m.value[:0], pr); err != nil {
		w.put(m)
		return fmt.Errorf("encode prediction of %s: %w", pr.StreamID, err)
	}
	m.key = append(m.key[:0], pr.StreamID...)
	m.headers = predictionHeaders
	if onAck != nil {
		m.onPred = onAck
		m.pred.copyFrom(pr)
	}
	return w.enqueue(ctx, topic, m)
}

// PublishFeatures queues one feature vector on topic; onAck as for PublishPrediction.
func (w *AsyncWriter) PublishFeatures(ctx context.Context, topic string, v *FeatureVector, onAck func(error)) error {
	b, err := MarshalFeatures(v)
	if err != nil {
		return err
	}
	m, err := w.get(ctx)
	if err != nil {
		return err
	}
	m.value = append(m.value[:0], b...)
	m.key = append(m.key[:0], v.StreamID...)
	m.headers, m.onAck = featureHeaders, onAck
	return w.enqueue(ctx, topic, m)
}

// PublishTokens queues one tokens message on topic; onAck as for PublishPrediction.
func (w *AsyncWriter) PublishTokens(ctx context.Context, topic string, t *Tokens, onAck func(error)) error {
	m, err := w.get(ctx)
	if err != nil {
		return err
	}
	m.value = AppendTokens(m.value[:0], t)
	m.key = append(m.key[:0], t.StreamID...)
	m.headers, m.onAck = tokenHeaders, onAck
	return w.enqueue(ctx, topic, m)
}

// PublishFrame queues one frame on topic; onAck as for PublishPrediction.
func (w *AsyncWriter) PublishFrame(ctx context.Context, topic string, f *Frame, onAck func(error)) error {
	m, err := w.get(ctx)
	if err != nil {
		return err
	}
	m.value = AppendFrame(m.value[:0], f)
	m.key = append(m.key[:0], f.StreamID...)
	m.headers, m.onAck = frameHeaders, onAck
	return w.enqueue(ctx, topic, m)
}

// get waits for room and returns an empty message.
func (w *AsyncWriter) get(ctx context.Context) (*asyncMsg, error) {
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return w.pool.Get().(*asyncMsg), nil
}

// put returns an unsent message and its slot.
func (w *AsyncWriter) put(m *asyncMsg) {
	m.onAck, m.onPred, m.headers = nil, nil, nil
	w.pool.Put(m)
	<-w.slots
}

// enqueue puts m on its partition's lane.
func (w *AsyncWriter) enqueue(ctx context.Context, topic string, m *asyncMsg) error {
	tp := topicPartition{topic: topic, partition: -1}
	if d := w.p.direct; d != nil {
		var parts []int
		err := w.p.outages.Retry(ctx, "publish", func(ctx context.Context) error {
			var err error
			parts, err = d.partitions(ctx, topic)
			return err
		})
		if err != nil {
			w.put(m)
			return err
		}
		tp.partition = d.balancer.Balance(kafka.Message{Key: m.key}, parts...)
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.put(m)
		return errWriterClosed
	}
	m.epoch = w.epoch
	w.open[m.epoch]++
	l := w.lanes[tp]
	if l == nil {
		l = &lane{tp: tp, wake: make(chan struct{}, 1)}
		w.lanes[tp] = l
		w.wg.Add(1)
		go w.run(l)
	}
	// Queued under w.mu, so that a lane that saw the writer closed with an empty queue stays empty.
	l.mu.Lock()
	l.queue = append(l.queue, m)
	l.mu.Unlock()
	w.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

// run sends a lane's queue, one acknowledged batch at a time, until the writer closes.
func (w *AsyncWriter) run(l *lane) {
	defer w.wg.Done()
	var (
		batch []*asyncMsg
		msgs  []kafka.Message
	)
	for {
		select {
		case <-l.wake:
		case <-w.ctx.Done():
		}
		for {
			l.mu.Lock()
			n, size := 0, 0
			for n < len(l.queue) {
				sz := len(l.queue[n].key) + len(l.queue[n].value) + 64
				if n > 0 && size+sz > maxBatchBytes {
					break
				}
				size += sz
				n++
			}
			batch = append(batch[:0], l.queue[:n]...)
			rest := copy(l.queue, l.queue[n:])
			clear(l.queue[rest:])
			l.queue = l.queue[:rest]
			l.mu.Unlock()
			if n == 0 {
				break
			}
			msgs = msgs[:0]
			for _, m := range batch {
				msgs = append(msgs, kafka.Message{Topic: l.tp.topic, Key: m.key, Value: m.value, Headers: m.headers})
			}
			var err error
			if w.ctx.Err() != nil {
				err = w.ctx.Err()
			} else {
				err = w.p.outages.Retry(w.ctx, "publish", func(ctx context.Context) error {
					if w.p.direct != nil {
						return w.p.direct.send(ctx, l.tp, msgs)
					}
					return w.p.w.WriteMessages(ctx, msgs...)
				})
			}
			if err != nil {
				err = fmt.Errorf("publish %d message(s) to %s: %w", len(msgs), l.tp.topic, err)
			}
			clear(msgs)
			w.complete(batch, err)
			clear(batch)
		}
		if w.ctx.Err() != nil {
			w.mu.Lock()
			l.mu.Lock()
			done := w.closed && len(l.queue) == 0
			l.mu.Unlock()
			w.mu.Unlock()
			if done {
				return
			}
		}
	}
}

// complete hands a sent batch's outcome to its callbacks and releases its messages.
func (w *AsyncWriter) complete(batch []*asyncMsg, err error) {
	for _, m := range batch {
		if m.onPred != nil {
			m.onPred(&m.pred, err)
		} else if m.onAck != nil {
			m.onAck(err)
		}
	}
	w.mu.Lock()
	for _, m := range batch {
		if w.open[m.epoch]--; w.open[m.epoch] <= 0 {
			delete(w.open, m.epoch)
		}
	}
	// A message given up because the writer closed was not acknowledged: no barrier may pass it.
	// (Errors that retrying cannot fix, such as a message over the broker's size limit, are the
	// callback's to count and report, as a synchronous write's error would be.)
	if err != nil && w.ctx.Err() != nil && w.lost == nil {
		w.lost = err
	}
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
	w.mu.Unlock()
	for _, m := range batch {
		w.put(m)
	}
}

// Barrier returns once every message queued before it was called has been acknowledged, or an
// error if one of them never will be (the writer was closed) or ctx ends first.
func (w *AsyncWriter) Barrier(ctx context.Context) error {
	w.mu.Lock()
	e := w.epoch
	w.epoch++
	for {
		if w.lost != nil {
			err := w.lost
			w.mu.Unlock()
			return fmt.Errorf("results not acknowledged: %w", err)
		}
		waiting := false
		for ep := range w.open {
			if ep <= e {
				waiting = true
				break
			}
		}
		if !waiting {
			w.mu.Unlock()
			return nil
		}
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		w.mu.Lock()
	}
}

// Close stops the lanes; messages still queued or in flight are given up (and Barrier fails from
// then on). Call it once the writer's users have passed their last Barrier.
func (w *AsyncWriter) Close() error {
	w.mu.Lock()
	w.closed = true
	lanes := make([]*lane, 0, len(w.lanes))
	for _, l := range w.lanes {
		lanes = append(lanes, l)
	}
	w.mu.Unlock()
	w.cancel()
	for _, l := range lanes {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	w.wg.Wait()
	return nil
}

// copyFrom makes p a copy of src, reusing p's slices.
func (p *Prediction) copyFrom(src *Prediction) {
	scores, topK, emb := p.Scores, p.TopK, p.Embedding
	*p = *src
	p.Scores = append(scores[:0], src.Scores...)
	p.TopK = append(topK[:0], src.TopK...)
	p.Embedding = append(emb[:0], src.Embedding...)
}
