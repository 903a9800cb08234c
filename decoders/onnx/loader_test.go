package onnx

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// A Loader starts one Runtime for all the decoders it opens; per-decoder threads and the retrieval
// options reach the decoder; after Close it can start again.
func TestLoaderSharesOneRuntime(t *testing.T) {
	testRuntime(t) // skips without the library
	l := NewLoader(Config{})
	defer l.Close()
	mi, err := l.Load(filepath.Join("testdata", "eegnet-imagined-lr.onnx"), WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	rt := l.rt
	sp, err := l.Load(filepath.Join("testdata", "speech-sim.onnx"), WithBank(filepath.Join("testdata", "speech-sim.bank.json")),
		WithTopK(3), WithSubject("sim02"))
	if err != nil {
		t.Fatal(err)
	}
	if l.rt != rt {
		t.Fatal("the second model started a second Runtime")
	}
	// The options arrived: the speech decoder ranks 3 candidates and binds subject sim02 whatever the stream says.
	_, in := readFixture(t, filepath.Join("testdata", "speech-sim.fixture.json"))
	c := sp.Contract()
	if _, err := sp.Bind(streamFor(c, "sim01")); err != nil {
		t.Fatal(err)
	}
	if got := sp.model.subject.GetData()[0]; got != 1 {
		t.Fatalf("subject index %d, want 1 (sim02 from WithSubject)", got)
	}
	var p streams.Prediction
	if err := sp.Decode(windowFor(c, in), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.TopK) != 3 {
		t.Fatalf("%d ranked candidates, want 3", len(p.TopK))
	}
	if _, err := mi.Bind(streamFor(mi.Contract(), "")); err != nil {
		t.Fatal(err)
	}
	mi.Close()
	sp.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.rt != nil {
		t.Fatal("Close left the Runtime in place")
	}
	again, err := l.Load(filepath.Join("testdata", "visual-sim.onnx"))
	if err != nil {
		t.Fatalf("load after Close: %v", err)
	}
	again.Close()
	if _, err := l.Load(filepath.Join("testdata", "visual-sim.onnx"), WithThreads(-1)); err == nil {
		t.Fatal("negative thread count accepted")
	}
}

func TestLoaderMissingLibrary(t *testing.T) {
	l := NewLoader(Config{LibraryPath: "/nonexistent/libonnxruntime.so"})
	defer l.Close()
	_, err := l.Load(filepath.Join("testdata", "eegnet-imagined-lr.onnx"))
	if err == nil || !strings.Contains(err.Error(), "tools/install-onnxruntime.sh") || !strings.Contains(err.Error(), EnvLibraryPath) {
		t.Fatalf("error %v does not say how to install ONNX Runtime", err)
	}
	if _, err := l.Load(""); err == nil {
		t.Fatal("empty model path accepted")
	}
}
