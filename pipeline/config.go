package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/neurostream/neurostream/acquisition/devices"
	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/decoders"
	"github.com/neurostream/neurostream/decoders/alpha"
	"github.com/neurostream/neurostream/decoders/model"
	"github.com/neurostream/neurostream/features"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
	"github.com/neurostream/neurostream/tokenizer"
)

// Config is a whole deployment described in YAML (see configs/*.yaml): where Kafka is, which sources
// publish, and which pipelines consume what. One file can run in one process (everything fused) or
// be split over processes with `neurostream run --only`.
type Config struct {
	Kafka     streams.Config   `yaml:"kafka"`
	Metrics   MetricsConfig    `yaml:"metrics"`
	Sources   []SourceConfig   `yaml:"sources"`
	Pipelines []PipelineConfig `yaml:"pipelines"`
	// Spool is where live sources keep frames while the broker is unreachable (see SpoolOptions).
	Spool SpoolOptions `yaml:"spool"`
}

// MetricsConfig sets where /metrics is served ("" disables it).
type MetricsConfig struct {
	Listen string `yaml:"listen"`
}

// SourceConfig is one source: Kind names a device of the registry (acquisition/devices: synthetic,
// cyton, ...). The synthetic headset takes the synthetic.Config fields; hardware takes the
// devices.Options fields (port, daisy, gain, ...), with stream_id and frame_samples shared.
type SourceConfig struct {
	Kind      string           `yaml:"kind"`
	Topic     string           `yaml:"topic"` // default raw
	Synthetic synthetic.Config `yaml:",inline"`
	Device    devices.Options  `yaml:",inline"`
}

// PipelineConfig is one processor: it reads frames from Input as a member of Group, runs Stages on
// every stream, publishes processed frames to Output (optional) and predictions/features to theirs.
type PipelineConfig struct {
	Name   string `yaml:"name"`
	Input  string `yaml:"input"`  // topic: raw (default), clean, or a full name
	Output string `yaml:"output"` // topic for processed frames, "" for none
	Group  string `yaml:"group"`  // consumer group, default neurostream-<name>
	// Replicas is how many group members this process runs (default 1); more processes add more.
	Replicas int           `yaml:"replicas"`
	Stages   []StageConfig `yaml:"stages"`
	// LSLOut, if set, also re-publishes the pipeline's processed frames and predictions as Lab
	// Streaming Layer outlets named after it (see LSLOut).
	LSLOut string `yaml:"lsl_out"`
	// CheckpointSec is how often the stages' state (filter memory, window buffers) is snapshotted to
	// the state topic, so a restarted or rebalanced member resumes exactly (default 5 s, see DefaultCheckpointEvery; a negative
	// value turns it off: a new owner then starts cold).
	CheckpointSec float64 `yaml:"checkpoint_sec"`
	// Streams, if set, limits the pipeline to these stream ids; frames of other streams on the
	// input topic are skipped.
	Streams []string `yaml:"streams"`
}

// StageConfig is one stage of a pipeline.
type StageConfig struct {
	// Kind is bandpass, notch, reference, features, decoder, tokenizer, or detokenize (a pipeline of
	// its own reading the tokens topic: see PipelineConfig.Detokenizes).
	Kind string `yaml:"kind"`
	// bandpass
	LowHz  float64 `yaml:"low_hz"`
	HighHz float64 `yaml:"high_hz"`
	Order  int     `yaml:"order"`
	// notch
	FreqHz float64 `yaml:"freq_hz"`
	Q      float64 `yaml:"q"`
	// decoder
	Decoder string  `yaml:"decoder"` // alpha, native, onnx, or a kind registered by the caller
	Model   string  `yaml:"model"`   // model file (decoder), codebook file (tokenizer, detokenize)
	StepSec float64 `yaml:"step_sec"`
	// Bank is the candidate-embedding file a retrieval decoder (speech segments, gallery images)
	// ranks; TopK how many of them a prediction carries.
	Bank string `yaml:"bank"`
	TopK int    `yaml:"top_k"`
	// Subject picks the subject layer of a model trained on several subjects (default: the
	// stream's subject).
	Subject string `yaml:"subject"`
	// Threads is the decoder's intra-op thread count where it has one (ONNX Runtime; default 1).
	Threads int `yaml:"threads"`
	// reference: RefChannels names the reference channels (their mean is subtracted); empty means
	// the common average. Exclude names channels neither averaged nor changed (bad, EOG).
	RefChannels []string `yaml:"ref_channels"`
	Exclude     []string `yaml:"exclude"`
	// features: a window of WindowSec seconds every StepSec seconds (step_sec above), and the
	// extractors computed on it, in order (see features.ExtractorConfig for their fields).
	WindowSec  float64                    `yaml:"window_sec"`
	Extractors []features.ExtractorConfig `yaml:"extractors"`
	// tokenizer: SideBits quantises each patch's mean and scale to this many bits each over the
	// codebook's learnt side ranges (1 to 8); 0 or absent sends them as float32.
	SideBits int `yaml:"side_bits"`
	// tokenizer: Sensors sends each channel's position and orientation from the stream info with
	// every tokens message (sensor_positions_m, sensor_orientations), for models that embed tokens
	// with where they were recorded.
	Sensors bool `yaml:"sensors"`
}

// DecoderLoader builds a decoder from its stage config (kind, model file and options); callers
// register loaders for the decoder kinds they support (native, ONNX) in a Loaders map. A decoder
// that holds resources implements io.Closer; the pipeline closes it when its stream's chain ends.
type DecoderLoader func(sc StageConfig) (decoders.WindowDecoder, error)

// Loaders maps decoder kinds to loaders.
type Loaders map[string]DecoderLoader

// DefaultLoaders knows the pure-Go decoders: alpha, and native (models written by neurostream
// train: CSP+LDA, FBCSP, MDM, tangent space + LR, xDAWN). ONNX needs a runtime library and is
// added by the command that owns it.
func DefaultLoaders() Loaders {
	return Loaders{
		"native": func(sc StageConfig) (decoders.WindowDecoder, error) { return model.Load(sc.Model) },
		"alpha": func(sc StageConfig) (decoders.WindowDecoder, error) {
			m, err := alpha.Load(sc.Model)
			if err != nil {
				return nil, err
			}
			return alpha.NewDecoder(m), nil
		},
	}
}

// LoadConfig reads and checks a YAML config. Unknown fields are errors, so typos do not pass silently.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	for i, p := range cfg.Pipelines {
		if p.Name == "" {
			return nil, fmt.Errorf("config %s: pipeline %d has no name", path, i)
		}
	}
	return &cfg, nil
}

// BuildSource makes a source from its config with the built-in devices.
func BuildSource(sc SourceConfig) (Source, error) {
	return BuildSourceWith(context.Background(), devices.Builtin(), sc)
}

// BuildSourceWith opens the device sc names in reg (synthetic when the kind is empty).
func BuildSourceWith(ctx context.Context, reg *devices.Registry, sc SourceConfig) (Source, error) {
	kind := sc.Kind
	if kind == "" {
		kind = "synthetic"
	}
	d, err := reg.Lookup(kind)
	if err != nil {
		return nil, fmt.Errorf("source: %w; recorded files are replayed with `neurostream replay`", err)
	}
	o := sc.Device
	o.StreamID, o.FrameSamples, o.Synthetic = sc.Synthetic.StreamID, sc.Synthetic.FrameSamples, sc.Synthetic
	src, err := d.Open(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", kind, err)
	}
	return src, nil
}

// TokenizerOpener opens a learnt tokenizer's codebook with its encoder (the command that owns the
// ONNX Runtime provides it; see package tokenizer/learnt).
type TokenizerOpener func(path string) (*tokenizer.Quantizer, error)

// BuildOption adds what some stages need beyond decoder loaders.
type BuildOption func(*buildOptions)

type buildOptions struct{ tokenizers TokenizerOpener }

// WithTokenizers lets tokenizer stages load learnt codebooks through open.
func WithTokenizers(open TokenizerOpener) BuildOption {
	return func(o *buildOptions) { o.tokenizers = open }
}

// BuildStages turns stage configs into per-stream factories, loading each model once up front so a
// missing or broken model fails at start, not on the first frame.
func BuildStages(stages []StageConfig, loaders Loaders, m *metrics.Metrics, opts ...BuildOption) ([]StageFactory, error) {
	var bo buildOptions
	for _, o := range opts {
		o(&bo)
	}
	var out []StageFactory
	var band [2]float64 // the last band-pass so far, which a tokenizer's codebook must have learnt on
	var banded bool
	for i, sc := range stages {
		name := fmt.Sprintf("%d-%s", i, sc.Kind)
		switch sc.Kind {
		case "bandpass":
			order, lo, hi := sc.Order, sc.LowHz, sc.HighHz
			if order == 0 {
				order = 4
			}
			if !(lo > 0 && hi > lo) {
				return nil, fmt.Errorf("stage %s: needs 0 < low_hz < high_hz (got %g, %g)", name, lo, hi)
			}
			band, banded = [2]float64{lo, hi}, true
			out = append(out, StageFactory{Name: name, New: func() (Stage, error) { return NewBandpass(order, lo, hi), nil }})
		case "notch":
			f, q := sc.FreqHz, sc.Q
			if f == 0 {
				f = 50
			}
			if q == 0 {
				q = 30
			}
			out = append(out, StageFactory{Name: name, New: func() (Stage, error) { return NewNotch(f, q), nil }})
		case "reference":
			refs, exclude := sc.RefChannels, sc.Exclude
			out = append(out, StageFactory{Name: name, New: func() (Stage, error) { return NewReferenceStage(refs, exclude), nil }})
		case "features":
			win, step, ex := sc.WindowSec, sc.StepSec, sc.Extractors
			if win == 0 {
				win = 2
			}
			if step == 0 {
				step = 0.5
			}
			if err := checkFeatureTiming(win, step); err != nil {
				return nil, fmt.Errorf("stage %s: %w", name, err)
			}
			if len(ex) == 0 {
				return nil, fmt.Errorf("stage %s: no extractors listed", name)
			}
			// Build once here so an unknown kind or a bad option fails at start, not on the first frame.
			if _, err := features.Build(ex); err != nil {
				return nil, fmt.Errorf("stage %s: %w", name, err)
			}
			out = append(out, StageFactory{Name: name, New: func() (Stage, error) { return NewFeatureStage(win, step, ex), nil }})
		case "decoder":
			load, ok := loaders[sc.Decoder]
			if !ok {
				known := make([]string, 0, len(loaders))
				for k := range loaders {
					known = append(known, k)
				}
				return nil, fmt.Errorf("stage %s: unknown decoder %q (known: %v)", name, sc.Decoder, known)
			}
			probe, err := load(sc)
			if err != nil {
				return nil, fmt.Errorf("stage %s: %w", name, err)
			}
			if err := closeDecoder(probe); err != nil {
				return nil, fmt.Errorf("stage %s: %w", name, err)
			}
			step := sc.StepSec
			if step == 0 {
				step = 0.5
			}
			out = append(out, StageFactory{Name: name, New: func() (Stage, error) {
				d, err := load(sc)
				if err != nil {
					return nil, err
				}
				return NewDecoderStage(d, step, m), nil
			}})
		case "tokenizer":
			model, err := LoadTokenModel(sc.Model)
			if err != nil {
				return nil, fmt.Errorf("stage %s: %w", name, err)
			}
			if err := checkTokenizerBand(model, band, banded); err != nil {
				return nil, fmt.Errorf("stage %s: %w", name, err)
			}
			if model.Joint != nil {
				if sc.SideBits != 0 {
					return nil, fmt.Errorf("stage %s: side_bits %d: a joint codec (%s) codes every channel's block whole, with no per-patch mean and scale: leave side_bits out", name, sc.SideBits, sc.Model)
				}
				out = append(out, StageFactory{Name: name, New: func() (Stage, error) { return NewJointTokenizerStage(model.Joint, sc.Sensors), nil }})
				continue
			}
			cb := model.Codebook
			if err := cb.CheckSide(sc.SideBits, cb.ChannelTypes); err != nil {
				return nil, fmt.Errorf("stage %s: %s: %w", name, sc.Model, err)
			}
			var q *tokenizer.Quantizer
			switch {
			case cb.Method != tokenizer.MethodLearntVQ:
				q, err = tokenizer.NewQuantizer(cb)
			case bo.tokenizers == nil:
				err = fmt.Errorf("codebook %s is a learnt tokenizer (ONNX encoder %s) and this program runs no ONNX Runtime for tokenizers", sc.Model, cb.Encoder)
			default:
				q, err = bo.tokenizers(sc.Model)
			}
			if err != nil {
				return nil, fmt.Errorf("stage %s: %w", name, err)
			}
			out = append(out, StageFactory{Name: name, New: func() (Stage, error) { return NewTokenizerStage(q, sc.SideBits, sc.Sensors), nil }})
		case "detokenize":
			return nil, fmt.Errorf("stage %s: a detokenize stage reads tokens, not frames: give it a pipeline of its own with input: tokens", name)
		default:
			return nil, fmt.Errorf("stage %s: unknown kind %q (known: bandpass, notch, reference, features, decoder, tokenizer, detokenize)", name, sc.Kind)
		}
	}
	return out, nil
}

func closeDecoder(d decoders.WindowDecoder) error {
	if c, ok := d.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
