package streams

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Prediction is a decoder's output for one window, published as JSON on the predictions topic so that
// anything (kcat, a browser, a game engine) can consume it.
//
// WindowEndSourceNs is the source-clock time just after the last sample of the window;
// LatencyNs is the time from the acquisition of that window's last frame to the publication of this
// prediction, measured on the wall clock.
type Prediction struct {
	StreamID          string    `json:"stream_id"`
	Decoder           string    `json:"decoder"`
	WindowEndSourceNs int64     `json:"window_end_ns"`
	WindowEndSample   int64     `json:"window_end_sample"`
	Label             string    `json:"label,omitempty"`
	Scores            []Score   `json:"scores,omitempty"`
	TopK              []Ranked  `json:"top_k,omitempty"`
	Embedding         []float32 `json:"embedding,omitempty"`
	AcquiredAtNs      int64     `json:"acquired_at_ns"`
	PublishedAtNs     int64     `json:"published_at_ns"`
	LatencyNs         int64     `json:"latency_ns"`
}

// Score is one class's score (a probability when the decoder is probabilistic).
type Score struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
}

// Ranked is one retrieved item (speech segment, image) with its similarity.
type Ranked struct {
	ID    string  `json:"id"`
	Score float64 `json:"score"`
}

// Reset empties p but keeps its slices' capacity.
func (p *Prediction) Reset() {
	*p = Prediction{Scores: p.Scores[:0], TopK: p.TopK[:0], Embedding: p.Embedding[:0]}
}

// AppendPredictionJSON appends p as the JSON object json.Marshal writes for it (same field names and
// omissions; numbers in the shortest form that reads back exactly), without allocating once dst has
// room: predictions are published per window of every stream. Non-finite numbers, which JSON cannot
// carry, are an error.
func AppendPredictionJSON(dst []byte, p *Prediction) ([]byte, error) {
	dst = append(dst, `{"stream_id":`...)
	dst = appendJSONString(dst, p.StreamID)
	dst = append(dst, `,"decoder":`...)
	dst = appendJSONString(dst, p.Decoder)
	dst = append(dst, `,"window_end_ns":`...)
	dst = strconv.AppendInt(dst, p.WindowEndSourceNs, 10)
	dst = append(dst, `,"window_end_sample":`...)
	dst = strconv.AppendInt(dst, p.WindowEndSample, 10)
	if p.Label != "" {
		dst = append(dst, `,"label":`...)
		dst = appendJSONString(dst, p.Label)
	}
	var err error
	if len(p.Scores) > 0 {
		dst = append(dst, `,"scores":[`...)
		for i, s := range p.Scores {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"label":`...)
			dst = appendJSONString(dst, s.Label)
			dst = append(dst, `,"value":`...)
			if dst, err = appendJSONFloat(dst, s.Value, 64); err != nil {
				return dst, err
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if len(p.TopK) > 0 {
		dst = append(dst, `,"top_k":[`...)
		for i, r := range p.TopK {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"id":`...)
			dst = appendJSONString(dst, r.ID)
			dst = append(dst, `,"score":`...)
			if dst, err = appendJSONFloat(dst, r.Score, 64); err != nil {
				return dst, err
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if len(p.Embedding) > 0 {
		dst = append(dst, `,"embedding":[`...)
		for i, v := range p.Embedding {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendJSONFloat(dst, float64(v), 32); err != nil {
				return dst, err
			}
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"acquired_at_ns":`...)
	dst = strconv.AppendInt(dst, p.AcquiredAtNs, 10)
	dst = append(dst, `,"published_at_ns":`...)
	dst = strconv.AppendInt(dst, p.PublishedAtNs, 10)
	dst = append(dst, `,"latency_ns":`...)
	dst = strconv.AppendInt(dst, p.LatencyNs, 10)
	return append(dst, '}'), nil
}

func appendJSONFloat(dst []byte, v float64, bits int) ([]byte, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return dst, fmt.Errorf("prediction: non-finite number %v cannot be written as JSON", v)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, bits), nil
}

// appendJSONString appends s as a JSON string, escaping quotes, backslashes and control characters
// (and, like encoding/json, <, > and & for HTML safety, and invalid UTF-8 as U+FFFD).
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
