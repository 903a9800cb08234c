package dsp

import "fmt"

// Windower cuts a stream of interleaved frames into sliding windows of windowSamples with a hop of
// stepSamples, handing each one to the caller channel-major. Feature stages and decoders sit behind it.
//
// Each channel keeps a linear buffer of twice the window length; a window is a sub-slice of it, so
// handing one out copies nothing, and the buffer is compacted (one copy of at most a window per
// channel) only when it fills up.
type Windower struct {
	nChannels, windowSamples, stepSamples int
	buf                                   [][]float64 // buf[c] has capacity 2*windowSamples
	view                                  [][]float64
	fill                                  int   // valid samples in each buf[c]
	base                                  int64 // stream index of buf[c][0]
	pushed                                int64 // samples pushed per channel since the start or Reset
	nextEnd                               int64 // stream index just after the next window's last sample
}

// NewWindower returns a Windower for nChannels interleaved channels. stepSamples may exceed
// windowSamples, in which case the samples between windows are dropped.
func NewWindower(nChannels, windowSamples, stepSamples int) (*Windower, error) {
	if nChannels < 1 {
		return nil, fmt.Errorf("new windower: %d channels: need at least 1", nChannels)
	}
	if windowSamples < 1 {
		return nil, fmt.Errorf("new windower: window of %d samples: need at least 1", windowSamples)
	}
	if stepSamples < 1 {
		return nil, fmt.Errorf("new windower: step of %d samples: need at least 1", stepSamples)
	}
	capacity := 2 * windowSamples
	w := &Windower{
		nChannels:     nChannels,
		windowSamples: windowSamples,
		stepSamples:   stepSamples,
		buf:           make([][]float64, nChannels),
		view:          make([][]float64, nChannels),
		nextEnd:       int64(windowSamples),
	}
	backing := make([]float64, nChannels*capacity)
	for c := range w.buf {
		w.buf[c] = backing[c*capacity : (c+1)*capacity : (c+1)*capacity]
	}
	return w, nil
}

// WindowSamples returns the window length in samples.
func (w *Windower) WindowSamples() int { return w.windowSamples }

// StepSamples returns the hop between window starts in samples.
func (w *Windower) StepSamples() int { return w.stepSamples }

// Reset forgets all buffered samples; the next sample pushed counts as sample 0.
func (w *Windower) Reset() {
	w.fill, w.base, w.pushed = 0, 0, 0
	w.nextEnd = int64(w.windowSamples)
}

// Push appends interleaved samples (len multiple of nChannels; a trailing partial frame is ignored).
// For each window completed by them it calls fn with a channel-major view (window[c] has
// windowSamples values, oldest first) and the index of the sample just after the window end, counted
// from the first sample ever pushed. The view is only valid during fn and must not be modified.
func (w *Windower) Push(x []float32, fn func(window [][]float64, endSample int64)) {
	nc := w.nChannels
	capacity := len(w.buf[0])
	for off := 0; off+nc <= len(x); off += nc {
		start := w.nextEnd - int64(w.windowSamples)
		if w.pushed < start {
			// Between windows when the step exceeds the window: nothing of this sample is needed.
			w.pushed++
			w.base, w.fill = w.pushed, 0
			continue
		}
		if w.fill == capacity {
			w.compact(start)
		}
		frame := x[off : off+nc]
		for c, v := range frame {
			w.buf[c][w.fill] = float64(v)
		}
		w.fill++
		w.pushed++
		if w.pushed == w.nextEnd {
			lo := int(start - w.base)
			for c := range w.view {
				w.view[c] = w.buf[c][lo:w.fill:w.fill]
			}
			fn(w.view, w.nextEnd)
			w.nextEnd += int64(w.stepSamples)
		}
	}
}

// compact moves the samples still needed (from stream index keepFrom on) to the front of each buffer.
func (w *Windower) compact(keepFrom int64) {
	lo := int(keepFrom - w.base)
	if lo <= 0 {
		return
	}
	for c := range w.buf {
		copy(w.buf[c], w.buf[c][lo:w.fill])
	}
	w.fill -= lo
	w.base = keepFrom
}
