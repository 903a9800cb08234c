// Package configs holds the example pipeline configurations; its test keeps them loadable.
package configs

import (
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/streams/pipeline"
)

func TestConfigsLoadAndBuild(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	if len(files) == 0 {
		t.Fatal("no configs")
	}
	for _, f := range files {
		cfg, err := pipeline.LoadConfig(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range cfg.Sources {
			if _, err := pipeline.BuildSource(s); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		for _, p := range cfg.Pipelines {
			// Model paths in configs are relative to the repository root.
			for i := range p.Stages {
				if p.Stages[i].Model != "" {
					p.Stages[i].Model = filepath.Join("..", p.Stages[i].Model)
				}
			}
			if usesONNX(p) {
				continue // built with an ONNX loader by TestONNXConfigsBuild
			}
			if _, err := pipeline.BuildStages(p.Stages, pipeline.DefaultLoaders(), nil); err != nil {
				t.Fatalf("%s pipeline %s: %v", f, p.Name, err)
			}
		}
	}
}
