package alpha

import (
	"context"

	"github.com/neurostream/neurostream/streams"
)

// A LabelledSource is a stream whose eyes-closed periods are known, such as the synthetic headset.
type LabelledSource interface {
	Info() streams.StreamInfo
	Next(ctx context.Context, f *streams.Frame) error
	EyesClosedAt(sample int64) bool
}

// CalibrateOn fits the default model's threshold on every unambiguous window of src (windows that
// lie wholly in one eyes state) and returns the model with its training accuracy.
func CalibrateOn(src LabelledSource) (*Model, float64, error) {
	m := DefaultModel()
	d := NewDecoder(&m)
	info := src.Info()
	idx, err := d.Bind(info)
	if err != nil {
		return nil, 0, err
	}
	ext, err := NewExtractor(&m, info.SampleRateHz)
	if err != nil {
		return nil, 0, err
	}
	n := d.WindowSamples()
	window := make([][]float64, len(idx))
	for i := range window {
		window[i] = make([]float64, 0, n)
	}
	var open, closed []float64
	var f streams.Frame
	var pos int64
	for src.Next(context.Background(), &f) == nil {
		for t := 0; t < f.NumSamples; t++ {
			for i, c := range idx {
				window[i] = append(window[i], float64(f.Samples[t*f.NumChannels+c]))
			}
			pos++
			if len(window[0]) == n {
				x, err := ext.Feature(window)
				if err != nil {
					return nil, 0, err
				}
				if a, b := src.EyesClosedAt(pos-int64(n)), src.EyesClosedAt(pos-1); a == b {
					if b {
						closed = append(closed, x)
					} else {
						open = append(open, x)
					}
				}
				for i := range window {
					window[i] = window[i][:0]
				}
			}
		}
	}
	acc, err := m.Calibrate(open, closed)
	return &m, acc, err
}
