package tokenizer

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/streams"
)

// Quantising a mean and scale and decoding the codes lands within half a cell of them (in log scale
// for the scale, in quantised scales for the mean); decoded values quantise back to their codes;
// values beyond the range clamp to its ends; bad values and bit counts are errors.
func TestSideQuantizeRoundTrip(t *testing.T) {
	r := SideRange{ChannelType: "eeg", LogScaleLo: math.Log(1e-6), LogScaleHi: math.Log(1e-4), OffsetMaxZ: 2}
	for bits := 1; bits <= MaxSideBits; bits++ {
		n := 1 << bits
		logStep := (r.LogScaleHi - r.LogScaleLo) / float64(n)
		zStep := 2 * r.OffsetMaxZ / float64(n)
		for i := range 200 {
			scale := math.Exp(r.LogScaleLo + (r.LogScaleHi-r.LogScaleLo)*float64(i)/199)
			mean := scale * r.OffsetMaxZ * math.Sin(float64(i))
			oc, sc, err := r.Quantize(mean, scale, bits)
			if err != nil {
				t.Fatal(err)
			}
			qm, qs := r.Dequantize(oc, sc, bits)
			if d := math.Abs(math.Log(qs) - math.Log(scale)); d > logStep/2+1e-12 {
				t.Fatalf("%d bits: scale %g decoded as %g, %g log units off (half a cell is %g)", bits, scale, qs, d, logStep/2)
			}
			if z := mean / qs; math.Abs(z) > r.OffsetMaxZ { // beyond the range for this decoded scale: clamped
				if want := map[bool]int{true: n - 1, false: 0}[z > 0]; int(oc) != want {
					t.Fatalf("%d bits: mean of %g scales clamps to code %d, want %d", bits, z, oc, want)
				}
			} else if d := math.Abs(mean/qs - qm/qs); d > zStep/2+1e-12 {
				t.Fatalf("%d bits: mean %g decoded as %g, %g scales off (half a cell is %g)", bits, mean, qm, d, zStep/2)
			}
		}
		for c := range n {
			m, s := r.Dequantize(uint8(c), uint8(n-1-c), bits)
			oc, sc, err := r.Quantize(m, s, bits)
			if err != nil || int(oc) != c || int(sc) != n-1-c {
				t.Fatalf("%d bits: codes %d, %d decode to %g, %g, which quantise to %d, %d (%v)", bits, c, n-1-c, m, s, oc, sc, err)
			}
		}
		for _, c := range []struct {
			mean, scale float64
			oc, sc      int
		}{
			{0, 1, -1, n - 1},            // a scale far above the range: the top code
			{0, 0, -1, 0},                // a flat patch's zero scale: the bottom code
			{1e-3, 1e-9, n - 1, 0},       // a mean far above +max scales
			{-1, math.Exp(-9), 0, -1},    // and far below -max
			{0, math.Exp(-9), n / 2, -1}, // zero mean: the cell above the middle
		} {
			oc, sc, err := r.Quantize(c.mean, c.scale, bits)
			if err != nil || (c.oc >= 0 && int(oc) != c.oc) || (c.sc >= 0 && int(sc) != c.sc) {
				t.Fatalf("%d bits: mean %g, scale %g: codes %d, %d (%v), want %d, %d (-1: any)", bits, c.mean, c.scale, oc, sc, err, c.oc, c.sc)
			}
		}
	}
	for _, c := range []struct{ mean, scale float64 }{{math.NaN(), 1e-5}, {0, math.NaN()}, {math.Inf(1), 1e-5}, {0, math.Inf(1)}, {0, -1}} {
		if _, _, err := r.Quantize(c.mean, c.scale, 4); err == nil || !strings.Contains(err.Error(), "finite") {
			t.Fatalf("mean %g, scale %g: %v, want an error saying they must be finite", c.mean, c.scale, err)
		}
	}
	for _, bits := range []int{0, -1, 9} {
		if _, _, err := r.Quantize(0, 1e-5, bits); err == nil {
			t.Fatalf("%d bits accepted", bits)
		}
	}
	for _, bits := range []int{-1, 9, 16} {
		if err := CheckSideBits(bits); err == nil || !strings.Contains(err.Error(), "0 (float32") {
			t.Fatalf("side_bits %d: %v", bits, err)
		}
	}
	for _, bad := range []SideRange{
		{ChannelType: "stim", LogScaleLo: -1, LogScaleHi: 1, OffsetMaxZ: 1},
		{ChannelType: "eeg", LogScaleLo: 1, LogScaleHi: -1, OffsetMaxZ: 1},
		{ChannelType: "eeg", LogScaleLo: math.NaN(), LogScaleHi: 1, OffsetMaxZ: 1},
		{ChannelType: "eeg", LogScaleLo: -1, LogScaleHi: 1, OffsetMaxZ: -1},
		{ChannelType: "eeg", LogScaleLo: -1, LogScaleHi: 1, OffsetMaxZ: math.Inf(1)},
	} {
		cb := &Codebook{Version: FormatVersion, Name: "t", SampleRateHz: 100, PatchSamples: 2, Normalisation: PatchZScore, Codewords: [][]float64{{-1, 1}}, SideRanges: []SideRange{bad}}
		if err := cb.Validate(); err == nil || !strings.Contains(err.Error(), "side") {
			t.Fatalf("side range %+v: %v", bad, err)
		}
	}
}

// Codebook files written before side ranges existed still load, keep their version (fingerprint),
// tokenize with float32 side information, and refuse side_bits with an error that says how to get
// ranges; FitSide adds them (and changes the version, since the tokens' meaning changes).
func TestOldCodebooksAndSideBits(t *testing.T) {
	cb, err := Load(filepath.Join("testdata", "synthetic-kmeans-64-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	const before = 0xee380990 // its fingerprint before side ranges existed
	if cb.Version != 1 || len(cb.SideRanges) != 0 || cb.Fingerprint() != before {
		t.Fatalf("format %d, %d side ranges, version %08x: want the old file as it was (%08x)", cb.Version, len(cb.SideRanges), cb.Fingerprint(), uint32(before))
	}
	q, err := NewQuantizer(cb)
	if err != nil {
		t.Fatal(err)
	}
	info := streams.StreamInfo{StreamID: "s", SampleRateHz: cb.SampleRateHz, Channels: []streams.Channel{{Name: "Cz", Type: streams.ChannelEEG}}}
	tk, err := q.NewTokenizer(info)
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.SetSideBits(4); err == nil || !strings.Contains(err.Error(), "no side-information ranges") || !strings.Contains(err.Error(), "train-tokenizer") {
		t.Fatalf("side_bits 4 on a codebook without ranges: %v", err)
	}
	if err := cb.CheckSide(9, nil); err == nil || !strings.Contains(err.Error(), "side_bits 9") {
		t.Fatalf("side_bits 9: %v", err)
	}
	if err := tk.SetSideBits(0); err != nil {
		t.Fatal(err)
	}
	// A recording of a magnetometer and an EEG channel: ranges for both types, apart.
	rec := &acquisition.Recording{Info: streams.StreamInfo{SampleRateHz: cb.SampleRateHz, Channels: []streams.Channel{{Name: "Cz", Type: streams.ChannelEEG}, {Name: "M1", Type: streams.ChannelMEGMag}}}}
	n := 20 * int(cb.SampleRateHz)
	rec.Data = [][]float64{make([]float64, n), make([]float64, n)}
	for i := range n {
		s := math.Sin(float64(i)*0.31) + 0.5*math.Sin(float64(i)*0.043) + 0.2*math.Sin(float64(i)*float64(i)*1e-4)
		rec.Data[0][i], rec.Data[1][i] = 1e-5*s*(1+0.5*math.Sin(float64(i)*1e-3)), 1e-12*s
	}
	if err := FitSide(cb, []*acquisition.Recording{rec}, []string{"test"}); err != nil {
		t.Fatal(err)
	}
	if cb.Version != FormatVersion || len(cb.SideRanges) != 2 || cb.Fingerprint() == before {
		t.Fatalf("after FitSide: format %d, ranges %+v, version %08x", cb.Version, cb.SideRanges, cb.Fingerprint())
	}
	eeg, mag := cb.SideRangeOf("eeg"), cb.SideRangeOf("mag")
	if eeg == nil || mag == nil || !(eeg.LogScaleLo > mag.LogScaleHi) || !(eeg.LogScaleHi > eeg.LogScaleLo) {
		t.Fatalf("side ranges %+v: want an EEG range in volts well above the magnetometers' in tesla", cb.SideRanges)
	}
	path := filepath.Join(t.TempDir(), "cb.json")
	if err := cb.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil || back.Fingerprint() != cb.Fingerprint() {
		t.Fatalf("reloaded: %v", err)
	}
	q, _ = NewQuantizer(back)
	tk, _ = q.NewTokenizer(info)
	if err := tk.SetSideBits(4); err != nil {
		t.Fatal(err)
	}
	gradInfo := streams.StreamInfo{StreamID: "g", SampleRateHz: cb.SampleRateHz, Channels: []streams.Channel{{Name: "G1", Type: streams.ChannelMEGGrad}}}
	if tk, err = q.NewTokenizer(gradInfo); err != nil {
		t.Fatal(err)
	}
	if err := tk.SetSideBits(3); err == nil || !strings.Contains(err.Error(), "not for grad") {
		t.Fatalf("side_bits on gradiometers without their range: %v", err)
	}
}

// With side_bits, the streaming tokenizer's tokens, through their wire encoding, detokenize to what
// the offline round trip gives (encode, quantise the side information, dequantise, decode) bit for
// bit; the reconstruction keeps nearly what float32 side information keeps; Push still allocates
// nothing; a NaN sample is a clear error.
func TestSideBitsStreamingEqualsOffline(t *testing.T) {
	train, err := edf.Read(shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", "S001R01.edf")))
	if err != nil {
		t.Fatal(err)
	}
	test, err := edf.Read(shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", "S001R02.edf")))
	if err != nil {
		t.Fatal(err)
	}
	cfg := TrainConfig{PatchSec: 0.2, Codewords: 32, BandHz: [2]float64{1, 40}, MaxPatches: 3000, MaxIter: 15, Seed: 1}
	cb, err := Train(context.Background(), []*acquisition.Recording{train}, []string{"S001R01"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r := cb.SideRangeOf("eeg"); r == nil || len(cb.SideRanges) != 1 || r.Patches < 1000 || !(r.LogScaleHi > r.LogScaleLo) || !(r.OffsetMaxZ > 0) {
		t.Fatalf("trained side ranges %+v", cb.SideRanges)
	}
	q, err := NewQuantizer(cb)
	if err != nil {
		t.Fatal(err)
	}
	data, chans, err := Prepare(test, cfg)
	if err != nil {
		t.Fatal(err)
	}
	info := streams.StreamInfo{StreamID: "s", SampleRateHz: test.Info.SampleRateHz, Channels: chans}
	nch, p := len(chans), cb.PatchSamples
	n := len(data[0]) / p * p
	stream := make([]float32, n*nch)
	for c, x := range data {
		for i := range n {
			stream[i*nch+c] = float32(x[i])
		}
	}
	// r of the reconstruction of every channel, pooled, for float32 and each side-bit setting
	corr := map[int]float64{}
	for _, bits := range []int{0, 1, 4} {
		tk, err := q.NewTokenizer(info)
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.SetSideBits(bits); err != nil {
			t.Fatal(err)
		}
		recon := make([]float32, 0, len(stream))
		var wire []byte
		var got streams.Tokens
		var dst []float32
		scratch := make([]float64, p)
		x, tokens := make([]float64, p), make([]uint16, 1)
		offline := make([]float64, p)
		patches := 0
		emit := func(tok *streams.Tokens) error {
			if tok.SideBits != bits || (bits > 0) != (len(tok.Offsets) == 0 && len(tok.Scales) == 0 && len(tok.OffsetCodes) == nch) {
				t.Fatalf("%d bits: message with side bits %d, %d offsets, %d codes", bits, tok.SideBits, len(tok.Offsets), len(tok.OffsetCodes))
			}
			wire = streams.AppendTokens(wire[:0], tok)
			if err := streams.DecodeTokens(wire, &got); err != nil {
				t.Fatal(err)
			}
			if dst, err = q.Detokenize(&got, dst, scratch); err != nil {
				t.Fatal(err)
			}
			start := patches * p
			for c := range nch {
				for i := range p {
					x[i] = float64(stream[(start+i)*nch+c])
				}
				mean, std, err := q.EncodePatch(x, tokens, make([]float64, 2*p))
				if err != nil {
					t.Fatal(err)
				}
				if bits == 0 {
					mean, std = float64(float32(mean)), float64(float32(std))
				} else {
					oc, sc, err := cb.SideRangeOf("eeg").Quantize(mean, std, bits)
					if err != nil {
						t.Fatal(err)
					}
					mean, std = cb.SideRangeOf("eeg").Dequantize(oc, sc, bits)
				}
				q.DecodePatch(offline, tokens, mean, std)
				for i := range p {
					if dst[i*nch+c] != float32(offline[i]) {
						t.Fatalf("%d bits: patch %d channel %d sample %d: detokenized %g, offline %g", bits, patches, c, i, dst[i*nch+c], offline[i])
					}
				}
			}
			recon = append(recon, dst...)
			patches++
			return nil
		}
		for s := 0; s+8*nch <= len(stream); s += 8 * nch {
			if err := tk.Push(stream[s:s+8*nch], 8, 0, emit); err != nil {
				t.Fatal(err)
			}
		}
		if patches != n/p {
			t.Fatalf("%d bits: %d patches, want %d", bits, patches, n/p)
		}
		a, b := make([]float64, len(recon)), make([]float64, len(recon))
		for i := range recon {
			a[i], b[i] = float64(stream[i]), float64(recon[i])
		}
		corr[bits] = pearson(a, b)
		noop := func(*streams.Tokens) error { return nil }
		if allocs := testing.AllocsPerRun(100, func() { _ = tk.Push(stream[:8*nch], 8, 0, noop) }); allocs != 0 {
			t.Fatalf("%d bits: Push allocates %v times per frame", bits, allocs)
		}
	}
	t.Logf("held-out r of the reconstruction, k-means 32, 0.2-s patches: float32 side %.3f, 4+4-bit side %.3f, 1+1-bit side %.3f", corr[0], corr[4], corr[1])
	if !(corr[4] > corr[0]-0.03) || !(corr[1] < corr[4]) || !(corr[0] > 0.7) {
		t.Fatalf("r float32 %.3f, 4 bits %.3f, 1 bit %.3f: want 4-bit side information within 0.03 of float32 and better than 1 bit", corr[0], corr[4], corr[1])
	}

	tk, _ := q.NewTokenizer(info)
	if err := tk.SetSideBits(4); err != nil {
		t.Fatal(err)
	}
	bad := append([]float32(nil), stream[:p*nch]...)
	bad[3*nch+5] = float32(math.NaN())
	err = tk.Push(bad, p, 0, func(*streams.Tokens) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "finite") || !strings.Contains(err.Error(), chans[5].Name) {
		t.Fatalf("a NaN sample with side_bits: %v, want an error naming the channel", err)
	}
}
