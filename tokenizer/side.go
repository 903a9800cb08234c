package tokenizer

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
)

// Side information is what a patch's tokens need besides the codebook to be turned back into
// signal: the patch's mean (offset) and standard deviation (scale), in the channel's unit. As
// float32 they cost 64 bits per channel and patch (320 bits/s at 0.2-s patches), far more than the
// tokens themselves; with side bits b they are quantised to b bits each:
//
//   - the scale's natural log uniformly over the range the codebook's training patches spanned
//     (their 0.5th to 99.5th percentile, per channel type: magnetometers and gradiometers have
//     scales orders of magnitude apart), 2^b mid-points;
//   - the offset as a multiple of the quantised scale, uniformly over +- the training patches'
//     99.5th percentile of |mean / scale|.
//
// Values beyond a range clamp to its end. The ranges are learnt with the codebook (Train, or
// FitSide for a codebook learnt elsewhere) rather than fixed, because the scale of a patch depends
// on the recording's unit, device and band-pass: a range that fits EEG in volts misses MEG in
// tesla by ten orders of magnitude.

// MaxSideBits is the most bits the offset and the scale may each be quantised to (codes are bytes).
const MaxSideBits = streams.MaxSideBits

// sidePercentile is the share of training patches left beyond each end of a side range.
const sidePercentile = 0.005

// SideRange is the quantisation range of one channel type's side information (see MaxSideBits).
type SideRange struct {
	ChannelType string `json:"channel_type"`
	// LogScaleLo and LogScaleHi bound ln(scale), scale in the channel's unit (V, T, T/m).
	LogScaleLo float64 `json:"log_scale_lo"`
	LogScaleHi float64 `json:"log_scale_hi"`
	// OffsetMaxZ bounds |mean / scale|.
	OffsetMaxZ float64 `json:"offset_max_z"`
	Patches    int     `json:"patches"` // how many training patches the range was learnt from
}

// CheckSideBits checks a side_bits setting: 0 (float32 side information) to MaxSideBits.
func CheckSideBits(bits int) error {
	if bits < 0 || bits > MaxSideBits {
		return fmt.Errorf("side_bits %d: want 0 (float32 mean and scale) to %d bits each", bits, MaxSideBits)
	}
	return nil
}

// Quantize returns the codes of a patch's mean and scale at bits bits each (1 to MaxSideBits).
// Values beyond the range clamp to its end; a mean or scale that is not a number is an error.
func (r *SideRange) Quantize(mean, scale float64, bits int) (offsetCode, scaleCode uint8, err error) {
	if bits < 1 || bits > MaxSideBits {
		return 0, 0, fmt.Errorf("side information: %d bits: want 1 to %d", bits, MaxSideBits)
	}
	if math.IsNaN(mean) || math.IsInf(mean, 0) || math.IsNaN(scale) || math.IsInf(scale, 0) || scale < 0 {
		return 0, 0, fmt.Errorf("side information of a %s patch: mean %g, scale %g: want finite values and a scale >= 0", r.ChannelType, mean, scale)
	}
	sc := uniformCode(math.Log(scale), r.LogScaleLo, r.LogScaleHi, bits)
	qs := math.Exp(uniformValue(sc, r.LogScaleLo, r.LogScaleHi, bits))
	return uniformCode(mean/qs, -r.OffsetMaxZ, r.OffsetMaxZ, bits), sc, nil
}

// Dequantize returns the mean and scale that codes at bits bits stand for.
func (r *SideRange) Dequantize(offsetCode, scaleCode uint8, bits int) (mean, scale float64) {
	scale = math.Exp(uniformValue(scaleCode, r.LogScaleLo, r.LogScaleHi, bits))
	return uniformValue(offsetCode, -r.OffsetMaxZ, r.OffsetMaxZ, bits) * scale, scale
}

// uniformCode is the index of the one of 2^bits equal cells of [lo, hi] that holds v, clamped.
func uniformCode(v, lo, hi float64, bits int) uint8 {
	n := float64(int(1) << bits)
	if !(hi > lo) {
		return 0
	}
	i := math.Floor((v - lo) / (hi - lo) * n) // -Inf for a zero scale: clamps to 0
	return uint8(math.Max(0, math.Min(n-1, i)))
}

// uniformValue is the mid-point of cell code of 2^bits equal cells of [lo, hi].
func uniformValue(code uint8, lo, hi float64, bits int) float64 {
	return lo + (float64(code)+0.5)*(hi-lo)/float64(int(1)<<bits)
}

// validate checks a range read from a codebook file.
func (r *SideRange) validate() error {
	switch {
	case !slices.Contains(signalTypes, r.ChannelType):
		return fmt.Errorf("side range channel_type %q: want one of %v", r.ChannelType, signalTypes)
	case math.IsNaN(r.LogScaleLo) || math.IsNaN(r.LogScaleHi) || r.LogScaleLo < -700 || r.LogScaleHi > 700 || r.LogScaleHi < r.LogScaleLo:
		return fmt.Errorf("side range of %s: log_scale %g..%g: want finite bounds, low <= high", r.ChannelType, r.LogScaleLo, r.LogScaleHi)
	case !(r.OffsetMaxZ >= 0) || r.OffsetMaxZ > maxZ:
		return fmt.Errorf("side range of %s: offset_max_z %g: want 0 to %g", r.ChannelType, r.OffsetMaxZ, float64(maxZ))
	}
	return nil
}

// SideRangeOf returns the codebook's side range for a channel type ("eeg", "mag", "grad"), or nil.
func (c *Codebook) SideRangeOf(channelType string) *SideRange {
	for i := range c.SideRanges {
		if c.SideRanges[i].ChannelType == channelType {
			return &c.SideRanges[i]
		}
	}
	return nil
}

// CheckSide says why the codebook cannot quantise the side information of channels of
// channelTypes to bits bits (nil if it can): bits beyond 0..MaxSideBits, or no range for a type
// (codebooks learnt before side ranges existed have none).
func (c *Codebook) CheckSide(bits int, channelTypes []string) error {
	if err := CheckSideBits(bits); err != nil {
		return fmt.Errorf("tokenizer %s: %w", c.Name, err)
	}
	if bits == 0 {
		return nil
	}
	if len(c.SideRanges) == 0 {
		return fmt.Errorf("tokenizer %s: side_bits %d: the codebook has no side-information ranges (it was learnt before they existed): "+
			"learn it again with `neurostream train-tokenizer`, or add the ranges to it with `neurostream train-tokenizer --side-of CODEBOOK RECORDING...` on its training recordings, "+
			"or leave side_bits out (float32 mean and scale)", c.Name, bits)
	}
	var missing []string
	for _, t := range channelTypes {
		if c.SideRangeOf(t) == nil && !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		var have []string
		for _, r := range c.SideRanges {
			have = append(have, r.ChannelType)
		}
		return fmt.Errorf("tokenizer %s: side_bits %d: the codebook has side-information ranges for %s, not for %s channels: learn the ranges on recordings with those channels (train-tokenizer --side-of)",
			c.Name, bits, strings.Join(have, ", "), strings.Join(missing, ", "))
	}
	return nil
}

var signalChannelTypes = []streams.ChannelType{streams.ChannelEEG, streams.ChannelMEGMag, streams.ChannelMEGGrad}

// sideStats gathers the side information of training patches, per channel type.
type sideStats struct {
	types       []string
	logs, ratio [][]float64
}

// add cuts data (channel-major, band-passed as the codebook's stream is) into patches of p and
// records every non-flat patch's ln(scale) and |mean/scale| under its channel's type.
func (s *sideStats) add(data [][]float64, types []string, p int) {
	z := make([]float64, p)
	for c, x := range data {
		i := slices.Index(s.types, types[c])
		if i < 0 {
			i = len(s.types)
			s.types, s.logs, s.ratio = append(s.types, types[c]), append(s.logs, nil), append(s.ratio, nil)
		}
		for o := 0; o+p <= len(x); o += p {
			copy(z, x[o:o+p])
			mean, std := ZScore(z)
			if std < flatStd || math.IsNaN(std) || math.IsInf(mean, 0) {
				continue
			}
			s.logs[i] = append(s.logs[i], math.Log(std))
			s.ratio[i] = append(s.ratio[i], math.Abs(mean/std))
		}
	}
}

// ranges returns one range per channel type that had a non-flat patch, in type order.
func (s *sideStats) ranges() []SideRange {
	var out []SideRange
	for i, t := range s.types {
		logs, ratio := s.logs[i], s.ratio[i]
		if len(logs) == 0 {
			continue
		}
		slices.Sort(logs)
		slices.Sort(ratio)
		at := func(v []float64, q float64) float64 { return v[int(q*float64(len(v)-1)+0.5)] }
		out = append(out, SideRange{ChannelType: t, LogScaleLo: at(logs, sidePercentile), LogScaleHi: at(logs, 1-sidePercentile),
			OffsetMaxZ: at(ratio, 1-sidePercentile), Patches: len(logs)})
	}
	slices.SortFunc(out, func(a, b SideRange) int { return strings.Compare(a.ChannelType, b.ChannelType) })
	return out
}

// FitSide learns the codebook's side-information ranges from recordings (for a codebook learnt
// elsewhere, or before ranges existed; Train learns them itself): every channel of the codebook's
// types (all signal channels if it has none) is band-passed as the codebook's contract says and
// cut into its patches. It replaces cb.SideRanges and, for a format 1 file, raises its version.
func FitSide(cb *Codebook, recs []*acquisition.Recording, names []string) error {
	cfg := TrainConfig{PatchSec: cb.PatchSec(), BandHz: cb.BandHz}
	for _, t := range cb.ChannelTypes {
		for _, ct := range signalChannelTypes {
			if ct.String() == t {
				cfg.ChannelTypes = append(cfg.ChannelTypes, ct)
			}
		}
	}
	var st sideStats
	for i, rec := range recs {
		if math.Abs(rec.Info.SampleRateHz-cb.SampleRateHz) > 1e-9*cb.SampleRateHz {
			return fmt.Errorf("side ranges of %s: %s runs at %g Hz, the codebook at %g Hz", cb.Name, names[i], rec.Info.SampleRateHz, cb.SampleRateHz)
		}
		data, chans, err := Prepare(rec, cfg)
		if err != nil {
			return fmt.Errorf("side ranges of %s: %s: %w", cb.Name, names[i], err)
		}
		types := make([]string, len(chans))
		for c, ch := range chans {
			types[c] = ch.Type.String()
		}
		st.add(data, types, cb.PatchSamples)
	}
	r := st.ranges()
	if len(r) == 0 {
		return fmt.Errorf("side ranges of %s: no patch with a nonzero scale in %s", cb.Name, strings.Join(names, ", "))
	}
	cb.SideRanges = r
	cb.Version = FormatVersion
	return nil
}
