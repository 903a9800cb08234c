package dsp

import (
	"fmt"

	"github.com/neurostream/neurostream/internal/snapshot"
)

// AppendState appends the filter's delay registers to b (see package snapshot); RestoreState on a
// filter of the same design and channel count continues exactly where this one stands.
func (f *SOSFilter) AppendState(b []byte) []byte {
	b = snapshot.AppendUint(b, uint64(len(f.sos)))
	b = snapshot.AppendUint(b, uint64(f.nChannels))
	b = snapshot.AppendFloat64s(b, f.z1)
	return snapshot.AppendFloat64s(b, f.z2)
}

// RestoreState reads what AppendState wrote and returns the bytes after it.
func (f *SOSFilter) RestoreState(b []byte) ([]byte, error) {
	if f.err != nil {
		return b, f.err
	}
	r := snapshot.NewReader(b)
	r.Expect("filter sections", uint64(len(f.sos)))
	r.Expect("filter channels", uint64(f.nChannels))
	r.Float64s(f.z1)
	r.Float64s(f.z2)
	if err := r.Err(); err != nil {
		f.Reset()
		return b, fmt.Errorf("restore filter: %w", err)
	}
	return r.Rest(), nil
}

// AppendState appends the samples the windower still holds and its position in the stream. The
// samples were pushed as float32, so storing them as float32 loses nothing.
func (w *Windower) AppendState(b []byte) []byte {
	b = snapshot.AppendUint(b, uint64(w.nChannels))
	b = snapshot.AppendUint(b, uint64(w.windowSamples))
	b = snapshot.AppendUint(b, uint64(w.stepSamples))
	b = snapshot.AppendInt(b, w.base)
	b = snapshot.AppendInt(b, w.pushed)
	b = snapshot.AppendInt(b, w.nextEnd)
	for c := range w.buf {
		b = snapshot.AppendFloat32s(b, w.buf[c][:w.fill])
	}
	return b
}

// RestoreState reads what AppendState wrote into a windower of the same shape and returns the
// bytes after it.
func (w *Windower) RestoreState(b []byte) ([]byte, error) {
	r := snapshot.NewReader(b)
	r.Expect("window channels", uint64(w.nChannels))
	r.Expect("window length", uint64(w.windowSamples))
	r.Expect("window step", uint64(w.stepSamples))
	base, pushed, nextEnd := r.Int(), r.Int(), r.Int()
	fill := -1
	for c := range w.buf {
		n := r.Float32s(w.buf[c])
		if fill >= 0 && n != fill && r.Err() == nil {
			return b, fmt.Errorf("restore windower: channel %d holds %d samples, channel 0 %d", c, n, fill)
		}
		fill = n
	}
	if err := r.Err(); err != nil {
		w.Reset()
		return b, fmt.Errorf("restore windower: %w", err)
	}
	if base < 0 || pushed != base+int64(fill) || nextEnd < int64(w.windowSamples) {
		w.Reset()
		return b, fmt.Errorf("restore windower: inconsistent position (base %d, %d held, pushed %d, next end %d)", base, fill, pushed, nextEnd)
	}
	w.fill, w.base, w.pushed, w.nextEnd = fill, base, pushed, nextEnd
	return r.Rest(), nil
}
