package onnx

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
)

// ContractKey is the ONNX metadata_props key that holds the model contract.
const ContractKey = "neurostream.contract"

// ContractFormat is the version tag every contract carries.
const ContractFormat = "neurostream-onnx-contract/1"

// Tasks a contract may declare.
const (
	TaskMotorImagery = "motor-imagery"
	TaskSpeech       = "speech"
	TaskVisual       = "visual"
	// TaskTokenizer is a learnt tokenizer's encoder: one channel's normalised patch in, its latent
	// vector out (an embedding); package tokenizer/learnt runs it.
	TaskTokenizer = "tokenizer"
)

// Output kinds a contract may declare.
const (
	OutputLogits        = "logits"
	OutputProbabilities = "probabilities"
	OutputEmbedding     = "embedding"
)

// Contract is what a model promises about its input and output; see the package comment for the JSON.
type Contract struct {
	Format        string            `json:"format"`
	Name          string            `json:"name"`
	Task          string            `json:"task"`
	Description   string            `json:"description,omitempty"`
	Channels      []string          `json:"channels"`
	SampleRateHz  float64           `json:"sample_rate_hz"`
	WindowSamples int               `json:"window_samples"`
	Preprocessing map[string]any    `json:"preprocessing,omitempty"`
	Normalisation Normalisation     `json:"normalisation"`
	Input         TensorSpec        `json:"input"`
	Output        OutputSpec        `json:"output"`
	Subjects      []string          `json:"subjects,omitempty"`
	Extra         map[string]string `json:"extra,omitempty"`
}

// Normalisation maps a sample x of channel c to (x - Offset[c]) * Scale[c], then optionally z-scores each
// channel over the window. Offset and Scale hold one value per channel or a single value for all; empty
// means 0 and 1.
type Normalisation struct {
	Offset       []float64 `json:"offset,omitempty"`
	Scale        []float64 `json:"scale,omitempty"`
	WindowZScore bool      `json:"window_zscore,omitempty"`
}

// TensorSpec names a model input and its fixed shape.
type TensorSpec struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"`
}

// OutputSpec names the model output and says how to read it.
type OutputSpec struct {
	Name          string   `json:"name"`
	Kind          string   `json:"kind"`
	Labels        []string `json:"labels,omitempty"`
	EmbeddingSize int      `json:"embedding_size,omitempty"`
}

// ParseContract decodes and checks a contract.
func ParseContract(data []byte) (*Contract, error) {
	var c Contract
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("model contract: %w", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate reports the first inconsistency in the contract.
func (c *Contract) Validate() error {
	nCh := len(c.Channels)
	switch {
	case c.Format != ContractFormat:
		return fmt.Errorf("model contract: format %q, want %q", c.Format, ContractFormat)
	case c.Name == "":
		return errors.New("model contract: empty name")
	case c.Task != TaskMotorImagery && c.Task != TaskSpeech && c.Task != TaskVisual && c.Task != TaskTokenizer:
		return fmt.Errorf("model contract %s: task %q, want %s, %s, %s or %s", c.Name, c.Task, TaskMotorImagery, TaskSpeech, TaskVisual, TaskTokenizer)
	case nCh == 0:
		return fmt.Errorf("model contract %s: no input channels", c.Name)
	case !(c.SampleRateHz > 0) || math.IsInf(c.SampleRateHz, 0):
		return fmt.Errorf("model contract %s: sample_rate_hz %v is not a positive number", c.Name, c.SampleRateHz)
	case c.WindowSamples <= 0:
		return fmt.Errorf("model contract %s: window_samples %d is not positive", c.Name, c.WindowSamples)
	case c.Input.Name == "" || c.Output.Name == "":
		return fmt.Errorf("model contract %s: input and output names are required", c.Name)
	}
	if err := c.checkBounds(); err != nil {
		return fmt.Errorf("model contract %s: %w", c.Name, err)
	}
	if n := len(c.Normalisation.Offset); n != 0 && n != 1 && n != nCh {
		return fmt.Errorf("model contract %s: %d normalisation offsets for %d channels (want 1 or %d)", c.Name, n, nCh, nCh)
	}
	if n := len(c.Normalisation.Scale); n != 0 && n != 1 && n != nCh {
		return fmt.Errorf("model contract %s: %d normalisation scales for %d channels (want 1 or %d)", c.Name, n, nCh, nCh)
	}
	shape := c.Input.Shape
	if len(shape) < 2 || shape[len(shape)-2] != int64(nCh) || shape[len(shape)-1] != int64(c.WindowSamples) {
		return fmt.Errorf("model contract %s: input shape %v does not end in [channels=%d, window_samples=%d]",
			c.Name, shape, nCh, c.WindowSamples)
	}
	for _, d := range shape[:len(shape)-2] {
		if d != 1 {
			return fmt.Errorf("model contract %s: input shape %v: leading dimensions must be 1 (batch 1)", c.Name, shape)
		}
	}
	switch c.Output.Kind {
	case OutputLogits, OutputProbabilities:
		if len(c.Output.Labels) < 2 {
			return fmt.Errorf("model contract %s: output kind %s needs at least 2 labels, has %d", c.Name, c.Output.Kind, len(c.Output.Labels))
		}
	case OutputEmbedding:
		if c.Output.EmbeddingSize <= 0 {
			return fmt.Errorf("model contract %s: embedding output needs a positive embedding_size", c.Name)
		}
	default:
		return fmt.Errorf("model contract %s: output kind %q, want %s, %s or %s", c.Name, c.Output.Kind, OutputLogits, OutputProbabilities, OutputEmbedding)
	}
	return nil
}

// Bounds on what a contract may claim: it comes with a model file from elsewhere, and the decoder
// allocates its input and output tensors from these numbers before the runtime sees the model.
const (
	maxContractChannels = 4096
	maxContractOutputs  = 1 << 20
	maxWindowValues     = 1 << 25 // channels x window samples (128 MiB of float32)
	maxWindowSec        = 600
)

// checkBounds checks that every number is finite and in range and every name unique, naming the field.
func (c *Contract) checkBounds() error {
	nCh := len(c.Channels)
	if nCh > maxContractChannels {
		return fmt.Errorf("field channels: %d channels, want at most %d", nCh, maxContractChannels)
	}
	seen := make(map[string]int, nCh)
	for i, ch := range c.Channels {
		key := strings.ToLower(strings.Trim(ch, ". "))
		if key == "" {
			return fmt.Errorf("field channels[%d]: empty name", i)
		}
		if j, dup := seen[key]; dup {
			return fmt.Errorf("field channels[%d]: %q repeats channels[%d] %q", i, ch, j, c.Channels[j])
		}
		seen[key] = i
	}
	if c.SampleRateHz < 1 || c.SampleRateHz > 1e6 {
		return fmt.Errorf("field sample_rate_hz: %v Hz, want 1..1e6", c.SampleRateHz)
	}
	if maxWin := min(maxWindowValues/nCh, int(maxWindowSec*c.SampleRateHz)); c.WindowSamples > maxWin {
		return fmt.Errorf("field window_samples: %d, want at most %d (%d channels at %g Hz)", c.WindowSamples, maxWin, nCh, c.SampleRateHz)
	}
	for i, v := range c.Normalisation.Offset {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e30 {
			return fmt.Errorf("field normalisation.offset[%d]: %v is not a plausible finite offset", i, v)
		}
	}
	for i, v := range c.Normalisation.Scale {
		if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 || math.Abs(v) > 1e30 {
			return fmt.Errorf("field normalisation.scale[%d]: %v, want a finite non-zero scale", i, v)
		}
	}
	if len(c.Input.Shape) > 8 {
		return fmt.Errorf("field input.shape: %d dimensions, want at most 8", len(c.Input.Shape))
	}
	if len(c.Output.Labels) > maxContractOutputs || c.Output.EmbeddingSize > maxContractOutputs {
		return fmt.Errorf("field output: %d labels, embedding_size %d: want at most %d outputs", len(c.Output.Labels), c.Output.EmbeddingSize, maxContractOutputs)
	}
	labels := make(map[string]int, len(c.Output.Labels))
	for i, l := range c.Output.Labels {
		if j, dup := labels[l]; dup {
			return fmt.Errorf("field output.labels[%d]: %q repeats output.labels[%d]", i, l, j)
		}
		labels[l] = i
	}
	return nil
}

// outputSize is the number of values the output tensor holds.
func (c *Contract) outputSize() int {
	if c.Output.Kind == OutputEmbedding {
		return c.Output.EmbeddingSize
	}
	return len(c.Output.Labels)
}

// readSidecar loads model.contract.json beside model.onnx.
func readSidecar(modelPath string) (*Contract, error) {
	p := strings.TrimSuffix(modelPath, ".onnx") + ".contract.json"
	if st, err := os.Stat(p); err == nil && (!st.Mode().IsRegular() || st.Size() > 16<<20) {
		return nil, fmt.Errorf("sidecar %s: not a regular file of at most 16 MiB", p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("model %s has no %q metadata and no sidecar contract: %w", modelPath, ContractKey, err)
	}
	c, err := ParseContract(data)
	if err != nil {
		return nil, fmt.Errorf("sidecar %s: %w", p, err)
	}
	return c, nil
}
