package train

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/npz"
	"github.com/neurostream/neurostream/decoders/model"
	"github.com/neurostream/neurostream/streams"
)

// loadP300 builds a Recording from the bi2012 .npz (16 EEG columns, stimulus codes 1 = non-target,
// 2 = target flash) and its .yml sensor list.
func loadP300(t *testing.T) *acquisition.Recording {
	dir := dataDir(t, "eegle_bi2012_p300")
	arrs, err := npz.Read(filepath.Join(dir, "subject_01_session_01.npz"))
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(filepath.Join(dir, "subject_01_session_01.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Acquisition struct {
			Sensors      []string `yaml:"sensors"`
			SamplingRate float64  `yaml:"samplingrate"`
		} `yaml:"acquisition"`
	}
	if err := yaml.Unmarshal(y, &meta); err != nil {
		t.Fatal(err)
	}
	data, stim := arrs["data"], arrs["stim"]
	nS, nCol := data.Shape[0], data.Shape[1]
	rec := &acquisition.Recording{Info: streams.StreamInfo{StreamID: "bi2012", SampleRateHz: meta.Acquisition.SamplingRate}}
	for c, name := range meta.Acquisition.Sensors {
		rec.Info.Channels = append(rec.Info.Channels, streams.Channel{Name: name, Type: streams.ChannelEEG})
		row := make([]float64, nS)
		for s := range row {
			row[s] = data.Data[s*nCol+c]
		}
		rec.Data = append(rec.Data, row)
	}
	for s, v := range stim.Data {
		if v != 0 {
			rec.Annotations = append(rec.Annotations, acquisition.Annotation{
				OnsetSample: int64(s), OnsetSec: float64(s) / rec.Info.SampleRateHz, Code: int32(v)})
		}
	}
	return rec
}

// TestP300XdawnTangentSpaceCV cross-validates xDAWN covariances + tangent space + logistic
// regression on bi2012 and compares per-fold ROC-AUC with the same pipeline in numpy/scikit-learn
// (tools/decoders_reference.py p300).
func TestP300XdawnTangentSpaceCV(t *testing.T) {
	rec := loadP300(t)
	b, err := os.ReadFile("testdata/p300_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		NEpochs int       `json:"n_epochs"`
		NTarget int       `json:"n_target"`
		FoldAUC []float64 `json:"fold_auc"`
		MeanAUC float64   `json:"mean_auc"`
		Proba   []float64 `json:"proba"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Events: []Event{{"1", "nontarget"}, {"2", "target"}}, BandHz: [2]float64{1, 20},
		TminSec: 0, TmaxSec: 127.0 / 128}
	ds, err := EpochRecording(rec, "bi2012 subject 1 session 1", cfg)
	if err != nil {
		t.Fatal(err)
	}
	nt := 0
	for _, l := range ds.Labels {
		nt += l
	}
	if len(ds.Epochs) != ref.NEpochs || nt != ref.NTarget {
		t.Fatalf("%d epochs (%d targets); reference %d (%d)", len(ds.Epochs), nt, ref.NEpochs, ref.NTarget)
	}
	r, err := CrossValidate(ds.Spec(model.XdawnTS, cfg), ds, 5, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for f, auc := range r.FoldAUC {
		if math.Abs(auc-ref.FoldAUC[f]) > 0.002 {
			t.Errorf("fold %d ROC-AUC %.4f, Python %.4f", f+1, auc, ref.FoldAUC[f])
		}
	}
	maxDiff := 0.0
	for i, p := range r.ProbaClass1 {
		maxDiff = math.Max(maxDiff, math.Abs(p-ref.Proba[i]))
	}
	t.Logf("xdawn-ts 5-fold ROC-AUC %.4f (Python %.4f); folds %.3f; max |P(target) - Python| %.2g",
		*r.ROCAUC, ref.MeanAUC, r.FoldAUC, maxDiff)
	if maxDiff > 1e-3 {
		t.Errorf("per-trial target probability differs from Python by up to %.3f", maxDiff)
	}
}
