package alpha

import (
	"github.com/neurostream/neurostream/internal/shareddata"

	"os"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/streams"
)

// windowsOf decodes a recording in consecutive non-overlapping windows through the online decoder.
func windowsOf(t *testing.T, d *Decoder, path string) (labels []string, features []float64) {
	t.Helper()
	rec, err := edf.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := d.Bind(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	n := d.WindowSamples()
	window := make([][]float64, len(idx))
	var p streams.Prediction
	for start := 0; start+n <= rec.NumSamples(); start += n {
		for i, c := range idx {
			window[i] = rec.Data[c][start : start+n]
		}
		x, err := d.ext.Feature(window)
		if err != nil {
			t.Fatal(err)
		}
		p.Reset()
		if err := d.Decode(window, &p); err != nil {
			t.Fatal(err)
		}
		features = append(features, x)
		labels = append(labels, p.Label)
	}
	return labels, features
}

// TestEyesOpenClosedPhysioNet is issue 2's check on real recordings: PhysioNet EEGMMIDB S001 R01
// (eyes open) and R02 (eyes closed), 2-s windows, threshold calibrated on the first half of each run
// and tested on the second half.
func TestEyesOpenClosedPhysioNet(t *testing.T) {
	dir := filepath.Join(shareddata.Dir(), "physionet_eegmmidb_S001")
	r01, r02 := filepath.Join(dir, "S001R01.edf"), filepath.Join(dir, "S001R02.edf")
	for _, p := range []string{r01, r02} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s not found; put the shared data set beside the repo (../shared/data) or set NEUROSTREAM_DATA", p)
		}
	}
	m := DefaultModel()
	d := NewDecoder(&m)
	_, openF := windowsOf(t, d, r01)
	_, closedF := windowsOf(t, d, r02)
	ho, hc := len(openF)/2, len(closedF)/2
	trainAcc, err := m.Calibrate(openF[:ho], closedF[:hc])
	if err != nil {
		t.Fatal(err)
	}
	d = NewDecoder(&m)
	openL, _ := windowsOf(t, d, r01)
	closedL, _ := windowsOf(t, d, r02)
	correct, total := 0, 0
	for _, l := range openL[ho:] {
		total++
		if l == LabelOpen {
			correct++
		}
	}
	for _, l := range closedL[hc:] {
		total++
		if l == LabelClosed {
			correct++
		}
	}
	acc := float64(correct) / float64(total)
	t.Logf("eyes open/closed, S001 R01 vs R02, 2-s windows: train accuracy %.3f on %d windows, test accuracy %.3f (%d/%d), threshold %.3f",
		trainAcc, ho+hc, acc, correct, total, m.Threshold)
	if acc < 0.9 {
		t.Fatalf("test accuracy %.3f < 0.9", acc)
	}
}

func TestCalibrateSeparable(t *testing.T) {
	m := DefaultModel()
	acc, err := m.Calibrate([]float64{-1, -0.9, -0.8}, []float64{-0.3, -0.2})
	if err != nil {
		t.Fatal(err)
	}
	if acc != 1 || m.Threshold <= -0.8 || m.Threshold >= -0.3 {
		t.Fatalf("acc %v threshold %v; want 1 and a threshold between the classes", acc, m.Threshold)
	}
	if p := m.ProbClosed(-0.1); p < 0.5 {
		t.Fatalf("P(closed) for a high feature = %v", p)
	}
	if _, err := m.Calibrate(nil, []float64{1}); err == nil {
		t.Fatal("calibration with one class accepted")
	}
}

func TestBindMissingChannel(t *testing.T) {
	m := DefaultModel()
	d := NewDecoder(&m)
	_, err := d.Bind(streams.StreamInfo{StreamID: "x", SampleRateHz: 250, Channels: []streams.Channel{{Name: "Cz"}}})
	if err == nil {
		t.Fatal("bound to a stream without occipital channels")
	}
}
