package features

import (
	"fmt"
	"math"

	"github.com/neurostream/neurostream/streams"
)

// Avalanches computes neuronal-avalanche statistics over the channels of a window (Beggs & Plenz 2003,
// J Neurosci 23:11167; for M/EEG as in Shriki et al. 2013, J Neurosci 33:7079):
//
//   - Events: each channel is z-scored over the window (population SD); every excursion where
//     |z| > ThresholdSD (default 3) gives one event, at the sample of its largest |z|.
//   - Time bins of BinSamples samples (default 1); an avalanche is a maximal run of consecutive bins that
//     hold at least one event, bounded by empty bins (runs touching the window's edges count too, so
//     they may be truncated).
//   - Size = number of events in the avalanche; duration = number of bins × BinSamples / fs, in seconds.
//   - Branching ratio σ = mean over avalanches of (events in the 2nd bin)/(events in the 1st bin), 0 for
//     one-bin avalanches (Beggs & Plenz's estimator); σ ≈ 1 is the critical regime.
//
// Distributions are summarised as counts in power-of-two classes: sizes 1, 2–3, 4–7, 8–15, 16–31, ≥32
// and durations of 1, 2–3, 4–7, 8–15, ≥16 bins. A window without avalanches gives zeros.
// Names: "aval_count", "aval_size_mean", "aval_size_max", "aval_dur_mean_s", "aval_dur_max_s",
// "aval_branching", "aval_size_hist_1", "aval_size_hist_2", ..., "aval_size_hist_32",
// "aval_dur_hist_1", ..., "aval_dur_hist_16".
type Avalanches struct {
	channelSet
	thresholdSD float64
	binSamples  int
	fsHz        float64
	counts      []int // events per bin
	nOut        int
}

const (
	avalSizeClasses = 6
	avalDurClasses  = 5
)

// NewAvalanches returns an avalanche-statistics extractor.
func NewAvalanches(c ExtractorConfig) *Avalanches {
	b := c.BinSamples
	if b == 0 {
		b = 1
	}
	return &Avalanches{channelSet: channelSet{want: c.Channels}, thresholdSD: orDefault(c.ThresholdSD, 3), binSamples: b}
}

// Configure implements Extractor.
func (e *Avalanches) Configure(info streams.StreamInfo, windowSamples int) ([]string, error) {
	if !(e.thresholdSD > 0) || math.IsInf(e.thresholdSD, 0) {
		return nil, fmt.Errorf("avalanches: threshold_sd %v, want a positive number of standard deviations", e.thresholdSD)
	}
	if e.binSamples < 1 {
		return nil, fmt.Errorf("avalanches: bin_samples %d, want at least 1", e.binSamples)
	}
	if err := e.configure("avalanches", info, windowSamples, 2*e.binSamples); err != nil {
		return nil, err
	}
	e.fsHz = info.SampleRateHz
	e.counts = make([]int, windowSamples/e.binSamples)
	names := []string{"aval_count", "aval_size_mean", "aval_size_max", "aval_dur_mean_s", "aval_dur_max_s", "aval_branching"}
	for c := 0; c < avalSizeClasses; c++ {
		names = append(names, fmt.Sprintf("aval_size_hist_%d", 1<<c))
	}
	for c := 0; c < avalDurClasses; c++ {
		names = append(names, fmt.Sprintf("aval_dur_hist_%d", 1<<c))
	}
	e.nOut = len(names)
	return names, nil
}

// log2Class returns the power-of-two class of v >= 1, capped at classes-1.
func log2Class(v, classes int) int {
	c := 0
	for v > 1 && c < classes-1 {
		v >>= 1
		c++
	}
	return c
}

// Extract implements Extractor.
func (e *Avalanches) Extract(window [][]float64, dst []float64) error {
	if err := e.check("avalanches", window, dst, e.nOut); err != nil {
		return err
	}
	clear(e.counts)
	nBins := len(e.counts)
	for _, c := range e.idx {
		x := window[c]
		mean, v := meanVar(x)
		sd := math.Sqrt(v)
		if sd == 0 {
			continue
		}
		thr := e.thresholdSD * sd
		peak, peakAbs := -1, 0.0
		for t := 0; t <= len(x); t++ {
			a := 0.0
			if t < len(x) {
				a = math.Abs(x[t] - mean)
			}
			if a > thr {
				if peak < 0 || a > peakAbs {
					peak, peakAbs = t, a
				}
				continue
			}
			if peak >= 0 {
				if b := peak / e.binSamples; b < nBins {
					e.counts[b]++
				}
				peak, peakAbs = -1, 0
			}
		}
	}
	clear(dst)
	var n, sizeSum, sizeMax, durSum, durMax, branchSum float64
	for b := 0; b < nBins; {
		if e.counts[b] == 0 {
			b++
			continue
		}
		start, size := b, 0
		for b < nBins && e.counts[b] > 0 {
			size += e.counts[b]
			b++
		}
		dur := b - start
		n++
		sizeSum += float64(size)
		sizeMax = math.Max(sizeMax, float64(size))
		durSum += float64(dur)
		durMax = math.Max(durMax, float64(dur))
		if dur > 1 {
			branchSum += float64(e.counts[start+1]) / float64(e.counts[start])
		}
		dst[6+log2Class(size, avalSizeClasses)]++
		dst[6+avalSizeClasses+log2Class(dur, avalDurClasses)]++
	}
	if n > 0 {
		binSec := float64(e.binSamples) / e.fsHz
		dst[0], dst[1], dst[2] = n, sizeSum/n, sizeMax
		dst[3], dst[4], dst[5] = durSum/n*binSec, durMax*binSec, branchSum/n
	}
	return nil
}
