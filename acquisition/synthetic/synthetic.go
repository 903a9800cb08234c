// Package synthetic is a realistic simulated EEG headset: a deterministic (seeded) source of frames
// with a 1/f background, posterior alpha that follows an eyes-open/eyes-closed schedule, mains
// interference and blink artefacts, with markers at every state change. It feeds the demo, the tests
// and the benchmarks through the same pipeline.Source interface as real devices and file replay.
package synthetic

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/streams"
)

// AlphaMode says when posterior alpha is strong (eyes closed).
type AlphaMode string

const (
	AlphaAlternate AlphaMode = "alternate" // eyes closed and open in blocks of BlockSec, starting closed
	AlphaOn        AlphaMode = "on"        // eyes closed throughout
	AlphaOff       AlphaMode = "off"       // eyes open throughout
)

// Marker codes the source emits.
const (
	CodeEyesOpen   = 1
	CodeEyesClosed = 2
	CodeBlink      = 3
)

// Config describes the simulated recording. Zero values take the defaults in brackets.
type Config struct {
	StreamID     string    `yaml:"stream_id"`      // [synthetic-1]
	Channels     int       `yaml:"channels"`       // montage size: 8, 16, 32 or 64 [32]
	SampleRateHz float64   `yaml:"sample_rate_hz"` // [250]
	FrameSamples int       `yaml:"frame_samples"`  // samples per frame [8]
	Seed         uint64    `yaml:"seed"`           // [1]
	Alpha        AlphaMode `yaml:"alpha"`          // [alternate]
	BlockSec     float64   `yaml:"block_sec"`      // eyes-open/closed block length [10]
	AlphaHz      float64   `yaml:"alpha_hz"`       // [10]
	AlphaUV      float64   `yaml:"alpha_uv"`       // alpha amplitude at O1/O2 with eyes closed, µV [20]
	BackgroundUV float64   `yaml:"background_uv"`  // 1/f background RMS per channel, µV [10]
	LineHz       float64   `yaml:"line_hz"`        // mains frequency, 0 for none [50]
	LineUV       float64   `yaml:"line_uv"`        // [3]
	BlinksPerMin float64   `yaml:"blinks_per_min"` // with eyes open [12]
	DurationSec  float64   `yaml:"duration_sec"`   // 0: endless
	// Realtime paces frames to the wall clock, as a headset would deliver them; otherwise frames come
	// as fast as they are asked for.
	Realtime bool `yaml:"realtime"`
}

func (c *Config) defaults() {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	if c.StreamID == "" {
		c.StreamID = "synthetic-1"
	}
	if c.Channels == 0 {
		c.Channels = 32
	}
	if c.FrameSamples == 0 {
		c.FrameSamples = 8
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Alpha == "" {
		c.Alpha = AlphaAlternate
	}
	def(&c.SampleRateHz, 250)
	def(&c.BlockSec, 10)
	def(&c.AlphaHz, 10)
	def(&c.AlphaUV, 20)
	def(&c.BackgroundUV, 10)
	def(&c.LineHz, 50)
	def(&c.LineUV, 3)
	def(&c.BlinksPerMin, 12)
}

// Source generates the stream. Not safe for concurrent use.
type Source struct {
	cfg  Config
	info streams.StreamInfo
	rng  *rand.Rand

	alphaGain, blinkGain []float64    // per channel, from distance to Oz / Fpz
	pink                 [][7]float64 // per-channel pink-noise filter state (Kellet's filter)
	shared               [4][7]float64
	sharedGain           [][4]float64 // spatially smooth mixing of the shared sources

	sample     int64 // index of the next sample
	alphaPhase float64
	alphaAmp   float64 // slowly varying envelope
	closed     bool
	blinkLeft  int // samples left in the current blink
	blinkLen   int
	pacer      acquisition.Pacer
}

// New validates cfg and builds a source.
func New(cfg Config) (*Source, error) {
	cfg.defaults()
	if cfg.SampleRateHz < 32 || cfg.SampleRateHz > 100000 || math.IsNaN(cfg.SampleRateHz) {
		return nil, fmt.Errorf("synthetic: sampling rate %g Hz out of range [32, 100000]", cfg.SampleRateHz)
	}
	if cfg.FrameSamples < 1 || cfg.FrameSamples > 1<<16 {
		return nil, fmt.Errorf("synthetic: frame size %d samples out of range [1, 65536]", cfg.FrameSamples)
	}
	if cfg.LineHz*2 >= cfg.SampleRateHz {
		return nil, fmt.Errorf("synthetic: line frequency %g Hz is at or above Nyquist (%g Hz); set line_hz 0 or raise the rate", cfg.LineHz, cfg.SampleRateHz/2)
	}
	switch cfg.Alpha {
	case AlphaAlternate, AlphaOn, AlphaOff:
	default:
		return nil, fmt.Errorf("synthetic: alpha %q: want alternate, on or off", cfg.Alpha)
	}
	names, err := Montage(cfg.Channels)
	if err != nil {
		return nil, fmt.Errorf("synthetic: %w", err)
	}
	s := &Source{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6e657572)), pink: make([][7]float64, len(names)),
		alphaGain: make([]float64, len(names)), blinkGain: make([]float64, len(names)), sharedGain: make([][4]float64, len(names))}
	s.info = streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: cfg.StreamID, Device: "neurostream-synthetic",
		SampleRateHz: cfg.SampleRateHz}
	oz, _ := Position("Oz")
	fpz, _ := Position("Fpz")
	anchors := [4]string{"F3", "F4", "P3", "P4"}
	for i, n := range names {
		pos, err := Position(n)
		if err != nil {
			return nil, err
		}
		s.info.Channels = append(s.info.Channels, streams.Channel{Name: n, Type: streams.ChannelEEG, Unit: "V", Position: pos, HasPosition: true})
		s.alphaGain[i] = math.Exp(-dist(pos, oz) / 0.045)
		s.blinkGain[i] = math.Exp(-dist(pos, fpz) / 0.035)
		for k, a := range anchors {
			ap, _ := Position(a)
			s.sharedGain[i][k] = math.Exp(-dist(pos, ap) / 0.08)
		}
	}
	s.pacer.Speed = 1
	s.closed = cfg.Alpha != AlphaOff
	s.alphaAmp = 1
	return s, nil
}

func dist(a, b [3]float64) float64 { return math.Sqrt(sq(a[0]-b[0]) + sq(a[1]-b[1]) + sq(a[2]-b[2])) }
func sq(x float64) float64         { return x * x }

// Info describes the stream.
func (s *Source) Info() streams.StreamInfo { return s.info }

// EyesClosedAt reports whether the schedule has the eyes closed at sample index n: the ground truth
// for testing decoders on this source.
func (s *Source) EyesClosedAt(n int64) bool {
	switch s.cfg.Alpha {
	case AlphaOn:
		return true
	case AlphaOff:
		return false
	}
	block := int64(s.cfg.BlockSec * s.cfg.SampleRateHz)
	return (n/block)%2 == 0
}

// pinkStep is Paul Kellet's refined pink-noise filter: white noise in, ~1/f power out (within
// 0.05 dB above 9 Hz at 44.1 kHz; the shape, not the exact slope, is what matters here).
func pinkStep(b *[7]float64, white float64) float64 {
	b[0] = 0.99886*b[0] + white*0.0555179
	b[1] = 0.99332*b[1] + white*0.0750759
	b[2] = 0.96900*b[2] + white*0.1538520
	b[3] = 0.86650*b[3] + white*0.3104856
	b[4] = 0.55000*b[4] + white*0.5329522
	b[5] = -0.7616*b[5] - white*0.0168980
	out := b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + white*0.5362
	b[6] = white * 0.115926
	return out * 0.11 // unit-ish variance
}

// Next fills f with the next frame. It does not allocate once f's buffers are large enough.
func (s *Source) Next(ctx context.Context, f *streams.Frame) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg := &s.cfg
	n := cfg.FrameSamples
	if cfg.DurationSec > 0 {
		total := int64(cfg.DurationSec * cfg.SampleRateHz)
		if s.sample >= total {
			return io.EOF
		}
		if rem := total - s.sample; rem < int64(n) {
			n = int(rem)
		}
	}
	if cfg.Realtime {
		if err := s.pacer.Wait(ctx, float64(s.sample+int64(n))/cfg.SampleRateHz); err != nil {
			return err
		}
	}
	nch := len(s.info.Channels)
	f.Reset()
	f.StreamID = s.info.StreamID
	f.Seq = uint64(s.sample / int64(cfg.FrameSamples))
	f.SourceTimeNs = int64(float64(s.sample) / cfg.SampleRateHz * 1e9)
	f.NumSamples, f.NumChannels = n, nch
	if cap(f.Samples) < n*nch {
		f.Samples = make([]float32, n*nch)
	}
	f.Samples = f.Samples[:n*nch]

	const uV = 1e-6
	dt := 1 / cfg.SampleRateHz
	blinkProb := cfg.BlinksPerMin / 60 * dt
	for t := 0; t < n; t++ {
		idx := s.sample + int64(t)
		if closed := s.EyesClosedAt(idx); closed != s.closed || idx == 0 {
			s.closed = closed
			code, label := int32(CodeEyesOpen), "eyes_open"
			if closed {
				code, label = CodeEyesClosed, "eyes_closed"
			}
			f.Markers = append(f.Markers, streams.Marker{SampleOffset: int32(t), Code: code, Label: label})
		}
		if !s.closed && s.blinkLeft == 0 && s.rng.Float64() < blinkProb {
			s.blinkLen = int(0.3 * cfg.SampleRateHz)
			s.blinkLeft = s.blinkLen
			f.Markers = append(f.Markers, streams.Marker{SampleOffset: int32(t), Code: CodeBlink, Label: "blink"})
		}
		blink := 0.0
		if s.blinkLeft > 0 {
			ph := float64(s.blinkLen-s.blinkLeft) / float64(s.blinkLen)
			blink = 120 * uV * 0.5 * (1 - math.Cos(2*math.Pi*ph))
			s.blinkLeft--
		}
		// Alpha: a 10 Hz rhythm whose frequency wanders slightly and whose envelope waxes and wanes.
		s.alphaPhase += 2 * math.Pi * (cfg.AlphaHz + 0.3*s.rng.NormFloat64()) * dt
		s.alphaAmp += (1-s.alphaAmp)*2*dt + 0.15*math.Sqrt(dt)*s.rng.NormFloat64()
		amp := cfg.AlphaUV * uV * math.Max(s.alphaAmp, 0)
		if !s.closed {
			amp *= 0.2
		}
		alpha := amp * math.Sin(s.alphaPhase)
		line := cfg.LineUV * uV * math.Sin(2*math.Pi*cfg.LineHz*float64(idx)*dt)
		var shared [4]float64
		for k := range shared {
			shared[k] = pinkStep(&s.shared[k], s.rng.NormFloat64())
		}
		row := f.Samples[t*nch : (t+1)*nch]
		for c := range row {
			bg := 0.6 * pinkStep(&s.pink[c], s.rng.NormFloat64())
			for k, g := range s.sharedGain[c] {
				bg += 0.5 * g * shared[k]
			}
			v := cfg.BackgroundUV*uV*bg + s.alphaGain[c]*alpha + line + s.blinkGain[c]*blink
			row[c] = float32(v)
		}
	}
	s.sample += int64(n)
	return nil
}
