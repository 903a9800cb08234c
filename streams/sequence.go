package streams

import "sync"

// SeqResult is what a sequence check found for one frame.
type SeqResult struct {
	Missing   uint64 // frames skipped before this one (a gap), 0 if in order
	Duplicate bool   // the frame's seq was already seen (or older: a replay or a reorder)
	First     bool   // the first frame seen of this stream
}

// SequenceChecker tracks the last sequence number of every stream and counts gaps and duplicates.
// It is safe for concurrent use.
type SequenceChecker struct {
	mu      sync.Mutex
	last    map[string]uint64
	gaps    uint64 // frames missing, summed over gaps
	dups    uint64
	inOrder uint64
}

// NewSequenceChecker returns an empty checker.
func NewSequenceChecker() *SequenceChecker { return &SequenceChecker{last: make(map[string]uint64)} }

// Check records seq for streamID and reports how it relates to the previous one.
func (s *SequenceChecker) Check(streamID string, seq uint64) SeqResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.last[streamID]
	switch {
	case !ok:
		s.last[streamID] = seq
		s.inOrder++
		return SeqResult{First: true}
	case seq <= prev:
		s.dups++
		return SeqResult{Duplicate: true}
	default:
		s.last[streamID] = seq
		missing := seq - prev - 1
		s.gaps += missing
		s.inOrder++
		return SeqResult{Missing: missing}
	}
}

// Counts returns frames accepted in order, frames missing in gaps, and duplicates.
func (s *SequenceChecker) Counts() (accepted, missing, duplicates uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inOrder, s.gaps, s.dups
}
