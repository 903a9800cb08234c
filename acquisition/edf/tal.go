package edf

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// EDF+ annotation signals hold Time-stamped Annotation Lists (TALs):
//
//	+onset[\x15duration]\x14text\x14[text\x14...]\x00
//
// Unused bytes are \x00. The first TAL of every data record is the time-keeping TAL
// ("+onset\x14\x14\x00"): its onset is the record's start relative to the header's start time.
const (
	talDuration = 0x15
	talText     = 0x14
)

// tal is one parsed Time-stamped Annotation List.
type tal struct {
	onsetSec    float64
	durationSec float64
	texts       []string // may contain "" (the time-keeping TAL's empty text)
}

// parseTALs splits one record's annotation bytes into TALs. It is strict about structure,
// because a TAL that does not parse means the record boundaries or the header are wrong.
func parseTALs(b []byte, out []tal) ([]tal, error) {
	i := 0
	for {
		for i < len(b) && b[i] == 0 {
			i++
		}
		if i >= len(b) {
			return out, nil
		}
		start := i
		if b[i] != '+' && b[i] != '-' {
			return out, fmt.Errorf("TAL at byte %d starts with 0x%02x, want '+' or '-'", start, b[i])
		}
		j := i + 1
		for j < len(b) && b[j] != talDuration && b[j] != talText {
			j++
		}
		if j >= len(b) {
			return out, fmt.Errorf("TAL at byte %d has no 0x14 after its onset", start)
		}
		onset, err := parseTALNumber(b[i:j])
		if err != nil {
			return out, fmt.Errorf("TAL at byte %d: onset %q: %w", start, latin1(b[i:j]), err)
		}
		t := tal{onsetSec: onset}
		i = j
		if b[i] == talDuration {
			j = i + 1
			for j < len(b) && b[j] != talText {
				j++
			}
			if j >= len(b) {
				return out, fmt.Errorf("TAL at byte %d has no 0x14 after its duration", start)
			}
			if j > i+1 {
				d, err := parseTALNumber(b[i+1 : j])
				if err != nil || d < 0 {
					return out, fmt.Errorf("TAL at byte %d: duration %q is not a non-negative number", start, latin1(b[i+1:j]))
				}
				t.durationSec = d
			}
			i = j
		}
		// b[i] == 0x14: texts follow, each ended by 0x14; the TAL ends at a 0x00 after a 0x14.
		i++
		for {
			if i >= len(b) {
				return out, fmt.Errorf("TAL at byte %d is not terminated by 0x14 0x00 before the end of the record", start)
			}
			if b[i] == 0 {
				break
			}
			j = i
			for j < len(b) && b[j] != talText && b[j] != 0 {
				j++
			}
			if j >= len(b) || b[j] == 0 {
				return out, fmt.Errorf("TAL at byte %d: annotation text is not terminated by 0x14", start)
			}
			t.texts = append(t.texts, decodeText(b[i:j]))
			i = j + 1
		}
		if len(t.texts) == 0 {
			// "+onset\x14\x00": an empty annotation list; keep it for time keeping.
			t.texts = append(t.texts, "")
		}
		out = append(out, t)
	}
}

// parseTALNumber parses a signed decimal number as EDF+ writes it ("+0", "-1.5", "+12.0034").
func parseTALNumber(b []byte) (float64, error) {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '.' || c == '+' || c == '-') {
			return 0, fmt.Errorf("byte 0x%02x is not part of a decimal number", c)
		}
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("not a finite decimal number")
	}
	return v, nil
}

// decodeText decodes annotation text: UTF-8 as EDF+ requires (and MNE assumes); bytes that are
// not valid UTF-8 are taken as Latin-1 rather than rejected, so old files stay readable.
func decodeText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return latin1(b)
}
