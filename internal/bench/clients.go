package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// benchClients puts the same frames (our codec, 8 samples of 64, 306 or 1,024 float32 channels)
// through the broker with the Kafka client the transport uses (segmentio/kafka-go: the pipeline's
// leader connections and its Reader, and the Writer of bulk publishing) and with franz-go's kgo, in
// the same run, and prints kgo/kafka-go ratios. With the broker in its own process (the neurostream
// binary's `broker`), CPU per frame splits into the clients' (this process, getrusage) and the
// broker's (/proc/PID/stat); in-process (go test) the two are one figure.
//
// Four measurements: produce only (acknowledged, one goroutine, 32 frames a call), consume only
// (the same prefilled partition read from the start), the end-to-end ceiling (one producer, one
// consumer at once) and produce -> consume latency at fixed rates (100 and 1,000 64-channel 250 Hz
// streams' worth of frames, one goroutine per stream publishing each frame synchronously as the
// sources do, one consumer-group member reading eight partitions as the pipeline does).
func benchClients(ctx context.Context, r *benchRun) error {
	dur := 4 * time.Second
	if r.short {
		dur = 1500 * time.Millisecond
	}
	shapes := []int{64, 306, 1024}
	if r.short {
		shapes = []int{64}
	}
	where := "its own process (" + r.brokerExe + " broker): client and broker CPU measured apart"
	if r.brokerExe == "" {
		where = "this process (embedded): \"client\" CPU includes the broker's"
	}
	fmt.Fprintf(r.out, "frames: our codec, 8 samples x 64/306/1,024 float32 channels; broker: kfake in %s\n", where)
	fmt.Fprintf(r.out, "kafka-go %s; kgo %s: defaults but linger 0 and no compression (kafka-go sends uncompressed), acks=all both;\n"+
		"kgo async holds up to %d MiB unacknowledged\n", moduleVersion("github.com/segmentio/kafka-go"), moduleVersion("github.com/twmb/franz-go"), asyncBufferBytes>>20)

	fmt.Fprintf(r.out, "\nproduce only: one goroutine, 32 frames a call (%d at 1,024 ch: one batch stays under 1 MB), acknowledged, 1 partition, %v a case\n", framesPerCall(1024), dur)
	printClientsHeader(r, "producer")
	for _, ch := range shapes {
		res := map[string]*clientsResult{}
		for _, p := range producerKinds {
			x, err := clientsProduceRun(ctx, r, ch, p, dur)
			if err != nil {
				return fmt.Errorf("produce %d ch with %s: %w", ch, p, err)
			}
			res[p] = x
			printClientsRow(r, ch, p, x)
		}
		printClientsRatio(r, "kgo ProduceSync / kafka-go Conn", res[prodKgoSync], res[prodConn])
		printClientsRatio(r, "kgo Produce async / kafka-go Writer", res[prodKgoAsync], res[prodWriter])
	}

	fmt.Fprintf(r.out, "\nconsume only: one partition prefilled (kafka-go Writer, calls as above), read from the start and decoded\n")
	printClientsHeader(r, "consumer")
	for _, ch := range shapes {
		res, err := clientsConsumeRun(ctx, r, ch, dur)
		if err != nil {
			return fmt.Errorf("consume %d ch: %w", ch, err)
		}
		for _, c := range consumerKinds {
			printClientsRow(r, ch, c, res[c])
		}
		printClientsRatio(r, "kgo / kafka-go Reader", res[consKgo], res[consReader])
	}

	fmt.Fprintf(r.out, "\nend-to-end ceiling: one producer and one consumer at once, 1 partition, %v a case (frames/s is what the consumer read)\n", dur)
	printClientsHeader(r, "producer -> consumer")
	for _, ch := range shapes {
		var bestKafkaGo, bestKgo *clientsResult
		for _, pair := range ceilingPairs {
			x, err := clientsCeilingRun(ctx, r, ch, pair, dur)
			if err != nil {
				return fmt.Errorf("ceiling %d ch with %s->%s: %w", ch, pair.producer, pair.consumer, err)
			}
			printClientsRow(r, ch, pair.producer+"->"+strings.Fields(pair.consumer)[1], x)
			best := &bestKafkaGo
			if strings.HasPrefix(pair.producer, "kgo") {
				best = &bestKgo
			}
			if *best == nil || x.framesPerSec > (*best).framesPerSec {
				*best = x
			}
		}
		printClientsRatio(r, "best kgo / best kafka-go", bestKgo, bestKafkaGo)
	}

	fmt.Fprintf(r.out, "\nlatency at a fixed rate: one goroutine per 250 Hz stream publishing each 8-sample frame when due, acknowledged;\n"+
		"one consumer-group member reading 8 partitions; latency = consumer decoded - frame due; %v a case\n", dur)
	fmt.Fprintf(r.out, "%-8s %-8s %-22s %9s %10s %10s %10s %9s %10s %10s %9s %6s\n", "channels", "streams", "client", "frames/s", "p50", "p99", "max",
		"end lag", "client µs", "broker µs", "allocs", "load")
	cases := []struct{ ch, streams int }{{64, 100}, {64, 1000}, {306, 100}, {1024, 100}}
	if r.short {
		cases = cases[:1]
	}
	for _, c := range cases {
		res := map[string]*clientsLatencyResult{}
		for _, k := range latencyKinds {
			x, err := clientsLatencyRun(ctx, r, c.ch, c.streams, k, dur)
			if err != nil {
				return fmt.Errorf("latency %d ch x %d streams with %s: %w", c.ch, c.streams, k, err)
			}
			res[k] = x
			fmt.Fprintf(r.out, "%-8d %-8d %-22s %9.0f %10s %10s %10s %9d %10.1f %10s %9.1f %6s\n", c.ch, c.streams, k, x.framesPerSec,
				fmtMs(x.p(0.5)), fmtMs(x.p(0.99)), fmtMs(x.p(1)), x.endLag, x.clientUs, fmtBrokerUs(x.brokerUs), x.allocs, loadAverage())
		}
		kg, kf := res[latencyKinds[1]], res[latencyKinds[0]]
		fmt.Fprintf(r.out, "%-8s kgo/kafka-go: p50 %.2fx, p99 %.2fx, client CPU/frame %.2fx, broker CPU/frame %s\n", "", ratio(float64(kg.p(0.5)), float64(kf.p(0.5))),
			ratio(float64(kg.p(0.99)), float64(kf.p(0.99))), ratio(kg.clientUs, kf.clientUs), fmtRatio(kg.brokerUs, kf.brokerUs))
	}
	fmt.Fprintln(r.out, "µs and allocs are per frame: client = this process's CPU time (getrusage) and heap allocations, broker = its process's CPU time")
	return nil
}

// moduleVersion is the version of a module built into this binary ("?" where unknown).
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "?"
}

const (
	prodConn     = "kafka-go Conn"     // the pipeline's low-latency producer (streams.LowLatency)
	prodWriter   = "kafka-go Writer"   // bulk publishing (streams.Bulk)
	prodKgoSync  = "kgo ProduceSync"   // kgo, waiting for each call's acknowledgement
	prodKgoAsync = "kgo Produce async" // kgo, pipelined: acknowledgements come back in promises
	consReader   = "kafka-go Reader"
	consKgo      = "kgo PollFetches"
)

var (
	producerKinds = []string{prodConn, prodWriter, prodKgoSync, prodKgoAsync}
	consumerKinds = []string{consReader, consKgo}
	ceilingPairs  = []struct{ producer, consumer string }{
		{prodConn, consReader}, {prodWriter, consReader}, {prodKgoSync, consKgo}, {prodKgoAsync, consKgo},
	}
	latencyKinds = []string{"kafka-go Conn+Reader", "kgo Sync+PollFetches"}
)

// clientsResult is one throughput case: frames per second and what each frame cost.
type clientsResult struct {
	framesPerSec, mbPerSec float64
	clientUs, brokerUs     float64 // CPU µs per frame; brokerUs < 0 when not measured apart
	allocs                 float64 // heap allocations per frame in this process
}

func printClientsHeader(r *benchRun, what string) {
	fmt.Fprintf(r.out, "%-8s %-24s %10s %8s %12s %12s %9s %6s\n", "channels", what, "frames/s", "MB/s", "client µs", "broker µs", "allocs", "load")
}

func printClientsRow(r *benchRun, ch int, name string, x *clientsResult) {
	fmt.Fprintf(r.out, "%-8d %-24s %10.0f %8.1f %12.2f %12s %9.2f %6s\n", ch, name, x.framesPerSec, x.mbPerSec, x.clientUs, fmtBrokerUs(x.brokerUs), x.allocs, loadAverage())
}

func printClientsRatio(r *benchRun, what string, kg, kf *clientsResult) {
	fmt.Fprintf(r.out, "%-8s %s: frames/s %.2fx, client CPU/frame %.2fx, allocs/frame %.2fx, broker CPU/frame %s\n", "", what,
		ratio(kg.framesPerSec, kf.framesPerSec), ratio(kg.clientUs, kf.clientUs), ratio(kg.allocs, kf.allocs), fmtRatio(kg.brokerUs, kf.brokerUs))
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func fmtRatio(a, b float64) string {
	if a < 0 || b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func fmtBrokerUs(us float64) string {
	if us < 0 {
		return "in client"
	}
	return fmt.Sprintf("%.2f", us)
}

// meter samples this process's CPU time and allocations, and the broker's CPU time.
type meter struct {
	b       *benchBroker
	t0      time.Time
	cpu0    time.Duration
	broker0 time.Duration
	mallocs uint64
}

func startMeter(b *benchBroker) *meter {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &meter{b: b, t0: time.Now(), cpu0: CPUTime(), broker0: b.cpu(), mallocs: ms.Mallocs}
}

// result turns what was spent since the start into costs per frame.
func (m *meter) result(frames int64, frameBytes int, elapsed time.Duration) *clientsResult {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n := float64(max(frames, 1))
	res := &clientsResult{
		framesPerSec: float64(frames) / elapsed.Seconds(),
		clientUs:     float64(CPUTime()-m.cpu0) / 1e3 / n,
		brokerUs:     -1,
		allocs:       float64(ms.Mallocs-m.mallocs) / n,
	}
	res.mbPerSec = res.framesPerSec * float64(frameBytes) / 1e6
	if m.b.cmd != nil {
		res.brokerUs = float64(m.b.cpu()-m.broker0) / 1e3 / n
	}
	return res
}

// benchBroker is kfake, in its own process when the suite knows the neurostream binary.
type benchBroker struct {
	addr   string
	cmd    *exec.Cmd
	inproc *broker.Broker
}

func startBenchBroker(ctx context.Context, r *benchRun) (*benchBroker, error) {
	if r.brokerExe == "" {
		b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", DefaultPartitions: 1})
		if err != nil {
			return nil, err
		}
		return &benchBroker{addr: b.Addr(), inproc: b}, nil
	}
	// The memory budget lets long produce-only cases run: the broker drops the oldest records
	// once a second beyond it. Prefills stay under it.
	cmd := exec.CommandContext(ctx, r.brokerExe, "broker", "--addr", "127.0.0.1:0", "--memory-budget-mib", "768")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the broker (%s broker): %w", r.brokerExe, err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "listening on "); ok {
				addr <- strings.Fields(rest)[0]
			}
		}
	}()
	b := &benchBroker{cmd: cmd}
	select {
	case b.addr = <-addr:
		return b, nil
	case <-time.After(30 * time.Second):
		b.close()
		return nil, fmt.Errorf("%s broker printed no address within 30 s", r.brokerExe)
	}
}

// cpu is the broker process's CPU time so far (0 in-process or where /proc is missing).
func (b *benchBroker) cpu() time.Duration {
	if b.cmd == nil {
		return 0
	}
	return procCPUTime(b.cmd.Process.Pid)
}

func (b *benchBroker) close() {
	if b.inproc != nil {
		b.inproc.Close()
		return
	}
	_ = b.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
}

// procCPUTime reads utime + stime of a process from /proc/PID/stat (clock ticks of 10 ms).
func procCPUTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func benchFrames(n, ch int, stream string) []*streams.Frame {
	frames := make([]*streams.Frame, n)
	for i := range frames {
		frames[i] = &streams.Frame{StreamID: stream, NumSamples: 8, NumChannels: ch, Samples: make([]float32, 8*ch)}
		for j := range frames[i].Samples {
			frames[i].Samples[j] = float32(j%997) * 1e-6
		}
	}
	return frames
}

// framesPerCall is 32, or fewer where 32 frames would pass the broker's 1 MB limit on a record
// batch, so that a call is one batch with every client.
func framesPerCall(ch int) int { return min(32, 900_000/frameBytes(ch)) }

func frameBytes(ch int) int {
	return len(streams.AppendFrame(nil, benchFrames(1, ch, "clients-000")[0]))
}

// framePublisher publishes frames and counts those the broker acknowledged.
type framePublisher interface {
	publish(ctx context.Context, frames []*streams.Frame) error
	acked() int64
	flush(ctx context.Context) error
	close()
}

func newPublisher(kind string, cfg streams.Config, topic string, partitions int) (framePublisher, error) {
	switch kind {
	case prodConn, prodWriter:
		mode := streams.LowLatency
		if kind == prodWriter {
			mode = streams.Bulk
		}
		p, err := streams.NewProducer(cfg, mode)
		if err != nil {
			return nil, err
		}
		return &kafkaGoPublisher{p: p, topic: topic}, nil
	case prodKgoSync, prodKgoAsync:
		opts := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.ProducerLinger(0),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner())}
		if kind == prodKgoAsync {
			// Bounded like a source's memory would be: by default kgo buffers 50,000 records,
			// 0.5 GB of 306-channel frames.
			opts = append(opts, kgo.MaxBufferedBytes(asyncBufferBytes))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, err
		}
		return &kgoPublisher{cl: cl, topic: topic, partitions: partitions, async: kind == prodKgoAsync, parts: map[string]int32{}}, nil
	}
	return nil, fmt.Errorf("unknown producer %q", kind)
}

type kafkaGoPublisher struct {
	p     *streams.Producer
	topic string
	n     atomic.Int64
}

func (k *kafkaGoPublisher) publish(ctx context.Context, frames []*streams.Frame) error {
	if err := k.p.PublishFrames(ctx, k.topic, frames...); err != nil {
		return err
	}
	k.n.Add(int64(len(frames)))
	return nil
}
func (k *kafkaGoPublisher) acked() int64                { return k.n.Load() }
func (k *kafkaGoPublisher) flush(context.Context) error { return nil }
func (k *kafkaGoPublisher) close()                      { _ = k.p.Close() }

// asyncBufferBytes bounds what an asynchronous kgo producer holds unacknowledged.
const asyncBufferBytes = 16 << 20

// kgoPublisher encodes frames with our codec into reused records; partitions are chosen from the
// stream id as kafka-go's CRC32Balancer does, so both clients place a stream alike.
type kgoPublisher struct {
	cl         *kgo.Client
	topic      string
	partitions int
	async      bool
	n          atomic.Int64
	errMu      sync.Mutex
	err        error

	mu    sync.Mutex
	parts map[string]int32
	sync  sync.Pool // *kgoBatch for ProduceSync
	free  sync.Pool // *kgo.Record whose promise has run (async)
}

type kgoBatch struct{ recs []*kgo.Record }

var kgoFrameHeaders = []kgo.RecordHeader{{Key: streams.HeaderType, Value: []byte(streams.TypeFrame)}}

func (k *kgoPublisher) partition(stream string) int32 {
	k.mu.Lock()
	defer k.mu.Unlock()
	p, ok := k.parts[stream]
	if !ok {
		ids := make([]int, k.partitions)
		for i := range ids {
			ids[i] = i
		}
		p = int32((&kafka.CRC32Balancer{}).Balance(kafka.Message{Key: []byte(stream)}, ids...))
		k.parts[stream] = p
	}
	return p
}

func (k *kgoPublisher) fill(rec *kgo.Record, f *streams.Frame) {
	key, val := rec.Key[:0], rec.Value[:0]
	*rec = kgo.Record{Topic: k.topic, Partition: k.partition(f.StreamID), Headers: kgoFrameHeaders,
		Key: append(key, f.StreamID...), Value: streams.AppendFrame(val, f)}
}

func (k *kgoPublisher) publish(ctx context.Context, frames []*streams.Frame) error {
	if k.async {
		for _, f := range frames {
			rec, _ := k.free.Get().(*kgo.Record)
			if rec == nil {
				rec = &kgo.Record{}
			}
			k.fill(rec, f)
			k.cl.Produce(ctx, rec, k.promise)
		}
		k.errMu.Lock()
		defer k.errMu.Unlock()
		return k.err
	}
	b, _ := k.sync.Get().(*kgoBatch)
	if b == nil {
		b = &kgoBatch{}
	}
	for len(b.recs) < len(frames) {
		b.recs = append(b.recs, &kgo.Record{})
	}
	for i, f := range frames {
		k.fill(b.recs[i], f)
	}
	err := k.cl.ProduceSync(ctx, b.recs[:len(frames)]...).FirstErr()
	k.sync.Put(b)
	if err != nil {
		return err
	}
	k.n.Add(int64(len(frames)))
	return nil
}

func (k *kgoPublisher) promise(rec *kgo.Record, err error) {
	if err != nil {
		k.errMu.Lock()
		k.err = cmpErr(k.err, err)
		k.errMu.Unlock()
	} else {
		k.n.Add(1)
	}
	k.free.Put(rec)
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (k *kgoPublisher) acked() int64                    { return k.n.Load() }
func (k *kgoPublisher) flush(ctx context.Context) error { return k.cl.Flush(ctx) }
func (k *kgoPublisher) close()                          { k.cl.Close() }

// frameReader decodes the next frame.
type frameReader interface {
	next(ctx context.Context, f *streams.Frame) error
	close()
}

// newReader reads topic from its start: with group set as a consumer-group member committing what
// it handled (the pipeline's way), otherwise partition 0 directly.
func newReader(kind string, cfg streams.Config, topic string, group bool) (frameReader, error) {
	switch kind {
	case consReader:
		cc := streams.ConsumerConfig{Topic: topic, FromStart: true}
		if group {
			cc.GroupID = "clients-bench-kafka-go"
		}
		c, err := streams.NewConsumer(cfg, cc)
		if err != nil {
			return nil, err
		}
		return &kafkaGoReader{c: c, group: group}, nil
	case consKgo:
		// Fetch sizes as the kafka-go Reader's (MaxBytes 16 MiB per partition), wait as its MaxWait.
		opts := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.FetchMaxWait(time.Second), kgo.FetchMaxPartitionBytes(16 << 20)}
		if group {
			opts = append(opts, kgo.ConsumerGroup("clients-bench-kgo"), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		} else {
			opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, err
		}
		return &kgoReader{cl: cl, seq: streams.NewSequenceChecker()}, nil
	}
	return nil, fmt.Errorf("unknown consumer %q", kind)
}

type kafkaGoReader struct {
	c     *streams.Consumer
	group bool
}

func (k *kafkaGoReader) next(ctx context.Context, f *streams.Frame) error {
	m, _, err := k.c.ReadFrame(ctx, f)
	if err != nil {
		return err
	}
	if k.group {
		return k.c.Commit(ctx, m)
	}
	return nil
}

func (k *kafkaGoReader) close() { _ = k.c.Close() }

// kgoReader does what streams.Consumer.ReadFrame does with a kafka-go message: type header,
// decode, sequence check.
type kgoReader struct {
	cl   *kgo.Client
	iter *kgo.FetchesRecordIter
	seq  *streams.SequenceChecker
}

func (k *kgoReader) next(ctx context.Context, f *streams.Frame) error {
	for k.iter == nil || k.iter.Done() {
		fs := k.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, e := range fs.Errors() {
			return fmt.Errorf("kgo fetch %s[%d]: %w", e.Topic, e.Partition, e.Err)
		}
		k.iter = fs.RecordIter()
	}
	rec := k.iter.Next()
	for _, h := range rec.Headers {
		if h.Key == streams.HeaderType && string(h.Value) != streams.TypeFrame {
			return fmt.Errorf("%w: %s", streams.ErrNotFrame, h.Value)
		}
	}
	if err := streams.DecodeFrame(rec.Value, f); err != nil {
		return fmt.Errorf("%s[%d]@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
	}
	k.seq.Check(f.StreamID, f.Epoch, f.Seq)
	return nil
}

func (k *kgoReader) close() { k.cl.Close() }

func clientsTopic(ctx context.Context, b *benchBroker, partitions int) (streams.Config, string, error) {
	cfg := streams.Config{Brokers: []string{b.addr}, Namespace: "clients"}
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, partitions, 1); err != nil {
		return cfg, "", err
	}
	return cfg, topics.Raw, nil
}

// produceFor publishes calls of len(frames) frames from one goroutine until dur has passed or maxFrames are
// sent, whichever comes first (0: no bound).
func produceFor(ctx context.Context, p framePublisher, frames []*streams.Frame, dur time.Duration, maxFrames int64) (int64, time.Duration, error) {
	start := time.Now()
	seq := uint64(0)
	for sent := int64(0); (dur <= 0 || time.Since(start) < dur) && (maxFrames <= 0 || sent < maxFrames); sent += int64(len(frames)) {
		for _, f := range frames {
			f.Seq = seq
			seq++
		}
		if err := p.publish(ctx, frames); err != nil {
			return 0, 0, err
		}
	}
	return p.acked(), time.Since(start), nil
}

func clientsProduceRun(ctx context.Context, r *benchRun, ch int, kind string, dur time.Duration) (*clientsResult, error) {
	b, err := startBenchBroker(ctx, r)
	if err != nil {
		return nil, err
	}
	defer b.close()
	cfg, topic, err := clientsTopic(ctx, b, 1)
	if err != nil {
		return nil, err
	}
	p, err := newPublisher(kind, cfg, topic, 1)
	if err != nil {
		return nil, err
	}
	defer p.close()
	frames := benchFrames(framesPerCall(ch), ch, "clients-000")
	if _, _, err := produceFor(ctx, p, frames, 0, int64(len(frames))); err != nil { // connect outside the measurement
		return nil, err
	}
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	base := p.acked()
	m := startMeter(b)
	n, elapsed, err := produceFor(ctx, p, frames, dur, 0)
	if err != nil {
		return nil, err
	}
	res := m.result(n-base, frameBytes(ch), elapsed)
	return res, p.flush(ctx)
}

// clientsConsumeRun prefills one partition, then reads it all from the start with each consumer.
func clientsConsumeRun(ctx context.Context, r *benchRun, ch int, dur time.Duration) (map[string]*clientsResult, error) {
	b, err := startBenchBroker(ctx, r)
	if err != nil {
		return nil, err
	}
	defer b.close()
	cfg, topic, err := clientsTopic(ctx, b, 1)
	if err != nil {
		return nil, err
	}
	p, err := newPublisher(prodWriter, cfg, topic, 1)
	if err != nil {
		return nil, err
	}
	defer p.close()
	fb := frameBytes(ch)
	limit := int64(min(300<<20/fb, 200_000)) // under the broker's memory budget
	if r.short {
		limit = 20_000
	}
	n, _, err := produceFor(ctx, p, benchFrames(framesPerCall(ch), ch, "clients-000"), 4*dur, limit)
	if err != nil {
		return nil, err
	}
	res := map[string]*clientsResult{}
	for _, kind := range consumerKinds {
		rd, err := newReader(kind, cfg, topic, false)
		if err != nil {
			return nil, err
		}
		var f streams.Frame
		if err := rd.next(ctx, &f); err != nil { // connect outside the measurement
			rd.close()
			return nil, err
		}
		m := startMeter(b)
		for i := int64(1); i < n; i++ {
			if err := rd.next(ctx, &f); err != nil {
				rd.close()
				return nil, err
			}
		}
		res[kind] = m.result(n-1, fb, time.Since(m.t0))
		rd.close()
	}
	return res, nil
}

// clientsCeilingRun: one producer publishing as fast as it can while one consumer reads.
func clientsCeilingRun(ctx context.Context, r *benchRun, ch int, pair struct{ producer, consumer string }, dur time.Duration) (*clientsResult, error) {
	b, err := startBenchBroker(ctx, r)
	if err != nil {
		return nil, err
	}
	defer b.close()
	cfg, topic, err := clientsTopic(ctx, b, 1)
	if err != nil {
		return nil, err
	}
	p, err := newPublisher(pair.producer, cfg, topic, 1)
	if err != nil {
		return nil, err
	}
	defer p.close()
	frames := benchFrames(framesPerCall(ch), ch, "clients-000")
	if _, _, err := produceFor(ctx, p, frames, 0, int64(len(frames))); err != nil {
		return nil, err
	}
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	rd, err := newReader(pair.consumer, cfg, topic, false)
	if err != nil {
		return nil, err
	}
	defer rd.close()
	var f streams.Frame
	for range frames { // the warm-up frames: connected, positioned
		if err := rd.next(ctx, &f); err != nil {
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var read atomic.Int64
	done := make(chan error, 1)
	go func() {
		var f streams.Frame
		for {
			if err := rd.next(runCtx, &f); err != nil {
				done <- err
				return
			}
			read.Add(1)
		}
	}()
	m := startMeter(b)
	if _, _, err := produceFor(ctx, p, frames, dur, 0); err != nil {
		return nil, err
	}
	res := m.result(read.Load(), frameBytes(ch), time.Since(m.t0))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		return nil, err
	}
	return res, nil
}

type clientsLatencyResult struct {
	*clientsResult
	lat       []time.Duration // sorted
	endLag    int64           // frames published but not consumed 3 s after the last publish
	published int64
}

func (c *clientsLatencyResult) p(q float64) time.Duration {
	if len(c.lat) == 0 {
		return 0
	}
	return c.lat[int(q*float64(len(c.lat)-1))]
}

// clientsLatencyRun: nStreams 250 Hz streams, each a goroutine publishing its 8-sample frame when
// due (every 32 ms, phases spread over the period), read by one consumer-group member.
func clientsLatencyRun(ctx context.Context, r *benchRun, ch, nStreams int, kind string, dur time.Duration) (*clientsLatencyResult, error) {
	b, err := startBenchBroker(ctx, r)
	if err != nil {
		return nil, err
	}
	defer b.close()
	const partitions = 8
	cfg, topic, err := clientsTopic(ctx, b, partitions)
	if err != nil {
		return nil, err
	}
	pk, ck := prodConn, consReader
	if kind == latencyKinds[1] {
		pk, ck = prodKgoSync, consKgo
	}
	p, err := newPublisher(pk, cfg, topic, partitions)
	if err != nil {
		return nil, err
	}
	defer p.close()
	rd, err := newReader(ck, cfg, topic, true)
	if err != nil {
		return nil, err
	}
	defer rd.close()

	frames := make([][]*streams.Frame, nStreams)
	for i := range frames {
		frames[i] = benchFrames(1, ch, fmt.Sprintf("clients-%04d", i))
	}
	var read atomic.Int64
	var lat []time.Duration // the consumer's, read after it stopped
	var measureFrom atomic.Int64
	measureFrom.Store(1 << 62)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		var f streams.Frame
		for {
			if err := rd.next(runCtx, &f); err != nil {
				done <- err
				return
			}
			if f.AcquiredAtNs >= measureFrom.Load() {
				lat = append(lat, time.Duration(time.Now().UnixNano()-f.AcquiredAtNs))
			}
			read.Add(1)
		}
	}()
	// Warm-up: one frame from every stream, read before the clock starts (group joined, every
	// partition fetched, connections open).
	for i := range frames {
		if err := p.publish(ctx, frames[i]); err != nil {
			return nil, err
		}
	}
	if err := waitFor(ctx, 60*time.Second, func() bool { return read.Load() >= int64(nStreams) }); err != nil {
		return nil, fmt.Errorf("warm-up frames not read: %d of %d: %w", read.Load(), nStreams, err)
	}
	period := 32 * time.Millisecond
	start := time.Now().Add(20 * time.Millisecond)
	measureFrom.Store(start.UnixNano())
	end := start.Add(dur)
	var published atomic.Int64
	m := startMeter(b)
	var wg sync.WaitGroup
	errs := make(chan error, nStreams)
	for i := range frames {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			fs := frames[i]
			due := start.Add(period * time.Duration(i) / time.Duration(nStreams))
			for seq := uint64(1); due.Before(end); seq++ {
				time.Sleep(time.Until(due))
				fs[0].Seq, fs[0].AcquiredAtNs = seq, due.UnixNano()
				if err := p.publish(ctx, fs); err != nil {
					errs <- err
					return
				}
				published.Add(1)
				due = due.Add(period)
			}
		}(i)
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	target := int64(nStreams) + published.Load()
	_ = waitFor(ctx, 3*time.Second, func() bool { return read.Load() >= target })
	elapsed := time.Since(m.t0)
	res := &clientsLatencyResult{clientsResult: m.result(published.Load(), frameBytes(ch), elapsed), endLag: target - read.Load(), published: published.Load()}
	res.framesPerSec = float64(published.Load()) / dur.Seconds()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		return nil, err
	}
	slices.Sort(lat)
	res.lat = lat
	if len(lat) == 0 {
		return nil, errors.New("no frame read")
	}
	return res, nil
}

// waitFor polls cond every 5 ms until it holds or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}
