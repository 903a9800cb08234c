package onnx

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/decoders/retrieval"
	"github.com/neurostream/neurostream/streams"
)

// Every shipped model must reproduce its PyTorch output through ONNX Runtime to 1e-5.
//
// Besides the shipped models it checks the benchmark-only full-size brain modules that
// tools/models/export_fullsize_brain_module.py puts in the ignored .cache/onnx-bench/, when present.
func TestParityWithPyTorch(t *testing.T) {
	rt := testRuntime(t)
	bench, _ := filepath.Glob(filepath.Join("..", "..", ".cache", "onnx-bench", "*.fixture.json"))
	for _, path := range append(fixtures(t), bench...) {
		f, in := readFixture(t, path)
		t.Run(f.Model, func(t *testing.T) {
			m, err := rt.OpenModel(filepath.Join(filepath.Dir(path), f.Model))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if len(in) != len(m.Input()) {
				t.Fatalf("fixture input has %d values, model input %d", len(in), len(m.Input()))
			}
			copy(m.Input(), in)
			if s, ok := f.Inputs["subject"]; ok {
				if err := m.SetSubject(int(s.Int64[0])); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.Run(); err != nil {
				t.Fatal(err)
			}
			if len(m.Output()) != len(f.Output.Values) {
				t.Fatalf("output has %d values, PyTorch %d", len(m.Output()), len(f.Output.Values))
			}
			d := maxAbsDiff(m.Output(), f.Output.Values)
			t.Logf("%s: %d outputs, max |ORT - PyTorch| = %.2e", f.Model, len(f.Output.Values), d)
			if d > 1e-5 {
				t.Fatalf("max abs diff %.3e > 1e-5", d)
			}
		})
	}
}

// streamFor builds a stream that holds the contract's channels in reverse order, with EDF-style
// decoration stripped and an extra channel, so Bind's mapping is exercised.
func streamFor(c *Contract, subject string) streams.StreamInfo {
	info := streams.StreamInfo{StreamID: "test", SampleRateHz: c.SampleRateHz, Subject: subject}
	info.Channels = append(info.Channels, streams.Channel{Name: "STI 014", Type: streams.ChannelStim})
	for i := len(c.Channels) - 1; i >= 0; i-- {
		info.Channels = append(info.Channels, streams.Channel{Name: strings.ToUpper(strings.TrimRight(c.Channels[i], ".")), Type: streams.ChannelEEG, Unit: "V"})
	}
	return info
}

// windowFor undoes the contract's normalisation on a fixture input, giving the window in stream units
// that Decode must turn back into exactly that input.
func windowFor(c *Contract, in []float32) [][]float64 {
	n := c.WindowSamples
	w := make([][]float64, len(c.Channels))
	for ch := range w {
		off, sc := 0.0, 1.0
		if k := len(c.Normalisation.Offset); k > 0 {
			off = c.Normalisation.Offset[min(ch, k-1)]
		}
		if k := len(c.Normalisation.Scale); k > 0 {
			sc = c.Normalisation.Scale[min(ch, k-1)]
		}
		w[ch] = make([]float64, n)
		for i := range n {
			w[ch][i] = float64(in[ch*n+i])/sc + off
		}
	}
	return w
}

// Through the WindowDecoder interface: channel mapping, normalisation, softmax / embedding, top-k, and
// no allocations per window once the prediction's buffers exist.
func TestDecoderEndToEnd(t *testing.T) {
	rt := testRuntime(t)
	for _, path := range fixtures(t) {
		f, in := readFixture(t, path)
		t.Run(f.Model, func(t *testing.T) {
			modelPath := filepath.Join("testdata", f.Model)
			m, err := rt.OpenModel(modelPath)
			if err != nil {
				t.Fatal(err)
			}
			c := m.Contract()
			m.Close()
			var opts []Option
			var bank *retrieval.Bank
			if c.Output.Kind == OutputEmbedding {
				// A bank holding the expected output among random decoys: it must rank first.
				ids := []string{"decoy-a", "target", "decoy-b"}
				decoy := make([]float32, c.Output.EmbeddingSize)
				decoy2 := make([]float32, c.Output.EmbeddingSize)
				for i := range decoy {
					decoy[i] = float32(math.Sin(float64(i)))
					decoy2[i] = float32(math.Cos(float64(3 * i)))
				}
				bank, err = retrieval.New(ids, [][]float32{decoy, f.Output.Values, decoy2})
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, WithBankValue(bank), WithTopK(2))
			}
			subject := ""
			if s, ok := f.Inputs["subject"]; ok {
				subject = c.Subjects[s.Int64[0]]
			}
			d, err := Load(rt, modelPath, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			info := streamFor(c, subject)
			idx, err := d.Bind(info)
			if err != nil {
				t.Fatal(err)
			}
			for i, j := range idx {
				if looseName(info.Channels[j].Name) != looseName(c.Channels[i]) {
					t.Fatalf("channel %d %q bound to stream channel %q", i, c.Channels[i], info.Channels[j].Name)
				}
			}
			if d.WindowSamples() != c.WindowSamples {
				t.Fatalf("WindowSamples %d, contract %d", d.WindowSamples(), c.WindowSamples)
			}
			w := windowFor(c, in)
			var p streams.Prediction
			if err := d.Decode(w, &p); err != nil {
				t.Fatal(err)
			}
			switch c.Output.Kind {
			case OutputLogits:
				want := make([]float64, len(f.Output.Values))
				softmax(f.Output.Values, want)
				best := 0
				for i, s := range p.Scores {
					if s.Label != c.Output.Labels[i] || math.Abs(s.Value-want[i]) > 1e-5 {
						t.Fatalf("score %d = %+v, want %s %.6f", i, s, c.Output.Labels[i], want[i])
					}
					if want[i] > want[best] {
						best = i
					}
				}
				if p.Label != c.Output.Labels[best] {
					t.Fatalf("label %q, want %q", p.Label, c.Output.Labels[best])
				}
			case OutputEmbedding:
				if c.Task == TaskVisual {
					if dd := maxAbsDiff(p.Embedding, f.Output.Values); len(p.Embedding) != len(f.Output.Values) || dd > 1e-4 {
						t.Fatalf("embedding differs from PyTorch by %.2e (len %d)", dd, len(p.Embedding))
					}
				}
				if len(p.TopK) != 2 || p.TopK[0].ID != "target" || math.Abs(p.TopK[0].Score-1) > 1e-4 {
					t.Fatalf("top-k %+v: the PyTorch output should rank first with cosine 1", p.TopK)
				}
			}
			allocs := testing.AllocsPerRun(5, func() {
				if err := d.Decode(w, &p); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("Decode allocated %.1f times per window, want 0", allocs)
			}
		})
	}
}

func TestBindRejectsMismatch(t *testing.T) {
	rt := testRuntime(t)
	d, err := Load(rt, filepath.Join("testdata", "eegnet-imagined-lr.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c := d.Contract()
	info := streamFor(c, "")
	if len(c.Subjects) > 0 {
		info.Subject = c.Subjects[0]
	}
	wrongRate := info
	wrongRate.SampleRateHz *= 2
	if _, err := d.Bind(wrongRate); err == nil || !strings.Contains(err.Error(), "Hz") {
		t.Fatalf("wrong sampling rate: err = %v", err)
	} else {
		t.Log(err)
	}
	missing := info
	missing.Channels = slices.Clone(info.Channels[:len(info.Channels)-2])
	if _, err := d.Bind(missing); err == nil || !strings.Contains(err.Error(), "lacks 2") {
		t.Fatalf("missing channels: err = %v", err)
	} else {
		t.Log(err)
	}
	var p streams.Prediction
	if err := d.Decode(make([][]float64, len(c.Channels)), &p); err == nil {
		t.Fatal("Decode before a successful Bind did not fail")
	}
	if _, err := d.Bind(info); err != nil {
		t.Fatal(err)
	}
	short := make([][]float64, len(c.Channels))
	for i := range short {
		short[i] = make([]float64, c.WindowSamples-1)
	}
	if err := d.Decode(short, &p); err == nil || !strings.Contains(err.Error(), "samples") {
		t.Fatalf("short window: err = %v", err)
	}
	if err := d.Decode(short[:3], &p); err == nil || !strings.Contains(err.Error(), "channels") {
		t.Fatalf("too few channels: err = %v", err)
	}
	full := make([][]float64, len(c.Channels))
	for i := range full {
		full[i] = make([]float64, c.WindowSamples)
	}
	full[5][17] = math.NaN()
	if err := d.Decode(full, &p); err == nil || !strings.Contains(err.Error(), "finite") {
		t.Fatalf("NaN sample: err = %v", err)
	} else {
		t.Log(err)
	}
}

func TestMissingLibraryMessage(t *testing.T) {
	_, err := NewRuntime(Config{LibraryPath: "/nonexistent/libonnxruntime.so"})
	if err == nil || !strings.Contains(err.Error(), "tools/install-onnxruntime.sh") {
		t.Fatalf("error %v does not say how to install ONNX Runtime", err)
	}
	t.Setenv(EnvLibraryPath, "/nonexistent/libonnxruntime.so")
	if _, err := FindLibrary(""); err == nil || !strings.Contains(err.Error(), EnvLibraryPath) {
		t.Fatalf("bad $%s: error %v", EnvLibraryPath, err)
	}
}

func TestContractValidation(t *testing.T) {
	good := `{"format":"neurostream-onnx-contract/1","name":"m","task":"motor-imagery","channels":["C3","C4"],
	"sample_rate_hz":160,"window_samples":4,"normalisation":{"scale":[1e6]},
	"input":{"name":"input","shape":[1,1,2,4]},"output":{"name":"logits","kind":"logits","labels":["l","r"]}}`
	if _, err := ParseContract([]byte(good)); err != nil {
		t.Fatal(err)
	}
	bad := map[string][2]string{
		"task":          {`"task":"motor-imagery"`, `"task":"telepathy"`},
		"shape":         {`"shape":[1,1,2,4]`, `"shape":[1,1,4,2]`},
		"batch":         {`"shape":[1,1,2,4]`, `"shape":[2,1,2,4]`},
		"labels":        {`"labels":["l","r"]`, `"labels":["l"]`},
		"scale count":   {`"scale":[1e6]`, `"scale":[1,2,3]`},
		"unknown field": {`"window_samples":4`, `"window_samples":4,"windw":3`},
		"rate":          {`"sample_rate_hz":160`, `"sample_rate_hz":0`},
	}
	for name, r := range bad {
		_, err := ParseContract([]byte(strings.Replace(good, r[0], r[1], 1)))
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// Hostile numbers and names fail with the field named, before any tensor is allocated.
	hostile := map[string]struct{ from, to, field string }{
		"rate 1e-300":        {`"sample_rate_hz":160`, `"sample_rate_hz":1e-300`, "sample_rate_hz"},
		"window of 1e9":      {`"window_samples":4`, `"window_samples":1000000000`, "window_samples"},
		"zero scale":         {`"scale":[1e6]`, `"scale":[0]`, "normalisation.scale[0]"},
		"1e308 offset":       {`"scale":[1e6]`, `"scale":[1e6],"offset":[1e308]`, "normalisation.offset[0]"},
		"duplicate channels": {`"channels":["C3","C4"]`, `"channels":["C3","c3."]`, "channels[1]"},
		"duplicate labels":   {`"labels":["l","r"]`, `"labels":["l","l"]`, "output.labels[1]"},
		"embedding of 1e12":  {`"kind":"logits","labels":["l","r"]`, `"kind":"embedding","embedding_size":1000000000000`, "field output"},
	}
	for name, h := range hostile {
		_, err := ParseContract([]byte(strings.Replace(good, h.from, h.to, 1)))
		if err == nil || !strings.Contains(err.Error(), h.field) {
			t.Errorf("%s: got %v, want an error naming %s", name, err, h.field)
		}
	}
}

// FuzzContract: any bytes either fail ParseContract or give a contract whose sizes are bounded.
func FuzzContract(f *testing.F) {
	f.Add([]byte(`{"format":"neurostream-onnx-contract/1","name":"m","task":"motor-imagery","channels":["C3","C4"],
	"sample_rate_hz":160,"window_samples":4,"normalisation":{"scale":[1e6]},
	"input":{"name":"input","shape":[1,1,2,4]},"output":{"name":"logits","kind":"logits","labels":["l","r"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseContract(b)
		if err != nil {
			return
		}
		if n := len(c.Channels) * c.WindowSamples; n <= 0 || n > maxWindowValues || c.outputSize() > maxContractOutputs {
			t.Fatalf("accepted a contract of %d input and %d output values", n, c.outputSize())
		}
	})
}

func TestZScoreFlatChannel(t *testing.T) {
	x := []float32{3, 3, 3}
	zscore(x)
	for _, v := range x {
		if v != 0 {
			t.Fatalf("flat channel z-scored to %v, want zeros", x)
		}
	}
	y := []float32{1, 2, 3, 4}
	zscore(y)
	var m, ss float64
	for _, v := range y {
		m += float64(v)
	}
	for _, v := range y {
		ss += float64(v) * float64(v)
	}
	if math.Abs(m) > 1e-6 || math.Abs(ss/4-1) > 1e-5 {
		t.Fatalf("z-scored %v has mean %g and variance %g", y, m/4, ss/4)
	}
}

// Two Runtimes share ONNX Runtime's one process-wide environment: closing the first must leave the
// second usable, and models cannot be opened through a closed Runtime.
func TestRuntimesShareEnvironment(t *testing.T) {
	first := testRuntime(t)
	second, err := NewRuntime(Config{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.OpenModel(filepath.Join("testdata", "eegnet-imagined-lr.onnx")); err == nil {
		t.Fatal("opened a model through a closed Runtime")
	}
	m, err := second.OpenModel(filepath.Join("testdata", "eegnet-imagined-lr.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRuntime(Config{IntraOpThreads: -1}); err == nil {
		t.Fatal("negative thread count accepted")
	}
}

// A model without contract metadata falls back to model.contract.json beside it.
func TestSidecarContract(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.onnx")
	if _, err := readSidecar(model); err == nil || !strings.Contains(err.Error(), "no sidecar") {
		t.Fatalf("missing sidecar: err = %v", err)
	}
	c := `{"format":"neurostream-onnx-contract/1","name":"m","task":"visual","channels":["O1","O2"],
	"sample_rate_hz":120,"window_samples":3,"input":{"name":"x","shape":[1,2,3]},
	"output":{"name":"y","kind":"embedding","embedding_size":4}}`
	if err := os.WriteFile(filepath.Join(dir, "m.contract.json"), []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readSidecar(model)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "m" || got.Output.EmbeddingSize != 4 || len(got.Channels) != 2 {
		t.Fatalf("sidecar parsed as %+v", got)
	}
}
