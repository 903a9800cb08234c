package bench

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/decoders/onnx"
	"github.com/neurostream/neurostream/streams"
)

// The onnx suite's workload, shared with tools/bench/onnx.py: each shipped model in
// decoders/onnx/testdata decodes its parity-fixture window (the same input PyTorch is timed on), through
// the full WindowDecoder path (normalisation, one ONNX Runtime run with 1 intra-op and 1 inter-op
// thread, softmax or top-k ranking over the model's bank). If tools/models/export_fullsize_brain_module.py
// has put a brain module of the published size into .cache/onnx-bench/, it is timed too, as exported
// and with its linear front end folded for one subject (nets.FoldedBrainModule; PyTorch times the
// folded network too), and folded with its 1-D convs written as 2-D ones (nets.Conv2dFoldedBrainModule).
func benchONNX(ctx context.Context, r *benchRun) error {
	testdata := filepath.Join(r.toolsDir, "..", "decoders", "onnx", "testdata")
	large := filepath.Join(r.toolsDir, "..", ".cache", "onnx-bench")
	rt, err := onnx.NewRuntime(onnx.Config{})
	if err != nil {
		return fmt.Errorf("onnx workload: %w", err)
	}
	defer rt.Close()
	ref, refErr := r.Reference(ctx, "onnx.py", testdata, large)
	if refErr != nil {
		fmt.Fprintf(r.out, "PyTorch reference unavailable: %v\n", refErr)
	}
	targets := map[string]string{
		"eegnet-imagined-lr":           "<= 0.5ms, 0 allocs",
		"speech-sim":                   "<= 15ms, 0 allocs",
		"brain-module-fullsize":        "<= 15ms, 0 allocs",
		"brain-module-fullsize-folded": "<= 15ms, 0 allocs",
		// The folded network with its 1-D convs written as (1, k) 2-D convs, which ONNX Runtime's x86
		// CPU provider runs with its blocked NCHWc kernels (nets.Conv2dFoldedBrainModule).
		"brain-module-fullsize-folded-conv2d": "<= 15ms, 0 allocs",
	}
	r.Header()
	paths, _ := filepath.Glob(filepath.Join(testdata, "*.fixture.json"))
	if len(paths) == 0 {
		return fmt.Errorf("onnx workload: no *.fixture.json models in %s", testdata)
	}
	extra, _ := filepath.Glob(filepath.Join(large, "*.fixture.json"))
	for _, path := range append(paths, extra...) {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := strings.TrimSuffix(filepath.Base(path), ".fixture.json")
		d, window, err := benchONNXDecoder(rt, filepath.Dir(path), name)
		if err != nil {
			return fmt.Errorf("onnx workload %s: %w", name, err)
		}
		var p streams.Prediction
		res := r.Go(func(b *testing.B) {
			for b.Loop() {
				if err := d.Decode(window, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
		d.Close()
		target := targets[name]
		if target == "" {
			target = "0 allocs"
		}
		r.Compare(name+" decode", res, ref[name], target)
	}
	return nil
}

// benchONNXDecoder loads one shipped model, binds it to a stream made of its own channels and turns its
// fixture input back into a window in stream units.
func benchONNXDecoder(rt *onnx.Runtime, testdata, name string) (*onnx.Decoder, [][]float64, error) {
	raw, err := os.ReadFile(filepath.Join(testdata, name+".fixture.json"))
	if err != nil {
		return nil, nil, err
	}
	var fx struct {
		Model  string `json:"model"`
		Inputs struct {
			Input struct {
				Float32 string `json:"float32_le_base64"`
			} `json:"input"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		return nil, nil, fmt.Errorf("fixture: %w", err)
	}
	bytes, err := base64.StdEncoding.DecodeString(fx.Inputs.Input.Float32)
	if err != nil {
		return nil, nil, fmt.Errorf("fixture input: %w", err)
	}
	var opts []onnx.Option
	if bank := filepath.Join(testdata, name+".bank.json"); fileExistsONNX(bank) {
		opts = append(opts, onnx.WithBank(bank))
	}
	d, err := onnx.Load(rt, filepath.Join(testdata, fx.Model), opts...)
	if err != nil {
		return nil, nil, err
	}
	c := d.Contract()
	info := streams.StreamInfo{StreamID: "bench", SampleRateHz: c.SampleRateHz}
	if len(c.Subjects) > 0 {
		info.Subject = c.Subjects[0]
	}
	for _, ch := range c.Channels {
		info.Channels = append(info.Channels, streams.Channel{Name: ch, Type: streams.ChannelEEG, Unit: "V"})
	}
	if _, err := d.Bind(info); err != nil {
		d.Close()
		return nil, nil, err
	}
	n := c.WindowSamples
	if len(bytes) != 4*n*len(c.Channels) {
		d.Close()
		return nil, nil, fmt.Errorf("fixture input has %d bytes, want %d", len(bytes), 4*n*len(c.Channels))
	}
	window := make([][]float64, len(c.Channels))
	for ch := range window {
		off, sc := 0.0, 1.0
		if k := len(c.Normalisation.Offset); k > 0 {
			off = c.Normalisation.Offset[min(ch, k-1)]
		}
		if k := len(c.Normalisation.Scale); k > 0 {
			sc = c.Normalisation.Scale[min(ch, k-1)]
		}
		window[ch] = make([]float64, n)
		for i := range n {
			v := math.Float32frombits(binary.LittleEndian.Uint32(bytes[4*(ch*n+i):]))
			window[ch][i] = float64(v)/sc + off
		}
	}
	return d, window, nil
}

func fileExistsONNX(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
