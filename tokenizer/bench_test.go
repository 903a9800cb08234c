package tokenizer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// BenchmarkPush tokenizes a 64-channel stream in 8-sample frames: 250 Hz with 0.25-s patches, and
// PhysioNet's 160 Hz with 0.2-s patches (32 samples) for k-means and residual VQ; the real-time
// factor is how many such streams one core keeps up with. The "scalar" cases run the plain scalar
// search the packed one replaced, for the ratio.
func BenchmarkPush(b *testing.B) {
	cases := []struct {
		rate            float64
		p, k, stages    int
		scalarReference bool
		muLaw           bool // k levels per sample
	}{
		{250, 50, 64, 1, false, false}, {250, 50, 256, 1, false, false}, {250, 50, 1024, 1, false, false},
		{160, 32, 64, 1, false, false}, {160, 32, 256, 1, false, false}, {160, 32, 256, 4, false, false}, {160, 32, 512, 4, false, false},
		{160, 32, 256, 1, true, false}, {160, 32, 256, 4, true, false}, {160, 32, 16, 1, false, true},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%gHz/p=%d/K=%d", c.rate, c.p, c.k)
		if c.stages > 1 {
			name = fmt.Sprintf("%gHz/p=%d/RVQ=%dx%d", c.rate, c.p, c.stages, c.k)
		}
		if c.scalarReference {
			name += "/scalar"
		}
		if c.muLaw {
			name = fmt.Sprintf("%gHz/p=%d/mu-law=%d", c.rate, c.p, c.k)
		}
		b.Run(name, func(b *testing.B) {
			const nch, frame = 64, 8
			rng := rand.New(rand.NewPCG(1, 2))
			stage := func() [][]float64 {
				words := make([][]float64, c.k)
				for i := range words {
					words[i] = make([]float64, c.p)
					for d := range words[i] {
						words[i][d] = rng.NormFloat64()
					}
				}
				return words
			}
			cb := NewMuLaw(c.rate, c.p, c.k, 4, [2]float64{}, nil)
			if !c.muLaw {
				cb = &Codebook{Version: FormatVersion, Name: "bench", SampleRateHz: c.rate, PatchSamples: c.p, Normalisation: PatchZScore, Codewords: stage()}
				for range c.stages - 1 {
					cb.Residual = append(cb.Residual, stage())
				}
			}
			q, err := NewQuantizer(cb)
			if err != nil {
				b.Fatal(err)
			}
			if c.scalarReference {
				if q, err = q.WithScalarSearch(); err != nil {
					b.Fatal(err)
				}
			}
			info := streams.StreamInfo{StreamID: "b", SampleRateHz: c.rate, Channels: make([]streams.Channel, nch)}
			tk, err := q.NewTokenizer(info)
			if err != nil {
				b.Fatal(err)
			}
			x := make([]float32, frame*nch)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			emit := func(*streams.Tokens) error { return nil }
			b.ReportAllocs()
			for b.Loop() {
				if err := tk.Push(x, frame, 0, emit); err != nil {
					b.Fatal(err)
				}
			}
			perFrameSec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(frame/c.rate/perFrameSec, "streams/core")
		})
	}
}
