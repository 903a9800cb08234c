package train_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/acquisition/replay"
	"github.com/neurostream/neurostream/decoders/model"
	"github.com/neurostream/neurostream/decoders/train"
	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// TestOnlineDecisionsMatchOffline trains CSP+LDA on R04, replays R08 through an embedded Kafka
// broker into the pipeline (float32 frames, streaming band-pass stage, decoder stage sliding one
// sample at a time) and checks that the prediction for the window ending at each trial's tmax is
// the offline decision for that trial.
func TestOnlineDecisionsMatchOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a recording through Kafka")
	}
	dir := shareddata.Path(t, "physionet_eegmmidb_S001")
	events := []train.Event{{Match: "T1", Label: "left"}, {Match: "T2", Label: "right"}}
	cfg := train.Config{Events: events, BandHz: [2]float64{8, 30}, TminSec: 0.5, TmaxSec: 2.5}
	read := func(run string) (*train.Dataset, *streams.StreamInfo, *replay.Source) {
		rec, err := edf.Read(filepath.Join(dir, "S001"+run+".edf"))
		if err != nil {
			t.Fatal(err)
		}
		ds, err := train.EpochRecording(rec, run, cfg)
		if err != nil {
			t.Fatal(err)
		}
		src, err := replay.New(rec, replay.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return ds, &rec.Info, src
	}
	tr, _, _ := read("R04")
	te, info, src := read("R08")
	m, err := model.Fit(tr.Spec(model.CSPLDA, cfg), tr.Epochs, tr.Labels, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.json")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	offline, _, err := train.Predict(m, te)
	if err != nil {
		t.Fatal(err)
	}

	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kc := streams.Config{Brokers: []string{b.Addr()}, Namespace: "decoders-test"}
	pc := &pipeline.Config{Kafka: kc, Pipelines: []pipeline.PipelineConfig{{Name: "decode", Input: "raw", Stages: []pipeline.StageConfig{
		{Kind: "bandpass", LowHz: 8, HighHz: 30, Order: 4},
		{Kind: "decoder", Decoder: "native", Model: path, StepSec: 1 / info.SampleRateHz},
	}}}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b8 := int64(math.Round(cfg.TmaxSec * info.SampleRateHz))
	last := te.Onsets[len(te.Onsets)-1] + b8 + 1
	var mu sync.Mutex
	online := map[int64]string{}
	opts := pipeline.RunOptions{
		Sources: []pipeline.Source{src},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnPrediction: func(p *streams.Prediction) {
			mu.Lock()
			online[p.WindowEndSample] = p.Label
			mu.Unlock()
			if p.WindowEndSample >= last {
				cancel()
			}
		},
	}
	if err := pipeline.Run(ctx, pc, opts); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	same := 0
	for i, s := range te.Onsets {
		got, ok := online[s+b8+1]
		if !ok {
			t.Fatalf("no online prediction for the window ending at trial %d's tmax (sample %d); %d predictions", i, s+b8+1, len(online))
		}
		if got == te.Classes[offline[i]] {
			same++
		}
	}
	t.Logf("online (Kafka, float32, streaming filter) and offline decisions agree on %d/%d R08 trials", same, len(te.Onsets))
	if same < len(te.Onsets)-1 {
		t.Errorf("online and offline decisions agree on only %d/%d trials", same, len(te.Onsets))
	}
}
