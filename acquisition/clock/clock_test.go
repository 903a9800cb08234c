package clock

import (
	"math"
	"math/rand/v2"
	"testing"
)

// device simulates a serial amplifier: a crystal off by driftPPM, samples delivered in USB bursts
// (every 16 ms the host reads what has accumulated), each burst late by a random latency, and now
// and then a stall of 80 ms. It returns, per sample, the true host time of sampling and the arrival.
func device(rng *rand.Rand, rateHz, driftPPM float64, startNs int64, n int) (trueNs, arrivalNs []int64) {
	period := 1 / (rateHz * (1 + driftPPM*1e-6))
	trueNs, arrivalNs = make([]int64, n), make([]int64, n)
	for i := range n {
		trueNs[i] = startNs + int64(float64(i)*period*1e9)
	}
	const usbMs = 16
	i := 0
	for tick := startNs; i < n; tick += usbMs * 1e6 {
		late := int64((1 + 3*rng.ExpFloat64()) * 1e6) // 1 ms floor + exponential, mean 4 ms
		if rng.IntN(200) == 0 {
			late += 80e6
		}
		for ; i < n && trueNs[i] <= tick; i++ {
			arrivalNs[i] = tick + late
		}
	}
	return trueNs, arrivalNs
}

func rms(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x * x
	}
	return math.Sqrt(s / float64(len(xs)))
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// The fitted times follow the true sampling times far more closely than the arrival times do, the
// drift is recovered, and the reported jitter is the arrival noise.
func TestDejitterRecoversDriftAndRemovesJitter(t *testing.T) {
	for _, drift := range []float64{-80, 0, 45} {
		rng := rand.New(rand.NewPCG(7, uint64(drift+1000)))
		const rate, n = 250.0, 250 * 120
		start := int64(1_790_000_000) * 1e9
		trueNs, arrNs := device(rng, rate, drift, start, n)
		e, err := New(rate, 0)
		if err != nil {
			t.Fatal(err)
		}
		var rawErr, fitErr []float64
		for i := range n {
			e.Observe(int64(i), arrNs[i])
			if i >= n/2 { // after a minute of settling
				rawErr = append(rawErr, float64(arrNs[i]-trueNs[i])/1e6)
				fitErr = append(fitErr, float64(e.TimeNs(int64(i))-trueNs[i])/1e6)
			}
		}
		// Arrival is late by the mean latency; what matters is the spread around that.
		rawMean, fitMean := mean(rawErr), mean(fitErr)
		for i := range rawErr {
			rawErr[i] -= rawMean
			fitErr[i] -= fitMean
		}
		st := e.Stats()
		t.Logf("drift %+.0f ppm: estimated %+.2f ppm; arrival jitter %.3f ms RMS -> dejittered %.3f ms RMS; "+
			"reported jitter %.3f ms; mean lateness arrival %.2f ms, fit %.2f ms", drift, st.DriftPPM,
			rms(rawErr), rms(fitErr), st.JitterSec*1e3, rawMean, fitMean)
		if math.Abs(st.DriftPPM-drift) > 10 {
			t.Errorf("drift %+.0f ppm estimated as %+.2f ppm", drift, st.DriftPPM)
		}
		if r := rms(fitErr); r > 1 || r > rms(rawErr)/5 {
			t.Errorf("drift %+.0f ppm: dejittered error %.3f ms RMS, arrival jitter %.3f ms", drift, r, rms(rawErr))
		}
		if fitMean < 0 || fitMean > rawMean+1 {
			t.Errorf("fitted times %.2f ms late on average, arrivals %.2f ms", fitMean, rawMean)
		}
		if st.JitterSec < 1e-3 || st.JitterSec > 20e-3 {
			t.Errorf("reported jitter %.3f ms, want a few ms", st.JitterSec*1e3)
		}
		if st.Samples != n {
			t.Errorf("samples %d, want %d", st.Samples, n)
		}
	}
}

// Lost samples leave holes in the indices; the fit does not care, and the times on both sides of a
// hole keep their spacing.
func TestDejitterAcrossLostSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const rate, n = 125.0, 125 * 60
	trueNs, arrNs := device(rng, rate, 20, 5e9, n)
	e, _ := New(rate, 0)
	var fitErr []float64
	for i := range n {
		if i%500 < 40 { // 40 samples lost every 4 s
			continue
		}
		e.Observe(int64(i), arrNs[i])
		if i > n/2 {
			fitErr = append(fitErr, float64(e.TimeNs(int64(i))-trueNs[i])/1e6)
		}
	}
	m := mean(fitErr)
	for i := range fitErr {
		fitErr[i] -= m
	}
	if r := rms(fitErr); r > 1 {
		t.Fatalf("dejittered error %.3f ms RMS with lost samples", r)
	}
}

// A counter that goes back (device reset) restarts the fit instead of bending it.
func TestObserveBackwardsResets(t *testing.T) {
	e, _ := New(250, 0)
	for i := range 1000 {
		e.Observe(int64(i), int64(i)*4e6)
	}
	e.Observe(0, 100e9)
	if got := e.TimeNs(0); got != 100e9 {
		t.Fatalf("after a reset sample 0 maps to %d, want the new arrival 100e9", got)
	}
	if st := e.Stats(); st.Samples != 1 {
		t.Fatalf("samples after reset %d", st.Samples)
	}
}

func TestNewRejectsBadRate(t *testing.T) {
	for _, r := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := New(r, 0); err == nil {
			t.Errorf("rate %v accepted", r)
		}
	}
	var e Estimator
	if e.TimeNs(5) != 0 || e.Stats() != (Stats{}) {
		t.Fatal("an estimator with no observations reports something")
	}
}
