package pipeline_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/features"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

// The restart drill: a filter pipeline (raw -> clean) and a decode pipeline (clean -> features,
// predictions and tokens) are stopped, killed and rebalanced while frames flow, and what they publish is
// compared with an uninterrupted run of the same streams.

const (
	drillFrames     = 600 // per stream: 19.2 s at 250 Hz in 8-sample frames
	drillPartitions = 8
)

// drillCodebook is a 250 Hz, 1-40 Hz codebook of 0.2-s patches (absolute: separate processes run
// from the package directory too, but say so).
var drillCodebook, _ = filepath.Abs(filepath.Join("..", "configs", "models", "tokenizer-synthetic.json"))

func drillConfig(brokers []string, namespace string) *pipeline.Config {
	return &pipeline.Config{
		Kafka: streams.Config{Brokers: brokers, Namespace: namespace},
		Pipelines: []pipeline.PipelineConfig{
			{Name: "filter", Input: "raw", Output: "clean", CheckpointSec: 0.2, Stages: []pipeline.StageConfig{
				{Kind: "notch", FreqHz: 50, Q: 30},
				{Kind: "bandpass", LowHz: 1, HighHz: 40, Order: 4},
			}},
			{Name: "decode", Input: "clean", CheckpointSec: 0.2, Stages: []pipeline.StageConfig{
				{Kind: "features", WindowSec: 1, StepSec: 0.5, Extractors: []features.ExtractorConfig{{Kind: "variance"}, {Kind: "line_length"}}},
				{Kind: "decoder", Decoder: "alpha", Model: os.Getenv("NEUROSTREAM_DRILL_MODEL"), StepSec: 0.5},
				{Kind: "tokenizer", Model: drillCodebook},
			}},
		},
	}
}

// drillStreams picks stream ids that fall on both halves of the partitions, so that a second group
// member (which takes half of them) always takes some streams.
func drillStreams() []string {
	var ids []string
	low, high := 0, 0
	parts := make([]int, drillPartitions)
	for i := range parts {
		parts[i] = i
	}
	bal := &kafka.CRC32Balancer{}
	for i := 0; len(ids) < 4; i++ {
		id := fmt.Sprintf("drill-%d", i)
		p := bal.Balance(kafka.Message{Key: []byte(id)}, parts...)
		if p < drillPartitions/2 && low < 2 {
			low++
			ids = append(ids, id)
		} else if p >= drillPartitions/2 && high < 2 {
			high++
			ids = append(ids, id)
		}
	}
	return ids
}

// TestDrillChild is the separate pipeline process of TestRestartDrill (it runs only when that test
// starts it, and is killed with SIGKILL).
func TestDrillChild(t *testing.T) {
	addr, ns, name := os.Getenv("NEUROSTREAM_DRILL_BROKER"), os.Getenv("NEUROSTREAM_DRILL_NS"), os.Getenv("NEUROSTREAM_DRILL_PIPELINE")
	if addr == "" {
		t.Skip("started by TestRestartDrill only")
	}
	err := pipeline.Run(context.Background(), drillConfig([]string{addr}, ns), pipeline.RunOptions{Only: "pipelines", Pipeline: name,
		Partitions: drillPartitions, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	t.Fatalf("pipeline ended: %v", err)
}

// collector reads an output topic from its start and keeps every copy of every output.
type collector struct {
	mu     sync.Mutex
	copies map[string]map[string][]string // stream -> output key -> values of every copy
	total  int
}

func collect(t *testing.T, ctx context.Context, cfg streams.Config, topic string, decode func(kafka.Message) (stream, key, value string, err error)) *collector {
	t.Helper()
	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topic, GroupID: "drill-check-" + topic, FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{copies: make(map[string]map[string][]string)}
	go func() {
		defer c.Close()
		for {
			m, err := c.Fetch(ctx)
			if err != nil {
				return
			}
			s, k, v, err := decode(m)
			if err != nil {
				t.Errorf("%s: %v", topic, err)
				return
			}
			col.mu.Lock()
			if col.copies[s] == nil {
				col.copies[s] = make(map[string][]string)
			}
			col.copies[s][k] = append(col.copies[s][k], v)
			col.total++
			col.mu.Unlock()
		}
	}()
	return col
}

// distinct is the number of different outputs of the stream that has fewest.
func (c *collector) distinct(ids []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := math.MaxInt
	for _, id := range ids {
		n = min(n, len(c.copies[id]))
	}
	return n
}

func frameKey(m kafka.Message) (string, string, string, error) {
	var f streams.Frame
	if streams.MessageType(m) != streams.TypeFrame {
		return "", "", "", fmt.Errorf("not a frame: %q", streams.MessageType(m))
	}
	if err := streams.DecodeFrame(m.Value, &f); err != nil {
		return "", "", "", err
	}
	h := sha256.New()
	for _, v := range f.Samples[:f.NumSamples*f.NumChannels] {
		fmt.Fprintf(h, "%08x", math.Float32bits(v))
	}
	return f.StreamID, fmt.Sprint(f.Seq), fmt.Sprintf("t=%d %dx%d %x", f.SourceTimeNs, f.NumSamples, f.NumChannels, h.Sum(nil)), nil
}

func featureKey(m kafka.Message) (string, string, string, error) {
	v, err := streams.UnmarshalFeatures(m.Value)
	if err != nil {
		return "", "", "", err
	}
	return v.StreamID, fmt.Sprint(v.WindowEndSample), fmt.Sprintf("t=%d %v %v", v.WindowEndNs, v.Names, v.Values), nil
}

func tokensKey(m kafka.Message) (string, string, string, error) {
	var tk streams.Tokens
	if err := streams.DecodeTokens(m.Value, &tk); err != nil {
		return "", "", "", err
	}
	return tk.StreamID, fmt.Sprint(tk.WindowEndSample), fmt.Sprintf("%v %v %v", tk.Tokens, tk.Offsets, tk.Scales), nil
}

func predictionKey(m kafka.Message) (string, string, string, error) {
	var p streams.Prediction
	if err := json.Unmarshal(m.Value, &p); err != nil {
		return "", "", "", err
	}
	return p.StreamID, p.Decoder + "@" + fmt.Sprint(p.WindowEndSample), fmt.Sprintf("t=%d %s %v", p.WindowEndSourceNs, p.Label, p.Scores), nil
}

// publishDrill publishes every stream's frames, round by round; pace > 0 waits between rounds.
func publishDrill(ctx context.Context, cfg streams.Config, ids []string, pace time.Duration) error {
	prod, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		return err
	}
	defer prod.Close()
	topics := cfg.Topics()
	var srcs []pipeline.Source
	for i, id := range ids {
		s, err := synthetic.New(synthetic.Config{StreamID: id, Channels: 8, SampleRateHz: 250, FrameSamples: 8, Seed: uint64(11 + i)})
		if err != nil {
			return err
		}
		info := s.Info()
		if err := prod.PublishStreamInfo(ctx, topics, "raw", &info); err != nil {
			return err
		}
		srcs = append(srcs, s)
	}
	var f streams.Frame
	for n := range drillFrames {
		for _, s := range srcs {
			if err := s.Next(ctx, &f); err != nil {
				return err
			}
			f.AcquiredAtNs = int64(n) // deterministic: the comparison leaves wall-clock fields out anyway
			if err := prod.PublishFrames(ctx, topics.Raw, &f); err != nil {
				return err
			}
		}
		if pace > 0 {
			select {
			case <-time.After(pace):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

type drillOutputs struct{ clean, features, predictions, tokens *collector }

func collectAll(t *testing.T, ctx context.Context, cfg streams.Config) drillOutputs {
	topics := cfg.Topics()
	return drillOutputs{collect(t, ctx, cfg, topics.Clean, frameKey), collect(t, ctx, cfg, topics.Features, featureKey),
		collect(t, ctx, cfg, topics.Predictions, predictionKey), collect(t, ctx, cfg, topics.Tokens, tokensKey)}
}

// wantWindows: 1-s feature windows and 2-s decoder windows every 0.5 s over drillFrames*8 samples.
const (
	drillSamples      = drillFrames * 8
	wantFeatureWins   = (drillSamples-250)/125 + 1
	wantPredictionWin = (drillSamples-500)/125 + 1
	wantTokenPatches  = drillSamples / 50
)

func (o drillOutputs) complete(ids []string) bool {
	return o.clean.distinct(ids) >= drillFrames && o.features.distinct(ids) >= wantFeatureWins && o.predictions.distinct(ids) >= wantPredictionWin &&
		o.tokens.distinct(ids) >= wantTokenPatches
}

// running is a pipeline member: in this process (cancel) or a separate one (kill -9).
type running struct {
	cancel  context.CancelFunc
	done    chan error
	cmd     *exec.Cmd
	metrics *metrics.Metrics
}

func startInProcess(ctx context.Context, cfg *pipeline.Config, name string) *running {
	ctx, cancel := context.WithCancel(ctx)
	r := &running{cancel: cancel, done: make(chan error, 1), metrics: metrics.New()}
	go func() {
		r.done <- pipeline.Run(ctx, cfg, pipeline.RunOptions{Only: "pipelines", Pipeline: name, Partitions: drillPartitions, Metrics: r.metrics,
			Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	}()
	return r
}

func startProcess(t *testing.T, addr, ns, name, model string) *running {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDrillChild$")
	cmd.Env = append(os.Environ(), "NEUROSTREAM_DRILL_BROKER="+addr, "NEUROSTREAM_DRILL_NS="+ns, "NEUROSTREAM_DRILL_PIPELINE="+name, "NEUROSTREAM_DRILL_MODEL="+model)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &running{cmd: cmd, done: make(chan error, 1)}
	go func() { r.done <- cmd.Wait() }()
	return r
}

// stop cancels an in-process member and waits for it.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("pipeline stopped with %v", err)
	}
}

// kill sends SIGKILL to a separate member and reaps it.
func (r *running) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.done
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !waitFor(cond) {
		t.Fatalf("gave up waiting for %s", what)
	}
}

// waitFor polls cond for up to 3 minutes and says whether it came true.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// TestRestartDrill stops the filter and decode pipelines in the middle of their streams (in-process
// cancel, SIGKILL of a separate process) and rebalances the filter group (a second member joins,
// then leaves): every clean frame, feature vector and prediction must equal the uninterrupted run's,
// none missing, and copies published twice after a kill must be identical to the first.
func TestRestartDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("drill: several pipeline restarts")
	}
	t.Setenv("NEUROSTREAM_DRILL_MODEL", alphaModel(t))
	model := os.Getenv("NEUROSTREAM_DRILL_MODEL")
	base := startBroker(t)
	addr := base.Brokers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ids := drillStreams()

	// The uninterrupted run.
	ref := drillConfig(base.Brokers, "ref")
	if err := streams.EnsureTopics(ctx, ref.Kafka, ref.Kafka.Topics(), drillPartitions, 1); err != nil {
		t.Fatal(err)
	}
	if err := publishDrill(ctx, ref.Kafka, ids, 0); err != nil {
		t.Fatal(err)
	}
	refOut := collectAll(t, ctx, ref.Kafka)
	whole := startInProcess(ctx, ref, "")
	waitUntil(t, "the uninterrupted run", func() bool { return refOut.complete(ids) })
	whole.stop(t)

	// The interrupted run: frames arrive in real time while pipeline members come and go.
	drill := drillConfig(base.Brokers, "drill")
	if err := streams.EnsureTopics(ctx, drill.Kafka, drill.Kafka.Topics(), drillPartitions, 1); err != nil {
		t.Fatal(err)
	}
	out := collectAll(t, ctx, drill.Kafka)
	pub := make(chan error, 1)
	go func() { pub <- publishDrill(ctx, drill.Kafka, ids, 8*time.Millisecond) }()
	progress := func(n int) func() bool { return func() bool { return out.clean.distinct(ids) >= n } }
	type event struct{ what, how string }
	var events []event

	filter := startInProcess(ctx, drill, "filter")
	decode := startInProcess(ctx, drill, "decode")

	waitUntil(t, "clean frames", progress(60))
	filter.stop(t)
	events = append(events, event{"filter", "stopped in-process (cancel) mid-stream, restarted as a separate process"})
	filterProc := startProcess(t, addr, "drill", "filter", model)

	waitUntil(t, "clean frames", progress(150))
	decode.stop(t)
	events = append(events, event{"decode", "stopped in-process (cancel) mid-stream, restarted as a separate process"})
	decodeProc := startProcess(t, addr, "drill", "decode", model)

	waitUntil(t, "clean frames", progress(230))
	second := startInProcess(ctx, drill, "filter")
	waitUntil(t, "the second filter member to take streams", func() bool {
		var m dto.Metric
		_ = second.metrics.FramesIn.WithLabelValues("0-notch").Write(&m)
		return m.GetCounter().GetValue() > 0
	})
	events = append(events, event{"filter", "rebalance: a second member joined and took streams"})
	waitUntil(t, "clean frames", progress(out.clean.distinct(ids)+60))
	second.stop(t)
	events = append(events, event{"filter", "rebalance: the second member left"})

	waitUntil(t, "clean frames", progress(400))
	filterProc.kill(t)
	events = append(events, event{"filter", "separate process killed (SIGKILL) mid-stream, restarted in-process"})
	filter = startInProcess(ctx, drill, "filter")

	waitUntil(t, "feature vectors", func() bool { return out.features.distinct(ids) >= wantFeatureWins*2/3 })
	decodeProc.kill(t)
	events = append(events, event{"decode", "separate process killed (SIGKILL) mid-stream, restarted in-process"})
	decode = startInProcess(ctx, drill, "decode")

	if err := <-pub; err != nil {
		t.Fatal(err)
	}
	if !waitFor(func() bool { return out.complete(ids) }) {
		t.Errorf("the interrupted run did not finish: what is missing follows")
	}
	filter.stop(t)
	decode.stop(t)

	for _, e := range events {
		t.Logf("drill: %-6s %s", e.what, e.how)
	}
	var report []string
	for _, topic := range []struct {
		name     string
		ref, got *collector
	}{{"clean frames", refOut.clean, out.clean}, {"feature vectors", refOut.features, out.features}, {"predictions", refOut.predictions, out.predictions},
		{"tokens", refOut.tokens, out.tokens}} {
		want, lost, extra, wireDups, differ := 0, 0, 0, 0, 0
		topic.ref.mu.Lock()
		topic.got.mu.Lock()
		for _, id := range ids {
			r, g := topic.ref.copies[id], topic.got.copies[id]
			want += len(r)
			for k, rv := range r {
				gv, ok := g[k]
				if !ok {
					lost++
					t.Errorf("%s %s %s: missing after the drill", topic.name, id, k)
					continue
				}
				wireDups += len(gv) - 1
				for _, v := range gv {
					if v != rv[0] {
						differ++
						t.Errorf("%s %s %s: %.80s, uninterrupted %.80s", topic.name, id, k, v, rv[0])
						break
					}
				}
			}
			for k := range g {
				if _, ok := r[k]; !ok {
					extra++
					t.Errorf("%s %s %s: not in the uninterrupted run", topic.name, id, k)
				}
			}
		}
		topic.got.mu.Unlock()
		topic.ref.mu.Unlock()
		report = append(report, fmt.Sprintf("%-16s %6d expected, %d lost, %d extra, %d differing, %d published twice on the wire (dropped by sequence/window by our consumers)",
			topic.name, want, lost, extra, differ, wireDups))
	}
	sort.Strings(report)
	t.Logf("drill results:\n%s", strings.Join(report, "\n"))
}
