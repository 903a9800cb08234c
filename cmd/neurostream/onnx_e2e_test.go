package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/acquisition/replay"
	"github.com/neurostream/neurostream/decoders/onnx"
	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// repoRoot is where configs name their model files from.
const repoRoot = "../.."

// needONNXRuntime skips a test on a machine without the ONNX Runtime library.
func needONNXRuntime(t *testing.T) {
	t.Helper()
	if _, err := onnx.FindLibrary(""); err != nil {
		t.Skipf("ONNX Runtime not installed: %v", err)
	}
}

// onnxConfig loads one of the shipped ONNX configs, with its model and bank paths made relative to
// this package and its Kafka pointed at an embedded kfake broker.
func onnxConfig(t *testing.T, name string) *pipeline.Config {
	t.Helper()
	cfg, err := pipeline.LoadConfig(filepath.Join(repoRoot, "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Pipelines {
		for j := range cfg.Pipelines[i].Stages {
			s := &cfg.Pipelines[i].Stages[j]
			if s.Model != "" {
				s.Model = filepath.Join(repoRoot, s.Model)
			}
			if s.Bank != "" {
				s.Bank = filepath.Join(repoRoot, s.Bank)
			}
		}
	}
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cfg.Kafka = streams.Config{Brokers: []string{b.Addr()}, Namespace: "onnx-e2e"}
	cfg.Metrics.Listen = ""
	return cfg
}

// runAndReadPredictions runs cfg with the command's decoder loaders and srcs as the sources, and reads
// the predictions back from the predictions topic with a Kafka consumer of its own until, for every
// stream in lastEnd, one for a window ending at or after lastEnd[stream] has arrived. It returns the
// predictions by stream and window end sample.
func runAndReadPredictions(t *testing.T, cfg *pipeline.Config, srcs []pipeline.Source, lastEnd map[string]int64) map[string]map[int64]*streams.Prediction {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	loaders, closeLoaders := decoderLoaders()
	defer func() {
		if err := closeLoaders(); err != nil {
			t.Error(err)
		}
	}()
	topics := cfg.Kafka.Topics()
	if err := streams.EnsureTopics(ctx, cfg.Kafka, topics, 0, 1); err != nil {
		t.Fatal(err)
	}
	c, err := streams.NewConsumer(cfg.Kafka, streams.ConsumerConfig{Topic: topics.Predictions, GroupID: "onnx-e2e-reader", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := map[string]map[int64]*streams.Prediction{}
	readErr := make(chan error, 1)
	go func() {
		done := map[string]bool{}
		for len(done) < len(lastEnd) {
			m, err := c.Fetch(ctx)
			if err != nil {
				readErr <- err
				return
			}
			p := new(streams.Prediction)
			if err := json.Unmarshal(m.Value, p); err != nil {
				readErr <- err
				return
			}
			if got[p.StreamID] == nil {
				got[p.StreamID] = map[int64]*streams.Prediction{}
			}
			got[p.StreamID][p.WindowEndSample] = p
			if end, ok := lastEnd[p.StreamID]; ok && p.WindowEndSample >= end {
				done[p.StreamID] = true
			}
		}
		readErr <- nil
	}()
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() {
		runErr <- pipeline.Run(runCtx, cfg, pipeline.RunOptions{Sources: srcs, Loaders: loaders,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	select {
	case err := <-readErr:
		stop()
		if err != nil {
			t.Fatalf("reading predictions from Kafka: %v", err)
		}
		if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	case err := <-runErr:
		t.Fatalf("pipeline stopped before its predictions were read back: %v", err)
	}
	return got
}

// Motor imagery end to end: PhysioNet S001 R08 replayed (as fast as possible, float32 frames) into an
// embedded Kafka broker, configs/onnx-motor-imagery.yaml's pipeline (streaming causal 8-30 Hz
// band-pass, EEGNet ONNX decoder; step set to one sample so that a window ends exactly where each
// trial's does), predictions read back from the predictions topic. For every T1/T2 trial the online
// decision on the window 0.5-2.5 s after the cue must be the offline one: the same decoder on the
// whole run filtered at once in float64 (decoders/onnx's TestMotorImageryOnlineAccuracy, whose
// predictions equal PyTorch's).
func TestONNXMotorImageryThroughKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a recording through Kafka")
	}
	needONNXRuntime(t)
	path := filepath.Join(shareddata.Path(t, "physionet_eegmmidb_S001"), "S001R08.edf")
	rec, err := edf.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := onnxConfig(t, "onnx-motor-imagery.yaml")
	stages := cfg.Pipelines[0].Stages
	dec := &stages[len(stages)-1]
	dec.StepSec = 1 / rec.Info.SampleRateHz

	// Offline: the decoder the config names, on the run band-passed at once.
	l := onnx.NewLoader(onnx.Config{})
	defer l.Close()
	d, err := l.Load(dec.Model)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	idx, err := d.Bind(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	bp := stages[0]
	sos, err := dsp.Butter(bp.Order, []float64{bp.LowHz, bp.HighHz}, dsp.Bandpass, rec.Info.SampleRateHz)
	if err != nil {
		t.Fatal(err)
	}
	filtered := make([][]float64, len(idx))
	for i, j := range idx {
		filtered[i] = dsp.SOSFilt(sos, rec.Data[j])
	}
	n := d.WindowSamples()
	delay := int64(math.Round(0.5 * rec.Info.SampleRateHz))
	type trial struct {
		cue     string
		end     int64 // window end sample (exclusive)
		offline streams.Prediction
	}
	var trials []trial
	window := make([][]float64, len(idx))
	for _, a := range rec.Annotations {
		if a.Description != "T1" && a.Description != "T2" {
			continue
		}
		start := a.OnsetSample + delay
		if int(start)+n > len(filtered[0]) {
			continue
		}
		for i := range window {
			window[i] = filtered[i][start : int(start)+n]
		}
		tr := trial{cue: a.Description, end: start + int64(n)}
		if err := d.Decode(window, &tr.offline); err != nil {
			t.Fatal(err)
		}
		tr.offline.Scores = append([]streams.Score(nil), tr.offline.Scores...)
		trials = append(trials, tr)
	}
	if len(trials) != 15 {
		t.Fatalf("%d T1/T2 trials in R08, want 15", len(trials))
	}

	src, err := replay.New(rec, replay.Config{})
	if err != nil {
		t.Fatal(err)
	}
	id := src.Info().StreamID
	got := runAndReadPredictions(t, cfg, []pipeline.Source{src}, map[string]int64{id: trials[len(trials)-1].end})[id]

	same, correctOn, correctOff := 0, 0, 0
	maxDiff := 0.0
	truth := map[string]string{"T1": "left", "T2": "right"}
	for i, tr := range trials {
		p, ok := got[tr.end]
		if !ok {
			t.Fatalf("trial %d: no prediction for the window ending at sample %d read back from Kafka (%d predictions)", i, tr.end, len(got))
		}
		if p.Decoder != d.Name() || len(p.Scores) != 2 {
			t.Fatalf("trial %d: prediction %+v is not the EEGNet decoder's", i, p)
		}
		if p.Label == tr.offline.Label {
			same++
		}
		if p.Label == truth[tr.cue] {
			correctOn++
		}
		if tr.offline.Label == truth[tr.cue] {
			correctOff++
		}
		for k := range p.Scores {
			maxDiff = math.Max(maxDiff, math.Abs(p.Scores[k].Value-tr.offline.Scores[k].Value))
		}
	}
	t.Logf("R08 through Kafka: %d predictions read back; online and offline decisions agree on %d/%d trials "+
		"(max |P online - P offline| %.2g); accuracy online %d/%d, offline %d/%d",
		len(got), same, len(trials), maxDiff, correctOn, len(trials), correctOff, len(trials))
	if same != len(trials) {
		t.Fatalf("online and offline decisions agree on only %d/%d trials", same, len(trials))
	}
}

// Speech and visual retrieval end to end: a recording simulated in Go from the forward model the
// shipped speech-sim / visual-sim models were trained on (testdata/<task>-sim.forward.json; 200 trials
// back to back, each with a known latent: the speech segment's or the image's embedding) is replayed
// through an embedded Kafka broker into configs/onnx-retrieval-sim.yaml's pipeline, with the 200 true
// embeddings as the candidate bank. The top-k read back from the predictions topic for the window of
// each trial must be the offline ranking (the same decoder on the same samples, no Kafka), so the
// top-1 / top-10 accuracies are equal; they must also be far above chance (the simulation is new data
// for the model: PyTorch's accuracy on its own held-out simulated set is logged beside them).
func TestONNXRetrievalThroughKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("replays simulated recordings through Kafka")
	}
	needONNXRuntime(t)
	for i, task := range []string{"speech", "visual"} {
		t.Run(task, func(t *testing.T) {
			testdata := filepath.Join(repoRoot, "decoders", "onnx", "testdata")
			fwd, err := readSimForward(filepath.Join(testdata, task+"-sim.forward.json"))
			if err != nil {
				t.Fatal(err)
			}
			const nTrials = 200
			sr, err := simulateRecording(fwd, uint64(i+1), "sim-"+task, "sim01", nTrials)
			if err != nil {
				t.Fatal(err)
			}
			bank := filepath.Join(t.TempDir(), task+".bank.json")
			if err := writeBank(bank, sr.ids, sr.embs); err != nil {
				t.Fatal(err)
			}
			cfg := onnxConfig(t, "onnx-retrieval-sim.yaml")
			var pc *pipeline.PipelineConfig
			for j := range cfg.Pipelines {
				if cfg.Pipelines[j].Name == task+"-retrieval" {
					pc = &cfg.Pipelines[j]
				}
			}
			if pc == nil {
				t.Fatalf("configs/onnx-retrieval-sim.yaml has no %s-retrieval pipeline", task)
			}
			cfg.Pipelines = []pipeline.PipelineConfig{*pc}
			dec := &cfg.Pipelines[0].Stages[len(pc.Stages)-1]
			dec.Bank = bank

			// Offline: the stage's decoder on each trial's window, straight from the recording.
			l := onnx.NewLoader(onnx.Config{})
			defer l.Close()
			d, err := l.Load(dec.Model, onnx.WithBank(bank), onnx.WithTopK(dec.TopK))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			idx, err := d.Bind(sr.rec.Info)
			if err != nil {
				t.Fatal(err)
			}
			offline := make([]streams.Prediction, nTrials)
			window := make([][]float64, len(idx))
			for k := range nTrials {
				for c, j := range idx {
					window[c] = sr.rec.Data[j][k*sr.width : (k+1)*sr.width]
				}
				var p streams.Prediction
				if err := d.Decode(window, &p); err != nil {
					t.Fatal(err)
				}
				offline[k] = p
			}

			src, err := replay.New(sr.rec, replay.Config{})
			if err != nil {
				t.Fatal(err)
			}
			id := src.Info().StreamID
			got := runAndReadPredictions(t, cfg, []pipeline.Source{src}, map[string]int64{id: int64(nTrials * sr.width)})[id]

			var on, off [2]int // top-1, top-10 hits
			for k := range nTrials {
				p, ok := got[int64((k+1)*sr.width)]
				if !ok {
					t.Fatalf("trial %d: no prediction for its window (ending at sample %d) read back from Kafka", k, (k+1)*sr.width)
				}
				o := offline[k]
				if len(p.TopK) != dec.TopK || len(o.TopK) != dec.TopK {
					t.Fatalf("trial %d: %d ranked candidates online, %d offline, want %d", k, len(p.TopK), len(o.TopK), dec.TopK)
				}
				for r := range p.TopK {
					if p.TopK[r].ID != o.TopK[r].ID || math.Abs(p.TopK[r].Score-o.TopK[r].Score) > 1e-9 {
						t.Fatalf("trial %d rank %d: online %+v, offline %+v", k, r, p.TopK[r], o.TopK[r])
					}
				}
				if task == "visual" {
					if len(p.Embedding) != fwd.embeddingSize() {
						t.Fatalf("trial %d: the visual prediction carries %d embedding values, want %d", k, len(p.Embedding), fwd.embeddingSize())
					}
					for j := range p.Embedding {
						if p.Embedding[j] != o.Embedding[j] {
							t.Fatalf("trial %d: embedding value %d online %v, offline %v", k, j, p.Embedding[j], o.Embedding[j])
						}
					}
				}
				hits(&on, p.TopK, sr.ids[k])
				hits(&off, o.TopK, sr.ids[k])
			}
			t.Logf("%s: %d simulated trials through Kafka (%d predictions read back): top-1 %d/%d, top-10 %d/%d online; "+
				"offline top-1 %d, top-10 %d; chance %.3f / %.3f; PyTorch on its own held-out simulation: %s",
				task, nTrials, len(got), on[0], nTrials, on[1], nTrials, off[0], off[1], 1.0/nTrials, 10.0/nTrials, pytorchSimAccuracy(t, testdata, task))
			if on != off {
				t.Fatalf("online accuracy %v differs from offline %v", on, off)
			}
			if float64(on[1])/nTrials < 2*10.0/nTrials {
				t.Fatalf("top-10 accuracy %d/%d is not above twice chance: the Go simulation does not match the model's", on[1], nTrials)
			}
		})
	}
}

// hits counts whether want is ranked first (h[0]) and within the ranking (h[1]).
func hits(h *[2]int, topK []streams.Ranked, want string) {
	for r, c := range topK {
		if c.ID == want {
			if r == 0 {
				h[0]++
			}
			h[1]++
		}
	}
}

func (f *simForward) embeddingSize() int {
	if f.Task == "speech" {
		return len(f.Readout)
	}
	return len(f.Centres[0])
}

// pytorchSimAccuracy is the top-1 / top-10 accuracy train_retrieval.py measured on its held-out set.
func pytorchSimAccuracy(t *testing.T, testdata, task string) string {
	b, err := os.ReadFile(filepath.Join(testdata, task+"-sim.sim.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Accuracy struct {
			Top1  float64 `json:"test_top1"`
			Top10 float64 `json:"test_top10"`
		} `json:"accuracy"`
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("top-1 %.3f, top-10 %.3f", fx.Accuracy.Top1, fx.Accuracy.Top10)
}
