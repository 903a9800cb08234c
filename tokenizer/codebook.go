package tokenizer

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"slices"

	"github.com/neurostream/neurostream/streams"
)

// FormatVersion is the codebook file version this package writes; it reads versions 1 and 2.
// Version 2 added residual stages, the mu-law method, the channel-type contract and (optional,
// so older version 2 files still read) the side-information ranges.
const FormatVersion = 2

// Tokenizer methods a codebook may declare.
const (
	// MethodVQ replaces each normalised patch by codebook indices: one per stage, each stage
	// quantising what the previous ones left (residual vector quantisation; one stage is k-means).
	MethodVQ = "vq"
	// MethodMuLaw quantises every normalised sample on its own with mu-law companding (MEG-GPT's
	// fixed tokenizer): PatchSamples tokens per channel and patch.
	MethodMuLaw = "mulaw"
	// MethodLearntVQ encodes each normalised patch with a learnt network (an ONNX encoder, Encoder)
	// and takes the nearest of LatentCodewords; Codewords holds the learnt decoder's output for each
	// code, which detokenizing uses (a VQ autoencoder's bottleneck, as LaBraM's and BrainOmni's).
	MethodLearntVQ = "learnt-vq"
)

// Codebook is a tokenizer's learnt (or fixed) vocabulary and the contract a stream must meet to use
// it: the sampling rate and band-pass its training data went through (the stream must be filtered
// the same way before tokenizing), the patch length, and the channel types (modality) it knows.
type Codebook struct {
	Version      int     `json:"version"`
	Name         string  `json:"name"`
	Method       string  `json:"method,omitempty"` // vq (default) or mulaw
	SampleRateHz float64 `json:"sample_rate_hz"`
	PatchSamples int     `json:"patch_samples"`
	// Normalisation is how a patch is made comparable to the codewords: "patch-zscore" subtracts the
	// patch mean and divides by its standard deviation (both carried with the tokens).
	Normalisation string     `json:"normalisation"`
	BandHz        [2]float64 `json:"band_hz,omitempty"` // training band-pass (0, 0: none)
	// ChannelTypes is the modality contract: the channel types ("eeg", "mag", "grad") the codebook
	// was learnt on. Empty (format 1 files) means every channel of the stream is tokenized.
	ChannelTypes []string `json:"channel_types,omitempty"`
	// Codewords is the first (for k-means the only) stage, K x PatchSamples in z units; Residual holds
	// the later stages of a residual quantiser, each quantising what the stages before it left.
	Codewords [][]float64   `json:"codewords,omitempty"`
	Residual  [][][]float64 `json:"residual_stages,omitempty"`
	// Learnt VQ: the encoder model file (relative to the codebook file) and the codewords in its
	// latent space (K x latent size); Codewords are their decoded patches.
	Encoder         string      `json:"encoder,omitempty"`
	LatentCodewords [][]float64 `json:"latent_codewords,omitempty"`
	// Mu-law: Levels quantisation levels over [-ClipZ, ClipZ] z units, mu = Levels - 1.
	MuLawLevels int     `json:"mulaw_levels,omitempty"`
	MuLawClipZ  float64 `json:"mulaw_clip_z,omitempty"`
	// SideRanges are the ranges a patch's mean and scale are quantised over, one per channel type,
	// when a tokenizer stage sets side_bits (side.go). Files learnt before them have none.
	SideRanges []SideRange  `json:"side_ranges,omitempty"`
	Training   TrainingInfo `json:"training"`
}

// TrainingInfo records where a codebook came from.
type TrainingInfo struct {
	Recordings []string  `json:"recordings"`
	Patches    int       `json:"patches"`
	Iterations int       `json:"iterations"`
	Inertia    float64   `json:"inertia"`
	StageMSE   []float64 `json:"stage_mse,omitempty"` // per-dimension residual energy left after each stage (z units squared)
	Seed       uint64    `json:"seed"`
	CreatedAt  string    `json:"created_at,omitempty"`
}

// PatchZScore is the only normalisation so far.
const PatchZScore = "patch-zscore"

// signalTypes are the channel types a codebook can be learnt on and tokenize; other types (stim,
// EOG, EMG, ECG, misc) are left out of a stream's tokens.
var signalTypes = []string{streams.ChannelEEG.String(), streams.ChannelMEGMag.String(), streams.ChannelMEGGrad.String()}

func (c *Codebook) method() string {
	if c.Method == "" {
		return MethodVQ
	}
	return c.Method
}

// Stages is the number of codebook indices per channel and patch of a VQ codebook (1 for k-means).
func (c *Codebook) Stages() int {
	if c.method() == MethodMuLaw {
		return 1
	}
	return 1 + len(c.Residual)
}

// Stage returns stage s's codewords.
func (c *Codebook) Stage(s int) [][]float64 {
	if s == 0 {
		return c.Codewords
	}
	return c.Residual[s-1]
}

// TokensPerChannel is how many tokens one channel's patch becomes.
func (c *Codebook) TokensPerChannel() int {
	if c.method() == MethodMuLaw {
		return c.PatchSamples
	}
	return c.Stages()
}

// TokenBitsPerSecond is the information rate of one channel's tokens: the bits of every token of a
// patch (log2 of its vocabulary) per patch second. The per-patch offset and scale are extra.
func (c *Codebook) TokenBitsPerSecond() float64 {
	b := 0.0
	if c.method() == MethodMuLaw {
		b = float64(c.PatchSamples) * math.Log2(float64(c.MuLawLevels))
	} else {
		for s := range c.Stages() {
			b += math.Log2(float64(len(c.Stage(s))))
		}
	}
	return b / c.PatchSec()
}

// Modality names the contract's channel types ("eeg", "mag+grad", or "any").
func (c *Codebook) Modality() string {
	if len(c.ChannelTypes) == 0 {
		return "any"
	}
	s := c.ChannelTypes[0]
	for _, t := range c.ChannelTypes[1:] {
		s += "+" + t
	}
	return s
}

// Validate checks the codebook's shape and values; an error names the offending field.
func (c *Codebook) Validate() error {
	switch {
	case c.Version != 1 && c.Version != FormatVersion:
		return fmt.Errorf("codebook version %d: this neurostream reads versions 1 and %d", c.Version, FormatVersion)
	case !(c.SampleRateHz >= 1 && c.SampleRateHz <= 1e6):
		return fmt.Errorf("codebook sample_rate_hz %g: want a rate of 1 to 1e6 Hz", c.SampleRateHz)
	case c.PatchSamples < 2 || c.PatchSamples > 1<<16 || float64(c.PatchSamples) > maxPatchSec*c.SampleRateHz:
		return fmt.Errorf("codebook patch_samples %d: want 2 to 65536, at most %d s", c.PatchSamples, maxPatchSec)
	case c.Normalisation != PatchZScore:
		return fmt.Errorf("codebook normalisation %q: known: %s", c.Normalisation, PatchZScore)
	case c.Version == 1 && (c.Method != "" || len(c.Residual) > 0 || len(c.ChannelTypes) > 0):
		return fmt.Errorf("codebook version 1 has method, residual_stages or channel_types: those need version %d", FormatVersion)
	case !(c.BandHz == [2]float64{}) && !(c.BandHz[0] >= 0 && c.BandHz[1] > c.BandHz[0] && c.BandHz[1] <= c.SampleRateHz/2):
		return fmt.Errorf("codebook band_hz %v: want 0 <= low < high <= Nyquist (%g Hz)", c.BandHz, c.SampleRateHz/2)
	}
	for _, t := range c.ChannelTypes {
		if !slices.Contains(signalTypes, t) {
			return fmt.Errorf("codebook channel_types: %q is not a signal type a tokenizer knows (%v)", t, signalTypes)
		}
	}
	if c.Version == 1 && len(c.SideRanges) > 0 {
		return fmt.Errorf("codebook version 1 has side_ranges: those need version %d", FormatVersion)
	}
	for i := range c.SideRanges {
		if err := c.SideRanges[i].validate(); err != nil {
			return fmt.Errorf("codebook %w", err)
		}
		if c.SideRangeOf(c.SideRanges[i].ChannelType) != &c.SideRanges[i] {
			return fmt.Errorf("codebook side_ranges: two for channel type %s", c.SideRanges[i].ChannelType)
		}
	}
	switch c.method() {
	case MethodMuLaw:
		switch {
		case c.MuLawLevels < 2 || c.MuLawLevels > math.MaxUint16+1:
			return fmt.Errorf("codebook mulaw_levels %d: want 2 to %d", c.MuLawLevels, math.MaxUint16+1)
		case !(c.MuLawClipZ > 0) || c.MuLawClipZ > maxZ:
			return fmt.Errorf("codebook mulaw_clip_z %g: want > 0", c.MuLawClipZ)
		case len(c.Codewords) > 0 || len(c.Residual) > 0:
			return fmt.Errorf("codebook codewords: a mu-law codebook has none")
		}
		return nil
	case MethodVQ:
	case MethodLearntVQ:
		switch {
		case c.Encoder == "":
			return fmt.Errorf("codebook encoder: a learnt-vq codebook names its ONNX encoder file")
		case len(c.Residual) > 0:
			return fmt.Errorf("codebook residual_stages: a learnt-vq codebook has one stage")
		case len(c.LatentCodewords) != len(c.Codewords):
			return fmt.Errorf("codebook latent_codewords: %d, codewords %d: want one decoded patch per latent codeword", len(c.LatentCodewords), len(c.Codewords))
		}
		for i, w := range c.LatentCodewords {
			if len(w) == 0 || len(w) != len(c.LatentCodewords[0]) {
				return fmt.Errorf("codebook latent_codewords[%d] has %d values, latent_codewords[0] %d", i, len(w), len(c.LatentCodewords[0]))
			}
			for _, v := range w {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("codebook latent_codewords[%d] is not finite", i)
				}
			}
		}
	default:
		return fmt.Errorf("codebook method %q: known: %s, %s, %s", c.Method, MethodVQ, MethodMuLaw, MethodLearntVQ)
	}
	if len(c.Residual) > 15 {
		return fmt.Errorf("codebook residual_stages: %d stages, want at most 15", len(c.Residual))
	}
	for s := range c.Stages() {
		field := "codewords"
		if s > 0 {
			field = fmt.Sprintf("residual_stages[%d]", s-1)
		}
		words := c.Stage(s)
		if len(words) == 0 || len(words) > math.MaxUint16+1 {
			return fmt.Errorf("codebook %s has %d codewords: want 1 to %d", field, len(words), math.MaxUint16+1)
		}
		for i, w := range words {
			if len(w) != c.PatchSamples {
				return fmt.Errorf("codebook %s[%d] has %d samples, patches have %d", field, i, len(w), c.PatchSamples)
			}
			for _, v := range w {
				if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > maxZ {
					return fmt.Errorf("codebook %s[%d] holds %v: want finite z values within ±%g", field, i, v, float64(maxZ))
				}
			}
		}
	}
	return nil
}

// Fingerprint is the codebook version carried with its tokens: a 32-bit FNV-1a hash of everything
// that decides what a token means (name, method, rate, patch length, normalisation, band, channel
// types, codewords), so a detokenizer can refuse tokens from another codebook of the same name.
func (c *Codebook) Fingerprint() uint32 {
	h := fnv.New32a()
	var b [8]byte
	f := func(v float64) {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	str := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	str(c.Name)
	str(c.Normalisation)
	if c.method() != MethodVQ || len(c.Residual) > 0 || len(c.ChannelTypes) > 0 {
		str(c.method())
		str(c.Encoder)
		for _, w := range c.LatentCodewords {
			for _, v := range w {
				f(v)
			}
		}
		for _, t := range c.ChannelTypes {
			str(t)
		}
		f(float64(c.MuLawLevels))
		f(c.MuLawClipZ)
	}
	f(c.SampleRateHz)
	f(float64(c.PatchSamples))
	f(c.BandHz[0])
	f(c.BandHz[1])
	for s := range c.Stages() {
		if c.method() == MethodMuLaw {
			break
		}
		if s > 0 {
			f(-float64(s)) // stage separator
		}
		for _, w := range c.Stage(s) {
			for _, v := range w {
				f(v)
			}
		}
	}
	// Side ranges decide what quantised side information means; files without them keep the
	// fingerprint they had before ranges existed.
	for _, r := range c.SideRanges {
		str("side:" + r.ChannelType)
		f(r.LogScaleLo)
		f(r.LogScaleHi)
		f(r.OffsetMaxZ)
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

// Bounds on what a codebook file may claim: it may come from elsewhere.
const (
	maxPatchSec      = 60
	maxZ             = 1e6 // codewords are z-scored patches: a sample's |z| is at most sqrt(patch_samples)
	maxCodebookBytes = 512 << 20
)

// Load reads and checks a codebook file.
func Load(path string) (*Codebook, error) {
	if st, err := os.Stat(path); err == nil && (!st.Mode().IsRegular() || st.Size() > maxCodebookBytes) {
		return nil, fmt.Errorf("load codebook %s: not a regular file of at most %d MiB", path, maxCodebookBytes>>20)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load codebook: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load codebook %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and checks a codebook's JSON.
func Parse(b []byte) (*Codebook, error) {
	var c Codebook
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("not a codebook file: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// NewMuLaw returns the fixed mu-law tokenizer for a rate and patch length: levels tokens per
// sample over +-clipZ standard deviations of the patch (MEG-GPT's baseline uses 256 levels).
func NewMuLaw(rateHz float64, patchSamples, levels int, clipZ float64, band [2]float64, channelTypes []string) *Codebook {
	return &Codebook{Version: FormatVersion, Name: fmt.Sprintf("mulaw-%d", levels), Method: MethodMuLaw, SampleRateHz: rateHz,
		PatchSamples: patchSamples, Normalisation: PatchZScore, BandHz: band, ChannelTypes: channelTypes,
		MuLawLevels: levels, MuLawClipZ: clipZ}
}
