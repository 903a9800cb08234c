package streams

import "sync"

// What a sequence number means. A source numbers its frames 0, 1, 2, ... within one run, its epoch
// (Frame.Epoch: the run's start time in Unix ns). A consumer keeps, per stream, the epoch and the last
// sequence number it accepted, and judges each new frame against them:
//
//   - same epoch, next number or a plausible gap (at most MaxSeqJump frames): accepted, the gap
//     counted as missing frames;
//   - same epoch, a number at most MaxSeqJump below the last: a duplicate (a producer's retry, a
//     replayed range), dropped;
//   - a newer epoch starting near 0 (at most MaxSeqJump): the source was restarted; accepted as the
//     start of a new sequence and counted as a restart;
//   - anything else (a jump of more than MaxSeqJump either way, an older epoch, a newer epoch far from
//     0): implausible for one frame to claim, so it is rejected without moving the stream's sequence.
//     If the stream's very next frame continues it (same epoch, number + 1), the claim was real (a long
//     outage, a source that restarted from a spool) and the stream moves there.
//
// So one forged or corrupted frame — sequence 2^62, an epoch from the future — costs at most itself
// and the next frame, never the rest of the stream.

// MaxSeqJump is the largest change of a stream's sequence number one frame may make on its own: 4096
// frames is about two minutes of 32-sample frames at 1 kHz.
const MaxSeqJump = 1 << 12

// SeqResult is what a sequence check found for one frame.
type SeqResult struct {
	Missing   uint64 // frames skipped before this one (a gap), 0 if in order
	Duplicate bool   // the frame's number was already seen in this epoch (a retry or a replay)
	First     bool   // the first frame seen of this stream
	Restart   bool   // the first frame of a new epoch: the source was restarted
	// Rejected is non-empty when the frame's claim is implausible ("sequence-jump", "old-epoch");
	// the frame did not move the stream's sequence and should be dropped.
	Rejected string
}

// Accepted reports whether the frame should be processed.
func (r SeqResult) Accepted() bool { return !r.Duplicate && r.Rejected == "" }

// Reasons in SeqResult.Rejected.
const (
	SeqRejectJump     = "sequence-jump"
	SeqRejectOldEpoch = "old-epoch"
)

// SeqTracker follows one stream's sequence. The zero value is ready; it is not safe for concurrent use.
type SeqTracker struct {
	started     bool
	epoch, last uint64
	// A frame refused as implausible; the stream's next frame confirms it by continuing it.
	candSet             bool
	candEpoch, candLast uint64
}

// Check judges a frame's epoch and sequence number (see the package's rules above).
func (t *SeqTracker) Check(epoch, seq uint64) SeqResult {
	confirms := t.candSet && t.candEpoch == epoch && seq == t.candLast+1
	t.candSet = false
	switch {
	case !t.started:
		t.started, t.epoch, t.last = true, epoch, seq
		return SeqResult{First: true}
	case confirms:
		r := SeqResult{Restart: epoch != t.epoch}
		if !r.Restart && seq > t.last {
			r.Missing = seq - t.last - 1
		}
		t.epoch, t.last = epoch, seq
		return r
	case epoch == t.epoch && seq > t.last && seq-t.last <= MaxSeqJump:
		missing := seq - t.last - 1
		t.last = seq
		return SeqResult{Missing: missing}
	case epoch == t.epoch && seq <= t.last && t.last-seq < MaxSeqJump:
		return SeqResult{Duplicate: true}
	case epoch > t.epoch && seq <= MaxSeqJump:
		t.epoch, t.last = epoch, seq
		return SeqResult{Restart: true}
	}
	t.candSet, t.candEpoch, t.candLast = true, epoch, seq
	if epoch < t.epoch {
		return SeqResult{Rejected: SeqRejectOldEpoch}
	}
	return SeqResult{Rejected: SeqRejectJump}
}

// Last returns the stream's current epoch and last accepted sequence number.
func (t *SeqTracker) Last() (epoch, seq uint64, ok bool) { return t.epoch, t.last, t.started }

// SequenceChecker tracks the sequence of every stream and counts gaps, duplicates, restarts and
// rejections. It is safe for concurrent use.
type SequenceChecker struct {
	mu       sync.Mutex
	streams  map[string]*SeqTracker
	gaps     uint64 // frames missing, summed over gaps
	dups     uint64
	inOrder  uint64
	restarts uint64
	rejected uint64
}

// NewSequenceChecker returns an empty checker.
func NewSequenceChecker() *SequenceChecker {
	return &SequenceChecker{streams: make(map[string]*SeqTracker)}
}

// Check judges a frame of streamID with the given epoch and sequence number.
func (s *SequenceChecker) Check(streamID string, epoch, seq uint64) SeqResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.streams[streamID]
	if t == nil {
		t = new(SeqTracker)
		s.streams[streamID] = t
	}
	r := t.Check(epoch, seq)
	switch {
	case r.Duplicate:
		s.dups++
	case r.Rejected != "":
		s.rejected++
	default:
		s.inOrder++
		s.gaps += r.Missing
		if r.Restart {
			s.restarts++
		}
	}
	return r
}

// Counts returns frames accepted, frames missing in gaps, and duplicates.
func (s *SequenceChecker) Counts() (accepted, missing, duplicates uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inOrder, s.gaps, s.dups
}

// Restarts returns how many new epochs were accepted and how many frames were rejected as
// implausible.
func (s *SequenceChecker) Restarts() (restarts, rejected uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts, s.rejected
}
