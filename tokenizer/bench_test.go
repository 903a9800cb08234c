package tokenizer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// BenchmarkPush tokenizes a 64-channel 250 Hz stream in 8-sample frames with 0.2-s patches; the
// real-time factor is how many such streams one core keeps up with.
func BenchmarkPush(b *testing.B) {
	for _, k := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			const nch, rate, frame = 64, 250.0, 8
			rng := rand.New(rand.NewPCG(1, 2))
			cb := &Codebook{Version: FormatVersion, Name: "bench", SampleRateHz: rate, PatchSamples: 50, Normalisation: PatchZScore}
			for range k {
				w := make([]float64, 50)
				for i := range w {
					w[i] = rng.NormFloat64()
				}
				cb.Codewords = append(cb.Codewords, w)
			}
			info := streams.StreamInfo{StreamID: "b", SampleRateHz: rate, Channels: make([]streams.Channel, nch)}
			tk, err := New(cb, info)
			if err != nil {
				b.Fatal(err)
			}
			x := make([]float32, frame*nch)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			emit := func(*streams.Tokens) error { return nil }
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := tk.Push(x, frame, 0, emit); err != nil {
					b.Fatal(err)
				}
			}
			perFrameSec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(frame/rate/perFrameSec, "streams/core")
		})
	}
}
