package model

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// fitted returns a valid model of each kind, fitted on synthetic epochs (6 channels, 65 samples).
func fitted(t testing.TB) map[Kind]*File {
	t.Helper()
	xs, ys := synthetic(10, 6, 65)
	out := map[Kind]*File{}
	for _, k := range Kinds() {
		f, err := Fit(spec(k, 6), xs, ys, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = f
	}
	return out
}

// clone deep-copies a model through its JSON form.
func clone(t testing.TB, f *File) *File {
	t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var g File
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

// Hostile model files fail at load with one error naming the field: no panic, no out-of-memory, no
// decoder that starts and then warns on every frame.
func TestHostileModelFilesFailAtLoad(t *testing.T) {
	base := fitted(t)
	cases := []struct {
		name  string
		kind  Kind
		edit  func(f *File)
		field string
	}{
		{"empty csp filters", CSPLDA, func(f *File) { f.CSP.Filters = nil }, "csp.filters"},
		{"ragged csp filters", CSPLDA, func(f *File) { f.CSP.Filters[1] = f.CSP.Filters[1][:3] }, "csp.filters[1]"},
		{"csp filters for other channels", CSPLDA, func(f *File) {
			for i := range f.CSP.Filters {
				f.CSP.Filters[i] = append(f.CSP.Filters[i], 1)
			}
		}, "csp.filters[0]"},
		{"empty lda intercept", CSPLDA, func(f *File) { f.LDA.Intercept = nil }, "lda.intercept"},
		{"lda for other features", CSPLDA, func(f *File) { f.LDA.Coef[0] = append(f.LDA.Coef[0], 0.5) }, "lda.coef[0]"},
		{"1e308 weights", CSPLDA, func(f *File) { f.LDA.Coef[0][0] = 1e308 }, "lda.coef[0][0]"},
		{"rate 1e-300", CSPLDA, func(f *File) { f.SampleRateHz = 1e-300 }, "sample_rate_hz"},
		{"window of 1e9 samples", CSPLDA, func(f *File) { f.WindowSamples = 1e9 }, "window_samples"},
		{"window of 1e18 samples", CSPLDA, func(f *File) { f.WindowSamples = 1e18 }, "window_samples"},
		{"band above Nyquist", CSPLDA, func(f *File) { f.Filter.BandHz = [2]float64{8, 80} }, "filter.band_hz"},
		{"inverted band", CSPLDA, func(f *File) { f.Filter.BandHz = [2]float64{30, 8} }, "filter.band_hz"},
		{"filter order 1e6", CSPLDA, func(f *File) { f.Filter.Order = 1e6 }, "filter.order"},
		{"duplicate channel names", CSPLDA, func(f *File) { f.Channels[1] = f.Channels[0] }, "channels[1]"},
		{"channels equal but for case", CSPLDA, func(f *File) { f.Channels[1] = strings.ToLower(f.Channels[0]) }, "channels[1]"},
		{"one class", CSPLDA, func(f *File) { f.Classes = f.Classes[:1] }, "classes"},
		{"duplicate classes", CSPLDA, func(f *File) { f.Classes[1] = f.Classes[0] }, "classes[1]"},
		{"unknown decoder", CSPLDA, func(f *File) { f.Decoder = "svm" }, "decoder"},
		{"band-pass of another order in a filter bank", FBCSP, func(f *File) { f.Bands[0].Order = 0 }, "bands[0].order"},
		{"selected feature out of range", FBCSP, func(f *File) { f.Selected[0] = 1 << 40 }, "selected_features[0]"},
		{"mdm mean of another size", MDM, func(f *File) { f.Means[1] = f.Means[1][:4] }, "class_means[1]"},
		{"mdm mean not symmetric", MDM, func(f *File) { f.Means[0][0][1] += 1 }, "class_means[0][0][1]"},
		{"mdm mean missing", MDM, func(f *File) { f.Means = f.Means[:1] }, "class_means"},
		{"empty tangent-space reference", TSLR, func(f *File) { f.Reference = [][]float64{} }, "reference"},
		{"reference of another size", TSLR, func(f *File) { f.Reference = f.Reference[:5] }, "reference"},
		{"reference with a negative variance", TSLR, func(f *File) { f.Reference[2][2] = -1 }, "reference[2][2]"},
		{"logreg coefficients of the wrong length", TSLR, func(f *File) { f.LogReg.Coef[0] = f.LogReg.Coef[0][:7] }, "logreg.coef[0]"},
		{"logreg class count", TSLR, func(f *File) { f.LogReg.NClasses = 3 }, "logreg.n_classes"},
		{"recenter horizon", TSLR, func(f *File) { f.RecenterHorizon = -1 }, "recenter_horizon"},
		{"xdawn filters for other channels", XdawnTS, func(f *File) { f.Xdawn.Filters[0] = f.Xdawn.Filters[0][:2] }, "xdawn.filters[0]"},
		{"xdawn prototypes of another length", XdawnTS, func(f *File) { f.Xdawn.Evokeds[0] = f.Xdawn.Evokeds[0][:10] }, "xdawn.evokeds[0]"},
		{"xdawn n_filter", XdawnTS, func(f *File) { f.Xdawn.NFilter = 1 << 30 }, "xdawn.n_filter"},
		{"xdawn reference of another size", XdawnTS, func(f *File) { f.Reference = f.Reference[:3] }, "reference"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		f := clone(t, base[c.kind])
		c.edit(f)
		path := filepath.Join(dir, "m.json")
		if err := f.Save(path); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), "field "+c.field+":") {
			t.Errorf("%s: got %v, want an error naming field %s", c.name, err, c.field)
		}
	}
	// Files that are not model files at all.
	good, _ := json.Marshal(base[CSPLDA])
	for name, c := range map[string]struct {
		b    []byte
		want string
	}{
		"truncated JSON":     {good[:len(good)/2], "not a neurostream model file"},
		"wrong version":      {[]byte(strings.Replace(string(good), `"format_version":1`, `"format_version":7`, 1)), "field format_version"},
		"NaN in JSON":        {[]byte(strings.Replace(string(good), `"sample_rate_hz":128`, `"sample_rate_hz":NaN`, 1)), "not a neurostream model file"},
		"number beyond f64":  {[]byte(strings.Replace(string(good), `"sample_rate_hz":128`, `"sample_rate_hz":1e999`, 1)), "not a neurostream model file"},
		"empty file":         {nil, "not a neurostream model file"},
		"an array, no model": {[]byte("[1,2,3]"), "not a neurostream model file"},
	} {
		path := filepath.Join(dir, "x.json")
		if err := os.WriteFile(path, c.b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
	}
	if _, err := Load("/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("/dev/zero as a model: got %v", err)
	}
	// Every fitted kind still loads.
	for k, f := range base {
		if _, err := Parse(mustJSON(t, f)); err != nil {
			t.Errorf("fitted %s model refused: %v", k, err)
		}
	}
}

func mustJSON(t testing.TB, f *File) []byte {
	t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzModelFile: whatever the bytes, Parse either refuses them or yields a model whose decoder builds
// and classifies a window without panicking. The seeds are fitted models of every kind.
func FuzzModelFile(f *testing.F) {
	for _, m := range fitted(f) {
		f.Add(mustJSON(f, m))
	}
	f.Add([]byte(`{"format_version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			return
		}
		if len(file.Channels)*file.WindowSamples > 1<<16 {
			return // valid, but too big to run per input
		}
		d, err := New(file)
		if err != nil {
			return // a matrix that is not positive definite is found when it is factorised
		}
		info := streams.StreamInfo{StreamID: "fuzz", SampleRateHz: file.SampleRateHz}
		for _, c := range file.Channels {
			info.Channels = append(info.Channels, streams.Channel{Name: c})
		}
		if _, err := d.Bind(info); err != nil {
			t.Fatalf("a model does not bind to a stream with its own channels: %v", err)
		}
		w := make([][]float64, len(file.Channels))
		for c := range w {
			w[c] = make([]float64, file.WindowSamples)
			for s := range w[c] {
				w[c][s] = 1e-5 * math.Sin(float64(s*(c+1)))
			}
		}
		var p streams.Prediction
		_ = d.Decode(w, &p)
	})
}
