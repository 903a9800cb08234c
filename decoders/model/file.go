package model

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/neurostream/neurostream/decoders/csp"
	"github.com/neurostream/neurostream/decoders/lda"
	"github.com/neurostream/neurostream/decoders/logreg"
	"github.com/neurostream/neurostream/decoders/xdawn"
)

// FormatVersion is the model-file version this package writes; Load rejects other versions.
const FormatVersion = 1

// Kind names a decoder pipeline.
type Kind string

const (
	CSPLDA  Kind = "csp-lda"  // CSP log-variance + shrinkage LDA
	FBCSP   Kind = "fbcsp"    // filter-bank CSP + mutual-information selection + shrinkage LDA
	MDM     Kind = "mdm"      // minimum distance to Riemannian class means
	TSLR    Kind = "ts-lr"    // tangent space at the Riemannian mean + logistic regression
	XdawnTS Kind = "xdawn-ts" // xDAWN covariances + tangent space + logistic regression (P300)
)

// Kinds lists every decoder kind, for flags and errors.
func Kinds() []Kind { return []Kind{CSPLDA, FBCSP, MDM, TSLR, XdawnTS} }

// ParseKind checks a decoder name.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds() {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown decoder %q (want one of %v)", s, Kinds())
}

// Filter is the band-pass the stream must go through before windows reach the decoder: a
// Butterworth band-pass of Order (scipy.signal.butter(order, band, 'bandpass', output='sos')),
// applied causally (sosfilt with state) to the continuous signal. Training applies exactly this
// to the recordings before epoching, so online and offline features agree.
type Filter struct {
	Type   string     `json:"type"`
	Order  int        `json:"order"`
	BandHz [2]float64 `json:"band_hz"`
	Causal bool       `json:"causal"`
}

// Training records where a model came from.
type Training struct {
	Sources    []string `json:"sources"`
	Events     []string `json:"events"` // "T1=left" mappings used
	NEpochs    int      `json:"n_epochs"`
	DataSHA256 string   `json:"data_sha256"` // over the training epochs (float64 bits) and labels
	CreatedAt  string   `json:"created_at,omitempty"`
}

// Band is one filter-bank CSP band: its Butterworth band-pass (applied inside the decoder to each
// window, causally from zero state, exactly as in training) and its CSP.
type Band struct {
	BandHz [2]float64 `json:"band_hz"`
	Order  int        `json:"order"`
	CSP    *csp.CSP   `json:"csp"`
}

// File is the model file.
type File struct {
	FormatVersion int           `json:"format_version"`
	Decoder       Kind          `json:"decoder"`
	Channels      []string      `json:"channels"`
	SampleRateHz  float64       `json:"sample_rate_hz"`
	Filter        Filter        `json:"filter"`
	TminSec       float64       `json:"tmin_sec"`
	TmaxSec       float64       `json:"tmax_sec"`
	WindowSamples int           `json:"window_samples"`
	Classes       []string      `json:"classes"`
	Training      Training      `json:"training"`
	CSP           *csp.CSP      `json:"csp,omitempty"`
	Bands         []Band        `json:"bands,omitempty"`
	Selected      []int         `json:"selected_features,omitempty"` // FBCSP: indices into the band-major feature vector
	LDA           *lda.LDA      `json:"lda,omitempty"`
	Reference     [][]float64   `json:"reference,omitempty"` // tangent-space reference (Riemannian mean)
	LogReg        *logreg.Model `json:"logreg,omitempty"`
	Means         [][][]float64 `json:"class_means,omitempty"` // MDM
	// Recenter (MDM, tangent space): training covariances were re-centred per recording on their
	// own Riemannian mean; online, each window is re-centred on a running mean of the windows seen
	// so far (RecenterHorizon windows of memory), which needs no labels from the new session.
	Recenter        bool         `json:"recenter,omitempty"`
	RecenterHorizon int          `json:"recenter_horizon,omitempty"`
	Xdawn           *xdawn.Xdawn `json:"xdawn,omitempty"`
}

// Save writes the model as indented JSON.
func (f *File) Save(path string) error {
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return fmt.Errorf("encoding model: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing model: %w", err)
	}
	return nil
}

// maxFileBytes bounds a model file: the largest real ones (FBCSP on 64 channels, xDAWN with its
// evoked prototypes) are a few MB of JSON.
const maxFileBytes = 256 << 20

// ReadFile reads and checks a model file without building the decoder.
func ReadFile(path string) (*File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading model: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() > maxFileBytes {
		return nil, fmt.Errorf("model %s: not a regular file of at most %d MiB", path, maxFileBytes>>20)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading model: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return f, nil
}

// Parse decodes and validates a model file's bytes.
func Parse(b []byte) (*File, error) {
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("not a neurostream model file: %w", err)
	}
	if f.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("field format_version: version %d, this build reads version %d; retrain or upgrade neurostream", f.FormatVersion, FormatVersion)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}
