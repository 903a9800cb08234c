package dsp

import (
	"fmt"
	"math"
)

// Baseline is the interval, in seconds relative to the event, whose mean Epochs subtracts from each
// channel. Use math.Inf(-1) for MNE's None at the start (the epoch's first sample) and math.Inf(1)
// for None at the end.
type Baseline struct {
	StartSec, EndSec float64
}

// EpochSet is the result of Epochs.
type EpochSet struct {
	// Data[e][c] holds the samples of kept event e (Kept[e] indexes the events given), channel c.
	Data [][][]float64
	// Kept lists the events whose window lay inside the data; MNE drops the others as well.
	Kept []int
	// TimesSec are the sample times relative to the event, TimesSec[0] = round(tmin*fs)/fs.
	TimesSec []float64
}

// Epochs cuts windows around events from channel-major data (data[c][s]) with MNE's conventions:
// sample offsets round(tminSec*fsHz) .. round(tmaxSec*fsHz), both inclusive, so an epoch has
// round(tmax*fs) - round(tmin*fs) + 1 samples; with a baseline, the mean over the samples whose time
// lies in [StartSec, EndSec] is subtracted from each channel. Events too close to either end of the
// data are left out (see EpochSet.Kept).
func Epochs(data [][]float64, fsHz float64, eventSamples []int64, tminSec, tmaxSec float64, baseline *Baseline) (*EpochSet, error) {
	if !(fsHz > 0) || math.IsInf(fsHz, 0) {
		return nil, fmt.Errorf("epochs: sampling rate %v Hz must be positive and finite", fsHz)
	}
	if !(tminSec <= tmaxSec) {
		return nil, fmt.Errorf("epochs: tmin %v s must not exceed tmax %v s", tminSec, tmaxSec)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("epochs: no channels")
	}
	n := len(data[0])
	for c, row := range data {
		if len(row) != n {
			return nil, fmt.Errorf("epochs: channel %d has %d samples, channel 0 has %d", c, len(row), n)
		}
	}
	startOff := int64(math.RoundToEven(tminSec * fsHz))
	stopOff := int64(math.RoundToEven(tmaxSec * fsHz))
	nTimes := int(stopOff - startOff + 1)
	times := make([]float64, nTimes)
	for i := range times {
		times[i] = float64(startOff+int64(i)) / fsHz
	}
	lo, hi := 0, nTimes
	if baseline != nil {
		lo, hi = nTimes, 0
		// MNE's _time_mask widens the interval by half a sample's rounding error; times are exact
		// multiples of 1/fs here, so a tolerance of 1e-9 s decides the same samples.
		for i, t := range times {
			if t >= baseline.StartSec-1e-9 && t <= baseline.EndSec+1e-9 {
				lo, hi = min(lo, i), max(hi, i+1)
			}
		}
		if lo >= hi {
			return nil, fmt.Errorf("epochs: baseline [%v, %v] s holds no sample of the epoch [%v, %v] s", baseline.StartSec, baseline.EndSec, times[0], times[nTimes-1])
		}
	}
	set := &EpochSet{TimesSec: times}
	for e, ev := range eventSamples {
		first := ev + startOff
		if first < 0 || first+int64(nTimes) > int64(n) {
			continue
		}
		ep := make([][]float64, len(data))
		for c, row := range data {
			seg := append([]float64(nil), row[first:first+int64(nTimes)]...)
			if baseline != nil {
				m := 0.0
				for _, v := range seg[lo:hi] {
					m += v
				}
				m /= float64(hi - lo)
				for i := range seg {
					seg[i] -= m
				}
			}
			ep[c] = seg
		}
		set.Data = append(set.Data, ep)
		set.Kept = append(set.Kept, e)
	}
	return set, nil
}
