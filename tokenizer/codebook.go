package tokenizer

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
)

// FormatVersion is the codebook file version this package writes and reads.
const FormatVersion = 1

// Codebook is a learnt set of patch shapes and what is needed to use it online: the patch length
// and sampling rate it was learnt at, and the band-pass its training data went through (the stream
// must be filtered the same way before tokenizing).
type Codebook struct {
	Version      int     `json:"version"`
	Name         string  `json:"name"`
	SampleRateHz float64 `json:"sample_rate_hz"`
	PatchSamples int     `json:"patch_samples"`
	// Normalisation is how a patch is made comparable to the codewords: "patch-zscore" subtracts the
	// patch mean and divides by its standard deviation (both carried with the token).
	Normalisation string       `json:"normalisation"`
	BandHz        [2]float64   `json:"band_hz,omitempty"` // training band-pass (0, 0: none)
	Codewords     [][]float64  `json:"codewords"`         // K x PatchSamples, in z units
	Training      TrainingInfo `json:"training"`
}

// TrainingInfo records where a codebook came from.
type TrainingInfo struct {
	Recordings []string `json:"recordings"`
	Patches    int      `json:"patches"`
	Iterations int      `json:"iterations"`
	Inertia    float64  `json:"inertia"`
	Seed       uint64   `json:"seed"`
	CreatedAt  string   `json:"created_at,omitempty"`
}

// PatchZScore is the only normalisation so far.
const PatchZScore = "patch-zscore"

// Validate checks the codebook's shape and values.
func (c *Codebook) Validate() error {
	switch {
	case c.Version != FormatVersion:
		return fmt.Errorf("codebook version %d: this neurostream reads version %d", c.Version, FormatVersion)
	case !(c.SampleRateHz > 0):
		return fmt.Errorf("codebook sample_rate_hz %g: want > 0", c.SampleRateHz)
	case c.PatchSamples < 2:
		return fmt.Errorf("codebook patch_samples %d: want at least 2", c.PatchSamples)
	case c.Normalisation != PatchZScore:
		return fmt.Errorf("codebook normalisation %q: known: %s", c.Normalisation, PatchZScore)
	case len(c.Codewords) == 0 || len(c.Codewords) > math.MaxUint16+1:
		return fmt.Errorf("codebook has %d codewords: want 1 to %d", len(c.Codewords), math.MaxUint16+1)
	}
	for i, w := range c.Codewords {
		if len(w) != c.PatchSamples {
			return fmt.Errorf("codeword %d has %d samples, patches have %d", i, len(w), c.PatchSamples)
		}
		for _, v := range w {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("codeword %d is not finite", i)
			}
		}
	}
	return nil
}

// Fingerprint is the codebook version carried with its tokens: a 32-bit FNV-1a hash of everything
// that decides what a token means (name, rate, patch length, normalisation, band, codewords), so a
// detokenizer can refuse tokens from another codebook of the same name.
func (c *Codebook) Fingerprint() uint32 {
	h := fnv.New32a()
	var b [8]byte
	f := func(v float64) {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	h.Write([]byte(c.Name))
	h.Write([]byte{0})
	h.Write([]byte(c.Normalisation))
	h.Write([]byte{0})
	f(c.SampleRateHz)
	f(float64(c.PatchSamples))
	f(c.BandHz[0])
	f(c.BandHz[1])
	for _, w := range c.Codewords {
		for _, v := range w {
			f(v)
		}
	}
	return h.Sum32()
}

// PatchSec is the patch length in seconds.
func (c *Codebook) PatchSec() float64 { return float64(c.PatchSamples) / c.SampleRateHz }

// Save writes the codebook as JSON.
func (c *Codebook) Save(path string) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("save codebook %s: %w", path, err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("save codebook %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save codebook: %w", err)
	}
	return nil
}

// Load reads and checks a codebook file.
func Load(path string) (*Codebook, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load codebook: %w", err)
	}
	var c Codebook
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("load codebook %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("load codebook %s: %w", path, err)
	}
	return &c, nil
}
