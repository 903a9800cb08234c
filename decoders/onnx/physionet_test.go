package onnx

import (
	"github.com/neurostream/neurostream/internal/shareddata"

	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/streams"
)

// accuracyFixture is what tools/models/train_mi.py writes: PyTorch's predictions on the test runs.
type accuracyFixture struct {
	Arch     string   `json:"arch"`
	TestRuns []string `json:"test_runs"`
	TestAcc  float64  `json:"test_acc"`
	TestPred []int    `json:"test_pred"`
	TestTrue []int    `json:"test_true"`
}

// Online accuracy on the held-out PhysioNet run, decoded in Go the way the pipeline does it: the whole
// run band-passed with the causal filter the contract names, then one window 0.5-2.5 s after each
// T1/T2 cue through the WindowDecoder. The predictions must equal PyTorch's on the same trials.
func TestMotorImageryOnlineAccuracy(t *testing.T) {
	rt := testRuntime(t)
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.accuracy.json"))
	if len(paths) == 0 {
		t.Fatal("no accuracy fixtures in testdata")
	}
	root := filepath.Join(shareddata.Dir(), "physionet_eegmmidb_S001")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("%s: not found; put the shared data set beside the repo", root)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".accuracy.json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var fx accuracyFixture
			if err := json.Unmarshal(data, &fx); err != nil {
				t.Fatal(err)
			}
			d, err := Load(rt, filepath.Join("testdata", name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var pred, truth []int
			for _, run := range fx.TestRuns {
				p, y := decodeRun(t, d, filepath.Join(root, "S001"+run+".edf"))
				pred, truth = append(pred, p...), append(truth, y...)
			}
			if len(pred) != len(fx.TestPred) {
				t.Fatalf("Go decoded %d trials, PyTorch %d", len(pred), len(fx.TestPred))
			}
			correct, agree := 0, 0
			for i := range pred {
				if truth[i] != fx.TestTrue[i] {
					t.Fatalf("trial %d: label %d from the EDF annotations, PyTorch had %d", i, truth[i], fx.TestTrue[i])
				}
				if pred[i] == truth[i] {
					correct++
				}
				if pred[i] == fx.TestPred[i] {
					agree++
				}
			}
			acc := float64(correct) / float64(len(pred))
			t.Logf("%s on %v: Go/ONNX Runtime online accuracy %d/%d = %.3f, PyTorch %.3f; same prediction on %d/%d trials",
				name, fx.TestRuns, correct, len(pred), acc, fx.TestAcc, agree, len(pred))
			if agree != len(pred) || math.Abs(acc-fx.TestAcc) > 1e-9 {
				t.Fatalf("Go predictions %v differ from PyTorch's %v", pred, fx.TestPred)
			}
		})
	}
}

// decodeRun returns the predicted and true class index (T1 = 0, T2 = 1) of every cue in one EDF run.
func decodeRun(t *testing.T, d *Decoder, path string) (pred, truth []int) {
	t.Helper()
	rec, err := edf.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := d.Bind(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Contract()
	band, ok := c.Preprocessing["bandpass_hz"].([]any)
	if !ok || len(band) != 2 {
		t.Fatalf("contract preprocessing %v has no bandpass_hz pair", c.Preprocessing)
	}
	sos, err := dsp.Butter(4, []float64{band[0].(float64), band[1].(float64)}, dsp.Bandpass, c.SampleRateHz)
	if err != nil {
		t.Fatal(err)
	}
	filtered := make([][]float64, len(idx))
	for i, j := range idx {
		filtered[i] = dsp.SOSFilt(sos, rec.Data[j])
	}
	n := d.WindowSamples()
	offset := int(math.Round(0.5 * c.SampleRateHz))
	window := make([][]float64, len(idx))
	var p streams.Prediction
	for _, a := range rec.Annotations {
		if a.Description != "T1" && a.Description != "T2" {
			continue
		}
		start := int(a.OnsetSample) + offset
		if start+n > len(filtered[0]) {
			continue
		}
		for i := range window {
			window[i] = filtered[i][start : start+n]
		}
		if err := d.Decode(window, &p); err != nil {
			t.Fatal(err)
		}
		k := 0
		for i, l := range c.Output.Labels {
			if l == p.Label {
				k = i
			}
		}
		pred = append(pred, k)
		truth = append(truth, map[string]int{"T1": 0, "T2": 1}[a.Description])
	}
	return pred, truth
}
