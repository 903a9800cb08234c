package configs

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/decoders"
	"github.com/neurostream/neurostream/decoders/onnx"
	"github.com/neurostream/neurostream/pipeline"
)

func usesONNX(p pipeline.PipelineConfig) bool {
	return slices.ContainsFunc(p.Stages, func(s pipeline.StageConfig) bool { return s.Decoder == "onnx" })
}

// The ONNX configs parse and their stages build: the decoder stages open their models and banks with
// the options the config gives (bank, top_k, subject, threads), as cmd/neurostream's loader does.
// Without the ONNX Runtime library only the parsing is checked.
func TestONNXConfigsBuild(t *testing.T) {
	files, _ := filepath.Glob("onnx-*.yaml")
	if len(files) < 2 {
		t.Fatalf("want the motor-imagery and retrieval ONNX configs, found %v", files)
	}
	_, libErr := onnx.FindLibrary("")
	ox := onnx.NewLoader(onnx.Config{})
	defer ox.Close()
	loaders := pipeline.DefaultLoaders()
	var opened []string
	loaders["onnx"] = func(sc pipeline.StageConfig) (decoders.WindowDecoder, error) {
		opts := []onnx.Option{onnx.WithTopK(sc.TopK), onnx.WithSubject(sc.Subject), onnx.WithThreads(sc.Threads)}
		if sc.Bank != "" {
			opts = append(opts, onnx.WithBank(filepath.Join("..", sc.Bank))) // paths are relative to the repo root
		}
		d, err := ox.Load(filepath.Join("..", sc.Model), opts...)
		if err != nil {
			return nil, err
		}
		opened = append(opened, d.Name())
		return d, nil
	}
	for _, f := range files {
		cfg, err := pipeline.LoadConfig(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range cfg.Pipelines {
			if !usesONNX(p) {
				t.Fatalf("%s pipeline %s has no onnx decoder stage", f, p.Name)
			}
			if errors.Is(libErr, onnx.ErrLibraryNotFound) {
				t.Logf("%s pipeline %s: parsed; not built, ONNX Runtime is not installed (tools/install-onnxruntime.sh)", f, p.Name)
				continue
			}
			if _, err := pipeline.BuildStages(p.Stages, loaders, nil); err != nil {
				t.Fatalf("%s pipeline %s: %v", f, p.Name, err)
			}
		}
	}
	if libErr == nil {
		want := "eegnet-imagined-lr speech-sim visual-sim"
		if got := strings.Join(opened, " "); got != want {
			t.Fatalf("configs opened models %q, want %q", got, want)
		}
	}
}
