// Package clock puts a device's samples on the acquiring host's clock. A serial or Bluetooth
// amplifier numbers its samples but says nothing about when they were taken; the host sees only when
// bytes arrived, late by a USB/radio latency that varies from packet to packet and in bursts. An
// Estimator fits a straight line, host time = offset + (1 + drift) x device time, through (sample
// index, arrival time) pairs with recursive least squares and an exponential forgetting factor, as
// liblsl's dejitter post-processing does, and bounds the pull of late outliers, so each sample gets
// a smooth host-clock timestamp that follows the device's crystal drift. Sources (OpenBCI, Muse,
// LSL) stamp frames with it; the offset, drift and jitter it reports become Prometheus metrics.
package clock

import (
	"fmt"
	"math"
)

// Stats is an estimator's current view of a stream's clock.
type Stats struct {
	// OffsetSec is host time minus device time at the latest sample, in seconds. Device time is the
	// sample count times the nominal period since the stream's first sample, so for a serial device
	// this is the host-clock (Unix) time at which the device's clock started, corrected for drift.
	OffsetSec float64
	// DriftPPM is how much faster the device's clock runs than the host's, in parts per million: a
	// device sampling at 250.01 Hz when it claims 250 Hz has a drift of +40 ppm.
	DriftPPM float64
	// JitterSec is the RMS of arrival times around the fitted line: the timing noise removed.
	JitterSec float64
	// Samples is how many samples the estimate has seen.
	Samples int64
}

// Estimator maps sample indices of one stream to host-clock times. Not safe for concurrent use.
type Estimator struct {
	periodSec float64 // nominal sampling period
	lambda    float64 // RLS forgetting factor per observation

	started bool
	baseNs  int64 // arrival of the first observation: y is measured from here to keep float64 precise
	n0      int64 // index of the first observation
	lastN   int64
	count   int64

	// y = w0 + w1*x, x = device seconds since n0, y = host seconds since baseNs.
	w0, w1        float64
	p00, p01, p11 float64 // inverse-information matrix of the RLS fit
	jitterVar     float64 // running mean of squared residuals
}

// DefaultHalftimeSec is how long an observation takes to lose half its weight: liblsl's default for
// its dejitter post-processing, long enough to average out USB bursts, short enough to follow
// temperature-driven crystal drift.
const DefaultHalftimeSec = 90

// New returns an estimator for a stream sampled at rateHz nominal; halftimeSec <= 0 takes the default.
func New(rateHz, halftimeSec float64) (*Estimator, error) {
	if !(rateHz > 0) || math.IsInf(rateHz, 0) {
		return nil, fmt.Errorf("clock: sampling rate %v Hz is not a positive finite number", rateHz)
	}
	if halftimeSec <= 0 {
		halftimeSec = DefaultHalftimeSec
	}
	return &Estimator{periodSec: 1 / rateHz, lambda: math.Exp2(-1 / (rateHz * halftimeSec))}, nil
}

// Reset forgets the fit, as after a device restart whose sample counter started again.
func (e *Estimator) Reset() { *e = Estimator{periodSec: e.periodSec, lambda: e.lambda} }

// Observe records that sample n (the stream's running sample index, which counts lost samples too)
// was seen to arrive at host time arrivalNs (Unix nanoseconds). Indices must not go backwards;
// one that does resets the fit.
func (e *Estimator) Observe(n int64, arrivalNs int64) {
	if !e.started || n < e.lastN {
		e.Reset()
		e.started, e.baseNs, e.n0 = true, arrivalNs, n
		e.w0, e.w1 = 0, 1
		// Prior: the intercept is unknown (1 s standard deviation), the device's clock runs at its
		// nominal rate within ~1000 ppm; data overrule both within seconds.
		e.p00, e.p01, e.p11 = 1, 0, 1e-6
	}
	e.lastN = n
	x := float64(n-e.n0) * e.periodSec
	y := float64(arrivalNs-e.baseNs) / 1e9
	r := y - (e.w0 + e.w1*x)
	// Jitter: RMS of residuals before the update, averaged over the first observations and then
	// exponentially over ~1000 of them.
	e.count++
	a := 1 / math.Min(float64(e.count), 1000)
	if e.count > 1 {
		e.jitterVar += a * (r*r - e.jitterVar)
	}
	// Late outliers (a stalled USB transfer, a scheduler hiccup) would drag the line; clip the
	// residual at four standard deviations (at least 2 ms) once the estimate has settled. A lasting
	// step still gets through, at a bounded pull per observation.
	if e.count > 100 {
		lim := math.Max(4*math.Sqrt(e.jitterVar), 2e-3)
		r = math.Max(-lim, math.Min(lim, r))
	}
	// RLS update with regressor u = (1, x).
	pu0 := e.p00 + e.p01*x
	pu1 := e.p01 + e.p11*x
	g := e.lambda + pu0 + pu1*x
	k0, k1 := pu0/g, pu1/g
	e.w0 += k0 * r
	e.w1 += k1 * r
	e.p00 = (e.p00 - k0*pu0) / e.lambda
	e.p01 = (e.p01 - k0*pu1) / e.lambda
	e.p11 = (e.p11 - k1*pu1) / e.lambda
}

// TimeNs returns the host-clock time (Unix ns) of sample n by the current fit, or 0 before the
// first observation.
func (e *Estimator) TimeNs(n int64) int64 {
	if !e.started {
		return 0
	}
	x := float64(n-e.n0) * e.periodSec
	return e.baseNs + int64(math.Round((e.w0+e.w1*x)*1e9))
}

// Stats returns the current offset, drift and jitter.
func (e *Estimator) Stats() Stats {
	if !e.started {
		return Stats{}
	}
	dev := float64(e.lastN-e.n0) * e.periodSec
	host := float64(e.TimeNs(e.lastN)) / 1e9
	return Stats{OffsetSec: host - dev, DriftPPM: (1/e.w1 - 1) * 1e6, JitterSec: math.Sqrt(e.jitterVar), Samples: e.count}
}
