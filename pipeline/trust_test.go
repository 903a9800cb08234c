package pipeline_test

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

// Streams are untrusted input: these tests write good streams and hostile messages to the raw topic
// of an embedded broker (one partition, so the order is what the test wrote), run a filter pipeline
// on it, and check the clean topic and the metrics.

const trustChannels = 4

// syncLog is a log buffer safe for the pipeline's goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *syncLog) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type trustRig struct {
	t      *testing.T
	ctx    context.Context
	cfg    streams.Config
	topics streams.Topics
	prod   *streams.Producer
	raw    *kafka.Writer
	m      *metrics.Metrics
	log    *syncLog
}

// startTrustRig starts a broker and a filter pipeline (raw -> bandpass -> clean) with a description
// wait longer than the test: a stream that waited in line for another's would hang it.
func startTrustRig(t *testing.T, extra ...pipeline.StageConfig) *trustRig {
	t.Helper()
	cfg := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, 1, 1); err != nil {
		t.Fatal(err)
	}
	prod, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close() })
	raw := &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: topics.Raw, BatchSize: 1, BatchTimeout: time.Millisecond,
		RequiredAcks: kafka.RequireAll}
	t.Cleanup(func() { raw.Close() })
	r := &trustRig{t: t, ctx: ctx, cfg: cfg, topics: topics, prod: prod, raw: raw, m: metrics.New(), log: new(syncLog)}
	st := append([]pipeline.StageConfig{{Kind: "bandpass", LowHz: 1, HighHz: 40}}, extra...)
	conf := &pipeline.Config{Kafka: cfg, Pipelines: []pipeline.PipelineConfig{{Name: "filter", Output: "clean", Stages: st}}}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(runCtx, conf, pipeline.RunOptions{Only: "pipelines", Partitions: 1, Metrics: r.m,
			Log: slog.New(slog.NewTextHandler(r.log, nil)), InfoWait: 10 * time.Minute})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("pipeline: %v", err)
		}
		if t.Failed() {
			t.Logf("pipeline log:\n%s", r.log.String())
		}
	})
	return r
}

func (r *trustRig) info(id string, epoch uint64) {
	r.t.Helper()
	info := &streams.StreamInfo{StreamID: id, SampleRateHz: 250, Epoch: epoch}
	for c := range trustChannels {
		info.Channels = append(info.Channels, streams.Channel{Name: string(rune('a' + c)), Type: streams.ChannelEEG, Unit: "V"})
	}
	if err := r.prod.PublishStreamInfo(r.ctx, r.topics, "raw", info); err != nil {
		r.t.Fatal(err)
	}
}

func trustFrame(id string, epoch, seq uint64, channels int) *streams.Frame {
	f := &streams.Frame{StreamID: id, Epoch: epoch, Seq: seq, SourceTimeNs: int64(seq) * 32e6, NumSamples: 8, NumChannels: channels,
		Samples: make([]float32, 8*channels)}
	for i := range f.Samples {
		f.Samples[i] = float32(math.Sin(float64(int(seq)*8*channels+i))) * 1e-5
	}
	return f
}

func (r *trustRig) frame(f *streams.Frame) {
	r.t.Helper()
	if err := r.prod.PublishFrames(r.ctx, r.topics.Raw, f); err != nil {
		r.t.Fatal(err)
	}
}

// message writes a raw Kafka message to the raw topic; header "" writes none.
func (r *trustRig) message(key string, value []byte, header string) {
	r.t.Helper()
	m := kafka.Message{Key: []byte(key), Value: value}
	if header != "" {
		m.Headers = []kafka.Header{{Key: streams.HeaderType, Value: []byte(header)}}
	}
	if err := r.raw.WriteMessages(r.ctx, m); err != nil {
		r.t.Fatal(err)
	}
}

// readClean reads n frames from the clean topic and returns the (stream, epoch, seq) of each.
func (r *trustRig) readClean(n int) []string {
	r.t.Helper()
	c, err := streams.NewConsumer(r.cfg, streams.ConsumerConfig{Topic: r.topics.Clean, Partition: 0, FromStart: true})
	if err != nil {
		r.t.Fatal(err)
	}
	defer c.Close()
	var got []string
	var f streams.Frame
	for len(got) < n {
		m, err := c.Fetch(r.ctx)
		if err != nil {
			r.t.Fatalf("clean frame %d of %d: %v (got %v)", len(got)+1, n, err, got)
		}
		if streams.MessageType(m) != streams.TypeFrame {
			continue
		}
		if err := streams.DecodeFrame(m.Value, &f); err != nil {
			r.t.Fatal(err)
		}
		got = append(got, frameID(f.StreamID, f.Epoch, f.Seq))
	}
	return got
}

func frameID(id string, epoch, seq uint64) string {
	return id + "/" + itoa(epoch) + "#" + itoa(seq)
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		if v /= 10; v == 0 {
			return string(b[i:])
		}
	}
}

// counterValue returns the value of a counter or gauge family's series whose labels include all of want.
func counterValue(t *testing.T, m *metrics.Metrics, name string, want ...string) float64 {
	t.Helper()
	mf, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range mf {
		if f.GetName() != name {
			continue
		}
	series:
		for _, x := range f.Metric {
			for i := 0; i+1 < len(want); i += 2 {
				ok := false
				for _, l := range x.Label {
					if l.GetName() == want[i] && l.GetValue() == want[i+1] {
						ok = true
					}
				}
				if !ok {
					continue series
				}
			}
			if x.Counter != nil {
				sum += x.Counter.GetValue()
			} else if x.Gauge != nil {
				sum += x.Gauge.GetValue()
			}
		}
	}
	return sum
}

// eventually waits (without a timing assertion: the rig's context bounds it) for cond.
func (r *trustRig) eventually(what string, cond func() bool) {
	r.t.Helper()
	for !cond() {
		select {
		case <-r.ctx.Done():
			r.t.Fatalf("gave up waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Every kind of poison message, interleaved with two good streams: the good streams come through
// whole and in order, each poison message is rejected under its reason (none counted as a duplicate),
// nothing crashes, and a stream's rejections are logged once.
func TestPoisonMessagesOnTheRawTopic(t *testing.T) {
	r := startTrustRig(t)
	const epoch, frames = 1_000, 12
	// Frames of five streams nobody described come first: they must not hold up the others.
	for k := range 5 {
		r.frame(trustFrame("ghost-"+itoa(uint64(k)), epoch, 0, trustChannels))
	}
	r.message("good-1", nil, streams.TypeFrame) // an empty value with the frame header
	r.info("good-1", epoch)
	r.info("good-2", epoch)
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32()) | 0x80 // continuation bits everywhere: never a valid protobuf tag
		}
		return b
	}
	var want []string
	for i := range uint64(frames) {
		switch i {
		case 1:
			r.message("good-1", garbage(64), streams.TypeFrame) // random bytes
			r.message("", nil, "")                              // a null value, no header
			r.message("good-1", []byte{}, "")                   // an empty value without header
		case 2:
			r.frame(trustFrame("good-1", epoch, i, 7)) // seven channels, and the sequence number the good frame is about to take
		case 3:
			r.message("good-2", garbage(900<<10), streams.TypeFrame) // 900 KB of garbage
			nan := trustFrame("good-2", epoch, i, trustChannels)
			nan.Samples[5] = float32(math.NaN())
			r.frame(nan)
		case 4:
			r.frame(trustFrame("good-1", epoch, 1<<62, 7))             // sequence 2^62 with a wrong channel count
			r.frame(trustFrame("good-2", epoch, 1<<62, trustChannels)) // sequence 2^62, well formed
		case 5:
			r.message("good-1", []byte("stream info"), streams.TypeStreamInfo) // not a frame
			inf := trustFrame("good-1", epoch, i, trustChannels)
			inf.Samples[0] = float32(math.Inf(1))
			r.frame(inf)
		}
		for _, id := range []string{"good-1", "good-2"} {
			r.frame(trustFrame(id, epoch, i, trustChannels))
			want = append(want, frameID(id, epoch, i))
		}
	}
	// Each stream whole and in its order; how the two streams interleave on the topic is up to the
	// asynchronous result writes.
	got := r.readClean(len(want))
	if g, w := perStream(got), perStream(want); !maps.EqualFunc(g, w, slices.Equal) {
		t.Fatalf("clean topic, per stream:\n got %v\nwant %v", g, w)
	}
	r.eventually("every rejection counted", func() bool {
		return counterValue(t, r.m, "neurostream_rejected_total") >= 11
	})
	for reason, n := range map[string]float64{"undecodable": 2, "no-stream-id": 3, "channel-count": 2, "invalid-frame": 2,
		"sequence-jump": 1, "not-a-frame": 1} {
		if got := counterValue(t, r.m, "neurostream_rejected_total", "reason", reason); got != n {
			t.Errorf("rejected %s: %v, want %v", reason, got, n)
		}
	}
	if d := counterValue(t, r.m, "neurostream_sequence_duplicates_total"); d != 0 {
		t.Errorf("%v frames counted as duplicates, want 0: rejections are not duplicates", d)
	}
	if g := counterValue(t, r.m, "neurostream_sequence_gap_frames_total"); g != 0 {
		t.Errorf("%v frames counted missing, want 0", g)
	}
	// good-1 had three frames rejected (7 channels twice, an infinite sample): one log line.
	if n := strings.Count(r.log.String(), "stream=good-1"); n != 1 {
		t.Errorf("good-1's rejections logged %d times, want once a minute:\n%s", n, r.log.String())
	}
	// The ghosts are still held, not refused: nobody waited for their descriptions.
	if n := counterValue(t, r.m, "neurostream_rejected_total", "reason", "no-stream-info"); n != 0 {
		t.Errorf("%v ghost frames refused already", n)
	}
	// A description that comes late releases the stream's held frames, in order.
	r.frame(trustFrame("ghost-3", epoch, 1, trustChannels))
	r.info("ghost-3", epoch)
	got = r.readClean(len(want) + 2)
	if tail := strings.Join(got[len(want):], " "); tail != "ghost-3/1000#0 ghost-3/1000#1" {
		t.Fatalf("held frames of ghost-3: %v", tail)
	}
}

// A source restarted with the same stream id starts a new epoch at sequence 0: its frames are taken
// as a new sequence and the restart counted, not dropped as duplicates.
func TestRestartedSourceStartsANewSequence(t *testing.T) {
	r := startTrustRig(t)
	var want []string
	for run, epoch := range []uint64{1_000, 2_000} {
		r.info("eeg", epoch)
		for i := range uint64(10) {
			r.frame(trustFrame("eeg", epoch, i, trustChannels))
			want = append(want, frameID("eeg", epoch, i))
		}
		if run == 0 {
			r.frame(trustFrame("eeg", epoch, 3, trustChannels)) // a genuine duplicate
		}
	}
	got := r.readClean(len(want))
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("clean topic:\n got %v\nwant %v", got, want)
	}
	r.eventually("the restart counted", func() bool {
		return counterValue(t, r.m, "neurostream_sequence_restarts_total") == 1
	})
	if d := counterValue(t, r.m, "neurostream_sequence_duplicates_total"); d != 1 {
		t.Errorf("duplicates: %v, want the 1 genuine one", d)
	}
}

// blockingStage holds the first frame until released, to stall its consumer.
type blockingStage struct {
	entered chan struct{}
	release chan struct{}
	once    *sync.Once
}

func (b *blockingStage) Start(in streams.StreamInfo) (streams.StreamInfo, error) { return in, nil }
func (b *blockingStage) Process(ctx context.Context, f *streams.Frame, _ pipeline.Emitter) error {
	b.once.Do(func() {
		close(b.entered)
		select {
		case <-b.release:
		case <-ctx.Done():
		}
	})
	return nil
}

// The consumer-lag gauge follows the broker while the consumer is stuck in a frame.
func TestConsumerLagMovesDuringAStall(t *testing.T) {
	cfg := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, 1, 1); err != nil {
		t.Fatal(err)
	}
	prod, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	st := &blockingStage{entered: make(chan struct{}), release: make(chan struct{}), once: new(sync.Once)}
	m := metrics.New()
	info := streams.StreamInfo{StreamID: "eeg", SampleRateHz: 250, Channels: make([]streams.Channel, trustChannels)}
	proc, err := pipeline.NewProcessor(pipeline.ProcessorConfig{Name: "stall", Sink: &pipeline.KafkaSink{Producer: prod, Topics: topics},
		Stages:  []pipeline.StageFactory{{Name: "block", New: func() (pipeline.Stage, error) { return st, nil }}},
		Lookup:  func(context.Context, string) (streams.StreamInfo, error) { return info, nil },
		Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Raw, GroupID: "stall", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	consCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Consume(consCtx, c, topics.Raw, proc, m, slog.New(slog.NewTextHandler(&syncLog{}, nil)))
	}()
	if err := prod.PublishFrames(ctx, topics.Raw, trustFrame("eeg", 1, 0, trustChannels)); err != nil {
		t.Fatal(err)
	}
	<-st.entered
	for i := range uint64(20) {
		if err := prod.PublishFrames(ctx, topics.Raw, trustFrame("eeg", 1, i+1, trustChannels)); err != nil {
			t.Fatal(err)
		}
	}
	lag := func() float64 { return counterValue(t, m, "neurostream_consumer_lag_messages") }
	for lag() != 20 {
		select {
		case <-ctx.Done():
			t.Fatalf("lag gauge reads %v during the stall, want 20", lag())
		case <-time.After(50 * time.Millisecond):
		}
	}
	close(st.release)
	for lag() != 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("lag gauge reads %v once caught up, want 0", lag())
		case <-time.After(50 * time.Millisecond):
		}
	}
	stop()
	<-done
}

// Hostile messages on the stream-info topic: undecodable bytes, a description that cannot be used
// (no channels, a rate of 0), one whose key names another stream, one from a newer schema and a
// tombstone are skipped with a warning; the good streams keep their descriptions and their frames
// come through.
func TestPoisonOnTheStreamInfoTopic(t *testing.T) {
	r := startTrustRig(t)
	const epoch = 1_000
	r.info("good-1", epoch)
	r.info("good-2", epoch)
	w := &kafka.Writer{Addr: kafka.TCP(r.cfg.Brokers...), Topic: r.topics.StreamInfo, BatchSize: 1, BatchTimeout: time.Millisecond,
		RequiredAcks: kafka.RequireAll}
	defer w.Close()
	bad := func(key string, value []byte) {
		t.Helper()
		if err := w.WriteMessages(r.ctx, kafka.Message{Key: []byte(key), Value: value,
			Headers: []kafka.Header{{Key: streams.HeaderType, Value: []byte(streams.TypeStreamInfo)}}}); err != nil {
			t.Fatal(err)
		}
	}
	marshal := func(info *streams.StreamInfo) []byte {
		b, err := streams.MarshalStreamInfo(info)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bad("raw/good-1", []byte{0xff, 0xff, 0xff, 0xff})                                                             // undecodable
	bad("raw/good-1", marshal(&streams.StreamInfo{StreamID: "good-1", SampleRateHz: 250}))                        // no channels
	bad("raw/good-2", marshal(&streams.StreamInfo{StreamID: "good-2", Channels: []streams.Channel{{Name: "x"}}})) // rate 0
	bad("raw/good-2", marshal(&streams.StreamInfo{StreamID: "good-1", SampleRateHz: 250, Channels: []streams.Channel{{Name: "x"}}}))
	bad("raw/good-1", marshal(&streams.StreamInfo{SchemaVersion: streams.SchemaVersion + 1, StreamID: "good-1", SampleRateHz: 250,
		Channels: []streams.Channel{{Name: "x"}}}))
	bad("raw/ghost", nil) // a tombstone for a stream nobody described
	// One warning per key, however many bad descriptions it had; the frames come once all were read.
	r.eventually("the skipped descriptions logged", func() bool { return strings.Count(r.log.String(), "skipping a stream description") == 2 })
	var want []string
	for i := range uint64(6) {
		for _, id := range []string{"good-1", "good-2"} {
			r.frame(trustFrame(id, epoch, i, trustChannels))
			want = append(want, frameID(id, epoch, i))
		}
	}
	got := r.readClean(len(want))
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("clean topic:\n got %v\nwant %v", got, want)
	}
	if n := counterValue(t, r.m, "neurostream_rejected_total"); n != 0 {
		t.Errorf("%v good frames rejected", n)
	}
	if n := strings.Count(r.log.String(), "skipping a stream description"); n != 2 {
		t.Errorf("skipped descriptions logged %d times, want once per key", n)
	}
}

// perStream splits frame ids ("stream/epoch#seq") by stream, each in the order given.
func perStream(ids []string) map[string][]string {
	out := map[string][]string{}
	for _, id := range ids {
		stream, _, _ := strings.Cut(id, "/")
		out[stream] = append(out[stream], id)
	}
	return out
}
