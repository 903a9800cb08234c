package alpha

import (
	"encoding/json"
	"math"
	"strings"

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

// Hostile alpha model files fail at load with an error naming the field.
func TestHostileAlphaModels(t *testing.T) {
	good, err := json.Marshal(DefaultModel())
	if err != nil {
		t.Fatal(err)
	}
	edit := func(from, to string) []byte { return []byte(strings.Replace(string(good), from, to, 1)) }
	for name, c := range map[string]struct {
		b     []byte
		field string
	}{
		"window of 1e9 s":    {edit(`"window_sec":2`, `"window_sec":1e9`), "window_sec"},
		"negative window":    {edit(`"window_sec":2`, `"window_sec":-2`), "window_sec"},
		"inverted band":      {edit(`"alpha_band_hz":[8,12]`, `"alpha_band_hz":[12,8]`), "alpha_band_hz"},
		"band of 1e300 Hz":   {edit(`"total_band_hz":[2,30]`, `"total_band_hz":[2,1e300]`), "total_band_hz"},
		"duplicate channels": {edit(`"channels":["O1","Oz","O2"]`, `"channels":["O1","o1.."]`), "channels[1]"},
		"no channels":        {edit(`"channels":["O1","Oz","O2"]`, `"channels":[]`), "channels"},
		"zero scale":         {edit(`"scale":0.1`, `"scale":0`), "scale"},
		"absurd threshold":   {edit(`"threshold":0`, `"threshold":1e308`), "threshold"},
		"wrong version":      {edit(`"version":1`, `"version":2`), "format/version"},
		"truncated JSON":     {good[:len(good)/2], "not an alpha model"},
		"NaN is not JSON":    {edit(`"scale":0.1`, `"scale":NaN`), "not an alpha model"},
	} {
		_, err := Parse(c.b)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: got %v, want an error naming %s", name, err, c.field)
		}
	}
	m := DefaultModel()
	d := NewDecoder(&m)
	if _, err := d.Bind(streams.StreamInfo{StreamID: "s", SampleRateHz: 40, Channels: []streams.Channel{{Name: "O1"}, {Name: "Oz"}, {Name: "O2"}}}); err == nil ||
		!strings.Contains(err.Error(), "Nyquist") {
		t.Errorf("bands above a 40 Hz stream's Nyquist: got %v", err)
	}
}

// FuzzAlphaModel: any bytes either fail Parse or give a model that binds to a 250 Hz stream with its
// channels and decodes a window without panicking.
func FuzzAlphaModel(f *testing.F) {
	good, _ := json.Marshal(DefaultModel())
	f.Add(good)
	f.Add([]byte(`{"format":"neurostream-alpha","version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		info := streams.StreamInfo{StreamID: "fuzz", SampleRateHz: 250}
		for _, c := range m.Channels {
			info.Channels = append(info.Channels, streams.Channel{Name: c})
		}
		d := NewDecoder(m)
		if _, err := d.Bind(info); err != nil {
			return // bands beyond this stream's Nyquist frequency, or holding no bin
		}
		w := make([][]float64, len(m.Channels))
		for c := range w {
			w[c] = make([]float64, d.WindowSamples())
			for s := range w[c] {
				w[c][s] = math.Sin(float64(s) * 0.3 * float64(c+1))
			}
		}
		var p streams.Prediction
		_ = d.Decode(w, &p)
	})
}
