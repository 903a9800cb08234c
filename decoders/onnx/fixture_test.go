package onnx

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// fixture is what tools/models/export.py writes: one random input and the PyTorch output for it.
type fixture struct {
	Model  string `json:"model"`
	Inputs map[string]struct {
		Shape   []int64 `json:"shape"`
		Float32 string  `json:"float32_le_base64"`
		Int64   []int64 `json:"int64"`
	} `json:"inputs"`
	Output struct {
		Name   string    `json:"name"`
		Shape  []int64   `json:"shape"`
		Values []float32 `json:"values"`
	} `json:"output"`
}

func readFixture(t testing.TB, path string) (*fixture, []float32) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	raw, err := base64.StdEncoding.DecodeString(f.Inputs["input"].Float32)
	if err != nil {
		t.Fatalf("%s: input: %v", path, err)
	}
	in := make([]float32, len(raw)/4)
	for i := range in {
		in[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return &f, in
}

func fixtures(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.fixture.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no parity fixtures in testdata (%v)", err)
	}
	return paths
}

// testRuntime opens ONNX Runtime or skips: CI runs tools/install-onnxruntime.sh first, so there the
// tests run; on a machine without the library they say how to get it.
func testRuntime(t testing.TB) *Runtime {
	t.Helper()
	return testRuntimeWith(t, Config{})
}

func testRuntimeWith(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	rt, err := NewRuntime(cfg)
	if errors.Is(err, ErrLibraryNotFound) {
		t.Skipf("ONNX Runtime not installed: run tools/install-onnxruntime.sh (%v)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Error(err)
		}
	})
	return rt
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func maxAbsDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}
