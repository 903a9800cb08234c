package pipeline

import (
	"context"
	"fmt"
	"math"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/tokenizer"
)

// TokenEmitter is what a sink implements to carry tokens (KafkaSink publishes them on the tokens
// topic); a tokenizer stage refuses to run on a sink without it.
type TokenEmitter interface {
	EmitTokens(ctx context.Context, t *streams.Tokens) error
}

// TokenizerStage turns the stream into discrete tokens, one message per patch carrying every
// channel the codebook's contract selects, with a learnt codebook (package tokenizer), or one coded
// block of the montage's channels per message with a joint codec. Frames pass on unchanged.
type TokenizerStage struct {
	name  string
	start func(streams.StreamInfo) (streamTokenizer, error)
	tk    streamTokenizer
	emit  func(*streams.Tokens) error // bound once at Start: a closure per frame would allocate
	// With sensors, every message carries the geometry of its channels, found once per stream.
	sensors  bool
	info     streams.StreamInfo
	geometry *sensorGeometry
	// set for the duration of one Process call
	ctx context.Context
	out TokenEmitter
}

// streamTokenizer is one stream's tokenizer state (tokenizer.Tokenizer, tokenizer.JointTokenizer).
type streamTokenizer interface {
	Push(samples []float32, numSamples int, acquiredAtNs int64, emit func(*streams.Tokens) error) error
	AppendState(b []byte) []byte
	RestoreState(b []byte) ([]byte, error)
}

// NewTokenizerStage wraps a codebook's quantizer, which every stream's stage shares. With sideBits
// > 0 each patch's mean and scale go quantised to that many bits each (Tokenizer.SetSideBits),
// else as float32; with sensors each message carries its channels' positions and orientations.
func NewTokenizerStage(q *tokenizer.Quantizer, sideBits int, sensors bool) *TokenizerStage {
	return &TokenizerStage{name: q.Codebook().Name, sensors: sensors, start: func(in streams.StreamInfo) (streamTokenizer, error) {
		tk, err := q.NewTokenizer(in)
		if err != nil {
			return nil, err
		}
		return tk, tk.SetSideBits(sideBits)
	}}
}

// NewJointTokenizerStage codes every stream with a joint codec, which every stream's stage shares
// (each stream's tokenizer has scratch of its own); with sensors each block carries its channels'
// positions and orientations.
func NewJointTokenizerStage(c *tokenizer.JointCodec, sensors bool) *TokenizerStage {
	return &TokenizerStage{name: c.Name, sensors: sensors, start: func(in streams.StreamInfo) (streamTokenizer, error) { return c.NewTokenizer(in) }}
}

// sensorGeometry is x, y, z per channel of a tokens message, in its channel keys' order.
type sensorGeometry struct {
	positionsM, orientations []float32
}

// geometryOf finds each key's channel in the stream info and takes its position and orientation;
// a channel without one gets NaN x, y, z, and a field no channel has stays empty.
func geometryOf(info streams.StreamInfo, keys []string) *sensorGeometry {
	nan := float32(math.NaN())
	g := &sensorGeometry{positionsM: make([]float32, 0, 3*len(keys)), orientations: make([]float32, 0, 3*len(keys))}
	var anyPos, anyOri bool
	for _, k := range keys {
		var ch *streams.Channel
		for i := range info.Channels {
			if streams.ChannelKey(info.Channels[i]) == k {
				ch = &info.Channels[i]
				break
			}
		}
		pos, ori := [3]float32{nan, nan, nan}, [3]float32{nan, nan, nan}
		if ch != nil && ch.HasPosition {
			pos, anyPos = [3]float32{float32(ch.Position[0]), float32(ch.Position[1]), float32(ch.Position[2])}, true
		}
		if ch != nil && ch.HasOrientation {
			ori, anyOri = [3]float32{float32(ch.Orientation[0]), float32(ch.Orientation[1]), float32(ch.Orientation[2])}, true
		}
		g.positionsM, g.orientations = append(g.positionsM, pos[:]...), append(g.orientations, ori[:]...)
	}
	if !anyPos {
		g.positionsM = nil
	}
	if !anyOri {
		g.orientations = nil
	}
	return g
}

// Start checks the stream against the codebook's contract (rate, channel types) or the joint
// codec's montage.
func (s *TokenizerStage) Start(in streams.StreamInfo) (streams.StreamInfo, error) {
	tk, err := s.start(in)
	if err != nil {
		return in, err
	}
	s.tk, s.info, s.geometry = tk, in, nil
	s.emit = s.emitTokens
	return in, nil
}

// Process feeds the frame to the tokenizer, which emits the patches it completes.
func (s *TokenizerStage) Process(ctx context.Context, f *streams.Frame, out Emitter) error {
	te, ok := out.(TokenEmitter)
	if !ok {
		return fmt.Errorf("tokenizer %s: the pipeline's sink (%T) cannot publish tokens", s.name, out)
	}
	s.ctx, s.out = ctx, te
	err := s.tk.Push(f.Samples, f.NumSamples, f.AcquiredAtNs, s.emit)
	s.ctx, s.out = nil, nil
	return err
}

func (s *TokenizerStage) emitTokens(t *streams.Tokens) error {
	if s.sensors {
		if s.geometry == nil { // the channel keys are the stream's from its first message on
			s.geometry = geometryOf(s.info, t.ChannelKeys)
		}
		t.SensorPositionsM, t.SensorOrientations = s.geometry.positionsM, s.geometry.orientations
	}
	return s.out.EmitTokens(s.ctx, t)
}

// checkTokenizerBand refuses a tokenizer whose codebook (or joint codec) was learnt on a band other
// than the one the pipeline's last band-pass before it passes: its patches would not look like the
// codewords.
func checkTokenizerBand(m TokenModel, band [2]float64, seen bool) error {
	name, learnt := m.Name(), m.bandHz()
	if !seen || learnt == band {
		return nil
	}
	if learnt == [2]float64{} {
		return fmt.Errorf("codebook %s was learnt on signal without a band-pass, the pipeline band-passes %g-%g Hz before it: learn the codebook with that band", name, band[0], band[1])
	}
	return fmt.Errorf("codebook %s was learnt on %g-%g Hz band-passed signal, the pipeline band-passes %g-%g Hz before it: use {kind: bandpass, low_hz: %g, high_hz: %g} or learn a codebook with that band",
		name, learnt[0], learnt[1], band[0], band[1], learnt[0], learnt[1])
}
