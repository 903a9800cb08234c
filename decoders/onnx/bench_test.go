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
func benchmarkDecode(b *testing.B, model string) {
	rt := testRuntime(b)
	fixturePath := filepath.Join("testdata", model+".fixture.json")
	if !fileExists(fixturePath) {
		b.Skipf("%s: not shipped (train it with tools/models)", fixturePath)
	}
	f, in := readFixture(b, fixturePath)
	path := filepath.Join("testdata", f.Model)
	var opts []Option
	if bank := filepath.Join("testdata", model+".bank.json"); fileExists(bank) {
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

func BenchmarkDecodeEEGNet(b *testing.B)         { benchmarkDecode(b, "eegnet-imagined-lr") }
func BenchmarkDecodeShallowConvNet(b *testing.B) { benchmarkDecode(b, "shallow-imagined-lr") }
func BenchmarkDecodeMVCNet(b *testing.B)         { benchmarkDecode(b, "mvcnet-imagined-lr") }
func BenchmarkDecodeSpeech(b *testing.B)         { benchmarkDecode(b, "speech-sim") }
func BenchmarkDecodeVisual(b *testing.B)         { benchmarkDecode(b, "visual-sim") }

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
