package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/acquisition/replay"
	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

// decode --replay on a broker that already holds other streams (another recording, and an earlier
// replay of the same one) decodes only the stream it replays, runs to that stream's end, and with its
// default step decides on every trial: online equals offline on all 15 trials.
func TestDecodeReplayAmongOtherStreams(t *testing.T) {
	r04 := shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", "S001R04.edf"))
	r08 := shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", "S001R08.edf"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	kc := startBroker(t, "decode-others")
	modelPath := filepath.Join(t.TempDir(), "mi.json")
	var trainOut bytes.Buffer
	if err := runTrain(ctx, []string{"--decoder", "csp-lda", "--folds", "0", "--out", modelPath, r04}, &trainOut); err != nil {
		t.Fatalf("train: %v\n%s", err, trainOut.String())
	}

	// Other streams first: R04 under an id of its own, and R08 under its own id (an earlier replay).
	var srcs []pipeline.Source
	for _, s := range []struct{ path, id string }{{r04, "other-run"}, {r08, ""}} {
		rec, err := readRecording(s.path)
		if err != nil {
			t.Fatal(err)
		}
		src, err := replay.New(rec, replay.Config{StreamID: s.id})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, src)
	}
	if err := streams.EnsureTopics(ctx, kc, kc.Topics(), 8, 1); err != nil {
		t.Fatal(err)
	}
	prod, err := streams.NewProducer(kc, streams.Bulk)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range srcs {
		if err := pipeline.Publish(ctx, src, prod, kc.Topics(), kc.Topics().Raw, 64, metrics.New()); err != nil {
			t.Fatal(err)
		}
	}
	prod.Close()

	var out bytes.Buffer
	err = runDecode(ctx, []string{"--brokers", kc.Brokers[0], "--namespace", kc.Namespace, "--model", modelPath, "--replay", r08}, &out)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, out.String())
	}
	for _, want := range []string{"agree on 15/15 trials (0 without an online window)"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("decode output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "other-run") {
		t.Fatalf("decode printed another stream:\n%s", out.String())
	}
}

// A model whose rate is not the stream's ends decode with one clear error instead of a warning per
// frame forever.
func TestDecodeRateMismatchEnds(t *testing.T) {
	r04 := shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", "S001R04.edf"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := startBroker(t, "decode-rate")
	dir := t.TempDir()
	modelPath := filepath.Join(dir, "mi.json")
	if err := runTrain(ctx, []string{"--decoder", "csp-lda", "--folds", "0", "--out", modelPath, r04}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	// The same recording resampled to another rate.
	rec, err := readRecording(r04)
	if err != nil {
		t.Fatal(err)
	}
	rec.Info.SampleRateHz = 200
	resampled := filepath.Join(dir, "r04-200.bdf")
	if err := edf.Write(resampled, rec, edf.WriteOptions{Format: edf.FormatBDF}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = runDecode(ctx, []string{"--brokers", kc.Brokers[0], "--namespace", kc.Namespace, "--model", modelPath, "--replay", resampled}, &out)
	if err == nil || !strings.Contains(err.Error(), "Hz") {
		t.Fatalf("decode with a 160 Hz model on a 200 Hz stream: err %v\n%s", err, out.String())
	}
	t.Logf("error: %v", err)
}
