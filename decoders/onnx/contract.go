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
	case c.Task != TaskMotorImagery && c.Task != TaskSpeech && c.Task != TaskVisual:
		return fmt.Errorf("model contract %s: task %q, want %s, %s or %s", c.Name, c.Task, TaskMotorImagery, TaskSpeech, TaskVisual)
	case nCh == 0:
		return fmt.Errorf("model contract %s: no input channels", c.Name)
	case !(c.SampleRateHz > 0) || math.IsInf(c.SampleRateHz, 0):
		return fmt.Errorf("model contract %s: sample_rate_hz %v is not a positive number", c.Name, c.SampleRateHz)
	case c.WindowSamples <= 0:
		return fmt.Errorf("model contract %s: window_samples %d is not positive", c.Name, c.WindowSamples)
	case c.Input.Name == "" || c.Output.Name == "":
		return fmt.Errorf("model contract %s: input and output names are required", c.Name)
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
