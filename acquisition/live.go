package acquisition

import (
	"fmt"

	"github.com/neurostream/neurostream/acquisition/clock"
	"github.com/neurostream/neurostream/streams"
)

// LiveStats is what a live device source reports about its link, for logs and metrics.
type LiveStats struct {
	Samples         int64 // samples delivered, lost ones included
	LostSamples     int64 // samples the device's counters say never arrived (filled, and marked)
	RejectedPackets int64 // packets whose framing was broken (garbage, truncation)
	SkippedBytes    int64 // bytes discarded while looking for the next packet
	LateMarkers     int64 // marker events that came after the frame they belong on was sent (put on the next one)
	Clock           clock.Stats
}

// LiveSource is implemented by sources that read a device: their stats are published as metrics.
type LiveSource interface {
	LiveStats() LiveStats
}

// GapLabelFormat is the marker label of samples filled in for lost ones.
const GapLabelFormat = "neurostream gap: %d samples lost"

// maxGapFillSec bounds how much signal a counter jump is filled with: beyond it the device has
// restarted rather than lost packets, and the stream starts again on a fresh clock fit.
const maxGapFillSec = 60

// SampleQueue turns a device's numbered samples into frames of a fixed size stamped on the host
// clock. Samples the device's counter says were lost are filled with each channel's last value and
// marked with a GapLabelFormat marker spanning them, so sample index and time stay in step and
// every filter downstream keeps running; Stats counts them. Not safe for concurrent use.
type SampleQueue struct {
	streamID    string
	nch, frameN int
	rateHz      float64
	clock       *clock.Estimator
	started     bool
	devOffset   int64     // stream index = device index + devOffset; streams start at 0
	next        int64     // stream index of the next sample expected
	buf         []float32 // queued samples, sample-major
	bufStart    int64     // stream index of buf's first sample
	marks       []queuedMarker
	hold        []float32
	seq         uint64
	lost        int64
}

type queuedMarker struct {
	at int64
	m  streams.Marker
}

// NewSampleQueue makes a queue for a stream of nch channels at rateHz, emitting frameN samples a frame.
func NewSampleQueue(streamID string, nch int, rateHz float64, frameN int) (*SampleQueue, error) {
	est, err := clock.New(rateHz, 0)
	if err != nil {
		return nil, err
	}
	if nch < 1 || frameN < 1 {
		return nil, fmt.Errorf("sample queue: %d channels, %d samples per frame", nch, frameN)
	}
	return &SampleQueue{streamID: streamID, nch: nch, frameN: frameN, rateHz: rateHz, clock: est, hold: make([]float32, nch)}, nil
}

// Push queues the device's sample n (its running index: lost samples included) that arrived at
// host time arrivalNs. A sample at or before one already queued is a duplicate and is dropped
// (false). A jump of more than a minute is a device restart, not a loss: the stream goes on without
// a fill, marked, on a fresh clock fit.
func (q *SampleQueue) Push(n int64, sample []float32, arrivalNs int64) bool {
	if !q.started {
		q.started, q.devOffset = true, -n
	}
	i := n + q.devOffset
	if i < q.next {
		return false
	}
	if gap := i - q.next; gap > 0 {
		if float64(gap) > maxGapFillSec*q.rateHz {
			q.devOffset -= gap
			i = q.next
			q.marks = append(q.marks, queuedMarker{at: i, m: streams.Marker{Label: "neurostream: device restarted"}})
			q.clock.Reset()
		} else {
			q.lost += gap
			q.marks = append(q.marks, queuedMarker{at: q.next, m: streams.Marker{
				Label: fmt.Sprintf(GapLabelFormat, gap), DurationSec: float64(gap) / q.rateHz}})
			for range gap {
				q.buf = append(q.buf, q.hold...)
			}
		}
	}
	q.clock.Observe(i, arrivalNs)
	q.buf = append(q.buf, sample...)
	copy(q.hold, sample)
	q.next = i + 1
	return true
}

// Ready reports whether a whole frame is queued.
func (q *SampleQueue) Ready() bool { return len(q.buf) >= q.frameN*q.nch }

// Pop fills f with the oldest frameN queued samples; call it only when Ready.
func (q *SampleQueue) Pop(f *streams.Frame) {
	n := q.frameN * q.nch
	f.Reset()
	f.StreamID, f.Seq, f.NumSamples, f.NumChannels = q.streamID, q.seq, q.frameN, q.nch
	f.SourceTimeNs = q.clock.TimeNs(q.bufStart)
	f.Samples = append(f.Samples[:0], q.buf[:n]...)
	end := q.bufStart + int64(q.frameN)
	kept := q.marks[:0]
	for _, m := range q.marks {
		if m.at < end {
			m.m.SampleOffset = int32(max(m.at-q.bufStart, 0))
			f.Markers = append(f.Markers, m.m)
		} else {
			kept = append(kept, m)
		}
	}
	q.marks = kept
	q.buf = q.buf[:copy(q.buf, q.buf[n:])]
	q.bufStart = end
	q.seq++
}

// Stats reports samples delivered and lost, and the clock estimate.
func (q *SampleQueue) Stats() LiveStats {
	return LiveStats{Samples: q.next, LostSamples: q.lost, Clock: q.clock.Stats()}
}

// PushPartial queues a sample of which only some channels arrived (the others hold their last
// values in sample): it counts as lost and is marked, but keeps its place in time.
func (q *SampleQueue) PushPartial(n int64, sample []float32, arrivalNs int64) bool {
	if !q.Push(n, sample, arrivalNs) {
		return false
	}
	q.lost++
	q.marks = append(q.marks, queuedMarker{at: q.next - 1, m: streams.Marker{
		Label: fmt.Sprintf(GapLabelFormat, 1), DurationSec: 1 / q.rateHz}})
	return true
}
