package edf

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/neurostream/neurostream/acquisition"
)

// readAnnotations parses every annotation signal of every record. It returns each record's
// onset in seconds from the header start time (from the record's time-keeping TAL; nil if the
// file has no annotation signal) and the annotations, with onsets relative to the first record,
// sorted by onset (stable, so simultaneous annotations keep file order).
//
// Like MNE 1.3, only the very first TAL's empty text is taken as the time-keeping offset; the
// empty texts of later time-keeping TALs are skipped, and every non-empty text becomes one
// annotation (a TAL with several texts gives several annotations with the same onset).
func readAnnotations(name string, h *Header, b []byte, talIdx []int) ([]float64, []acquisition.Annotation, error) {
	if len(talIdx) == 0 {
		return nil, nil, nil
	}
	bps := h.Format.bytesPerSample()
	sigOffset := make([]int, len(h.Signals)+1)
	for i := range h.Signals {
		sigOffset[i+1] = sigOffset[i] + h.Signals[i].SamplesPerRecord*bps
	}
	recBytes := sigOffset[len(h.Signals)]
	recOnsets := make([]float64, h.NumRecords)
	var anns []acquisition.Annotation
	var tals []tal
	offset := 0.0
	first := true
	// MNE concatenates each annotation signal over all records before parsing, so signal order
	// comes before record order; the final stable sort makes the order match its sorted output.
	for ti, i := range talIdx {
		for r := 0; r < h.NumRecords; r++ {
			start := h.HeaderBytes + r*recBytes + sigOffset[i]
			var err error
			tals, err = parseTALs(b[start:start+sigOffset[i+1]-sigOffset[i]], tals[:0])
			if err != nil {
				return nil, nil, fmt.Errorf("edf: %s: data record %d, signal %d (%s): %w", name, r+1, i+1, h.Signals[i].Label, err)
			}
			if ti == 0 {
				if len(tals) == 0 || tals[0].texts[0] != "" {
					if h.IsDiscontinuous() {
						return nil, nil, fmt.Errorf("edf: %s: data record %d of an %s file has no time-keeping TAL, so its onset is unknown",
							name, r+1, h.Reserved)
					}
					recOnsets[r] = float64(r) * h.RecordDurationSec
				} else {
					recOnsets[r] = tals[0].onsetSec
				}
			}
			for k, t := range tals {
				for _, text := range t.texts {
					if text == "" {
						if first && k == 0 && r == 0 && ti == 0 {
							offset = -t.onsetSec
						}
						continue
					}
					anns = append(anns, acquisition.Annotation{
						OnsetSec:    t.onsetSec + offset,
						DurationSec: t.durationSec,
						Description: text,
					})
				}
				first = false
			}
		}
	}
	sort.SliceStable(anns, func(a, b int) bool { return anns[a].OnsetSec < anns[b].OnsetSec })
	return recOnsets, anns, nil
}

// StimEvents turns a stim channel's samples (integer codes) into annotations the way
// mne.find_events(raw, consecutive='increasing', mask=0xFFFF, mask_type='and', shortest_event=1)
// does: an event at every upward step of the low 16 bits (the BioSemi trigger lines), with the
// new value as its code. A non-zero first sample is not an event (MNE's initial_event=False).
func StimEvents(stim []float64, rateHz float64) []acquisition.Annotation {
	type step struct {
		idx       int
		pre, post int64
	}
	var steps []step
	abs := false
	for _, v := range stim {
		if v < 0 {
			abs = true
			break
		}
	}
	value := func(i int) int64 {
		v := int64(stim[i])
		if abs && v < 0 {
			v = -v
		}
		return v
	}
	for i := 1; i < len(stim); i++ {
		if pre, post := value(i-1), value(i); pre != post {
			steps = append(steps, step{i, pre, post})
		}
	}
	if n := len(stim); n > 0 && value(n-1) != 0 {
		steps = append(steps, step{n, value(n - 1), 0})
	}
	kept := steps[:0]
	for _, s := range steps {
		s.pre &= 0xFFFF
		s.post &= 0xFFFF
		if s.pre != s.post {
			kept = append(kept, s)
		}
	}
	steps = kept
	var onsets, offsets []int
	for k, s := range steps {
		on := s.post > s.pre
		if on {
			onsets = append(onsets, k)
		}
		if (on || s.post == 0) && s.pre > 0 {
			offsets = append(offsets, k)
		}
	}
	if len(onsets) == 0 || len(offsets) == 0 {
		return nil
	}
	if onsets[len(onsets)-1] > offsets[len(offsets)-1] {
		onsets = onsets[:len(onsets)-1]
	}
	out := make([]acquisition.Annotation, 0, len(onsets))
	for _, k := range onsets {
		s := steps[k]
		out = append(out, acquisition.Annotation{
			OnsetSec:    float64(s.idx) / rateHz,
			OnsetSample: int64(s.idx),
			Code:        int32(s.post),
			Description: strconv.FormatInt(s.post, 10),
		})
	}
	return out
}
