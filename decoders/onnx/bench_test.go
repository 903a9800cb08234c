package onnx

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/neurostream/neurostream/decoders/retrieval"
	"github.com/neurostream/neurostream/streams"
)

// benchmarkDecode times Decoder.Decode (normalisation, one ONNX Runtime run on 1 thread, softmax or
// top-k) on the model's parity-fixture window; tools/bench/onnx.py times PyTorch on the same input.
func benchmarkDecode(b *testing.B, dir, model string) {
	benchmarkDecodeWith(b, Config{}, dir, model)
}

func benchmarkDecodeWith(b *testing.B, cfg Config, dir, model string) {
	rt := testRuntimeWith(b, cfg)
	fixturePath := filepath.Join(dir, model+".fixture.json")
	if !fileExists(fixturePath) {
		b.Skipf("%s: not there (export it with tools/models)", fixturePath)
	}
	f, in := readFixture(b, fixturePath)
	path := filepath.Join(dir, f.Model)
	var opts []Option
	if bank := filepath.Join(dir, model+".bank.json"); fileExists(bank) {
		opts = append(opts, WithBank(bank))
	}
	d, err := Load(rt, path, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	c := d.Contract()
	subject := ""
	if len(c.Subjects) > 0 {
		subject = c.Subjects[0]
	}
	if _, err := d.Bind(streamFor(c, subject)); err != nil {
		b.Fatal(err)
	}
	w := windowFor(c, in)
	var p streams.Prediction
	if err := d.Decode(w, &p); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := d.Decode(w, &p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEEGNet(b *testing.B) { benchmarkDecode(b, "testdata", "eegnet-imagined-lr") }
func BenchmarkDecodeShallowConvNet(b *testing.B) {
	benchmarkDecode(b, "testdata", "shallow-imagined-lr")
}
func BenchmarkDecodeMVCNet(b *testing.B) { benchmarkDecode(b, "testdata", "mvcnet-imagined-lr") }
func BenchmarkDecodeSpeech(b *testing.B) { benchmarkDecode(b, "testdata", "speech-sim") }
func BenchmarkDecodeVisual(b *testing.B) { benchmarkDecode(b, "testdata", "visual-sim") }

// A brain module of the published size (273 sensors, 320 hidden channels, 5 blocks, 3 s at 120 Hz,
// random weights), exported by tools/models/export_fullsize_brain_module.py into the ignored
// .cache/onnx-bench/ (15 MB, not committed); ranked against a 1000-segment bank.
func BenchmarkDecodeBrainModuleFullSize(b *testing.B) {
	benchmarkDecode(b, filepath.Join("..", "..", ".cache", "onnx-bench"), "brain-module-fullsize")
}

// The same network with its linear front end (spatial attention, merge conv, subject layer, input conv)
// folded into one 1x1 conv for the subject at export (tools/models/nets.FoldedBrainModule).
func BenchmarkDecodeBrainModuleFullSizeFolded(b *testing.B) {
	benchmarkDecode(b, filepath.Join("..", "..", ".cache", "onnx-bench"), "brain-module-fullsize-folded")
}

// The folded network with every 1-D conv written as a (1, k) 2-D conv on [B, C, 1, T]
// (tools/models/nets.Conv2dFoldedBrainModule): ONNX Runtime's x86 CPU provider runs 2-D convs with its
// blocked NCHWc kernels, 1-D ones with im2col + GEMM.
func BenchmarkDecodeBrainModuleFullSizeFoldedConv2d(b *testing.B) {
	benchmarkDecode(b, filepath.Join("..", "..", ".cache", "onnx-bench"), "brain-module-fullsize-folded-conv2d")
}

// The same with 2 intra-op threads: the published size needs more than one core for a 15 ms budget.
func BenchmarkDecodeBrainModuleFullSize2Threads(b *testing.B) {
	benchmarkDecodeWith(b, Config{IntraOpThreads: 2}, filepath.Join("..", "..", ".cache", "onnx-bench"), "brain-module-fullsize")
}

// Ranking alone, for a bank far larger than the shipped demo ones.
func BenchmarkTopK10Of10000(b *testing.B) {
	ids := make([]string, 10000)
	vecs := make([][]float32, len(ids))
	for i := range ids {
		ids[i] = "candidate-" + strconv.Itoa(i)
		vecs[i] = make([]float32, 64)
		for j := range vecs[i] {
			vecs[i][j] = float32((i*31+j*17)%97) - 48
		}
	}
	bank, err := retrieval.New(ids, vecs)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]streams.Ranked, 0, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		dst, _ = bank.TopK(vecs[5], 10, dst)
	}
}
