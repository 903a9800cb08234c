package streams

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
