package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/neurostream/neurostream/tokenizer/entropy"
)

// JointCodec codes every channel of one montage together, where the patch tokenizers code each
// channel on its own: a spatial transform (principal components of the channels, learnt on training
// recordings) and a temporal one (orthonormal DCT-II over blocks), every coefficient quantised with
// one uniform step, and each block of all channels rANS-coded (package entropy) under the level
// frequencies the training recordings showed for that (component, coefficient). Channels of one
// head share most of their signal (volume conduction), so this spends a fraction of the bits that
// channel-by-channel tokens need for the same reconstruction; in exchange it is tied to the montage
// it was learnt on, and its symbols stand for components, not sensors.
//
// Data flow: band-passed training recordings (Prepare) -> TrainJoint -> a codec file (Save, LoadJoint);
// a block of every channel -> EncodeBlock -> bytes -> DecodeBlock -> the reconstructed block.
// A JointCodec is not safe for concurrent use (it keeps its scratch buffers).
type JointCodec struct {
	Format       string     `json:"format"` // jointFormat
	Name         string     `json:"name"`
	SampleRateHz float64    `json:"sample_rate_hz"`
	BandHz       [2]float64 `json:"band_hz"`
	BlockSamples int        `json:"block_samples"`
	// Channels is the montage, "type:name" keys (streams.ChannelKey) in the order blocks hold them.
	Channels []string `json:"channels"`
	// Components are unit vectors over the channels, strongest (most variance) first.
	Components [][]float64 `json:"components"`
	// Scale is the training signal's standard deviation in the channels' unit; Step is the
	// quantiser's step in units of Scale.
	Scale float64 `json:"scale"`
	Step  float64 `json:"step"`
	// Levels holds, per (component, coefficient) context in that order, the quantised levels the
	// training recordings produced and how often: the entropy coder's tables.
	Levels []LevelCounts `json:"levels"`

	tables  []*entropy.Table
	version uint32      // Fingerprint
	dct     [][]float64 // BlockSamples x BlockSamples orthonormal DCT-II rows
	syms    []int
	coef    []float64
	y       []float64
	words   []uint32
}

// LevelCounts is one context's level histogram: Count[i] blocks had level Level[i].
type LevelCounts struct {
	Level []int     `json:"l"`
	Count []float64 `json:"n"`
}

const jointFormat = "neurostream-joint-codec/1"

// JointMaxLevel bounds the quantised levels; larger ones are clipped (the clipping shows in the
// reconstruction).
const JointMaxLevel = 512

// TrainJoint learns a codec from band-passed recordings of one montage (each channel-major, as
// Prepare returns them), keyed by channels: the channel covariance's eigenvectors, the signal scale,
// and the level histograms at step (in signal standard deviations).
func TrainJoint(name string, train [][][]float64, channels []string, rateHz float64, bandHz [2]float64, blockSamples int, step float64) (*JointCodec, error) {
	switch {
	case len(train) == 0:
		return nil, errors.New("joint codec: no training recordings")
	case blockSamples < 2:
		return nil, fmt.Errorf("joint codec: blocks of %d samples: want at least 2", blockSamples)
	case !(step > 0) || math.IsInf(step, 0):
		return nil, fmt.Errorf("joint codec: step %g: want a positive number of standard deviations", step)
	case len(channels) == 0:
		return nil, errors.New("joint codec: no channels")
	}
	nch := len(channels)
	cov := mat.NewSymDense(nch, nil)
	var sum2 float64
	var count int
	for r, rec := range train {
		if len(rec) != nch {
			return nil, fmt.Errorf("joint codec: training recording %d has %d channels, the montage %d", r, len(rec), nch)
		}
		m := len(rec[0])
		for i := range nch {
			if len(rec[i]) != m {
				return nil, fmt.Errorf("joint codec: training recording %d: channel %s has %d samples, the first %d", r, channels[i], len(rec[i]), m)
			}
			for j := i; j < nch; j++ {
				s := 0.0
				for t := range m {
					s += rec[i][t] * rec[j][t]
				}
				cov.SetSym(i, j, cov.At(i, j)+s)
			}
			for _, v := range rec[i] {
				sum2 += v * v
			}
		}
		count += m * nch
	}
	if count == 0 || !(sum2 > 0) || math.IsInf(sum2, 0) || math.IsNaN(sum2) {
		return nil, errors.New("joint codec: the training recordings are empty, flat or not finite")
	}
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		return nil, errors.New("joint codec: the channel covariance did not factorise")
	}
	var vec mat.Dense
	eig.VectorsTo(&vec)
	c := &JointCodec{Format: jointFormat, Name: name, SampleRateHz: rateHz, BandHz: bandHz, BlockSamples: blockSamples,
		Channels: slices.Clone(channels), Scale: math.Sqrt(sum2 / float64(count)), Step: step}
	for k := range nch { // EigenSym sorts ascending
		comp := make([]float64, nch)
		for ch := range nch {
			comp[ch] = vec.At(ch, nch-1-k)
		}
		c.Components = append(c.Components, comp)
	}
	c.prepare()
	if err := c.learnLevels(train); err != nil {
		return nil, err
	}
	return c, nil
}

// WithStep returns a copy of the codec quantising with another step, its level histograms learnt
// again from the same training recordings (the transform stays).
func (c *JointCodec) WithStep(train [][][]float64, step float64) (*JointCodec, error) {
	if !(step > 0) || math.IsInf(step, 0) {
		return nil, fmt.Errorf("joint codec: step %g: want a positive number of standard deviations", step)
	}
	d := &JointCodec{Format: c.Format, Name: c.Name, SampleRateHz: c.SampleRateHz, BandHz: c.BandHz, BlockSamples: c.BlockSamples,
		Channels: c.Channels, Components: c.Components, Scale: c.Scale, Step: step}
	d.prepare()
	if err := d.learnLevels(train); err != nil {
		return nil, err
	}
	return d, nil
}

func (c *JointCodec) learnLevels(train [][][]float64) error {
	nch, n := len(c.Channels), c.BlockSamples
	counts := make([]map[int]float64, nch*n)
	for i := range counts {
		counts[i] = map[int]float64{}
	}
	block := make([][]float64, nch)
	for _, rec := range train {
		if len(rec) != nch {
			return fmt.Errorf("joint codec: a training recording of %d channels, the montage has %d", len(rec), nch)
		}
		for b := 0; b+n <= len(rec[0]); b += n {
			for ch := range block {
				block[ch] = rec[ch][b : b+n]
			}
			c.transform(block, c.coef)
			for i, v := range c.coef {
				counts[i][c.level(v)]++
			}
		}
	}
	c.Levels = make([]LevelCounts, len(counts))
	for i, m := range counts {
		for _, l := range slices.Sorted(maps.Keys(m)) {
			c.Levels[i].Level = append(c.Levels[i].Level, l)
			c.Levels[i].Count = append(c.Levels[i].Count, m[l])
		}
	}
	return c.buildTables()
}

// LoadJoint reads a codec file written by Save and checks it.
func LoadJoint(path string) (*JointCodec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("joint codec: %w", err)
	}
	var c JointCodec
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("joint codec %s: %w", path, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("joint codec %s: %w", path, err)
	}
	c.prepare()
	if err := c.buildTables(); err != nil {
		return nil, fmt.Errorf("joint codec %s: %w", path, err)
	}
	return &c, nil
}

// Save writes the codec as JSON.
func (c *JointCodec) Save(path string) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func (c *JointCodec) validate() error {
	nch := len(c.Channels)
	switch {
	case c.Format != jointFormat:
		return fmt.Errorf("format %q, want %q", c.Format, jointFormat)
	case !(c.SampleRateHz > 0) || c.BlockSamples < 2 || nch == 0:
		return fmt.Errorf("rate %g Hz, blocks of %d samples, %d channels", c.SampleRateHz, c.BlockSamples, nch)
	case !(c.Scale > 0) || !(c.Step > 0) || math.IsInf(c.Scale, 0) || math.IsInf(c.Step, 0):
		return fmt.Errorf("scale %g, step %g: want positive and finite", c.Scale, c.Step)
	case len(c.Components) != nch:
		return fmt.Errorf("%d components for %d channels", len(c.Components), nch)
	case len(c.Levels) != nch*c.BlockSamples:
		return fmt.Errorf("%d level histograms, want %d (components x block samples)", len(c.Levels), nch*c.BlockSamples)
	}
	for k, comp := range c.Components {
		if len(comp) != nch {
			return fmt.Errorf("component %d has %d weights for %d channels", k, len(comp), nch)
		}
		for _, w := range comp {
			if math.IsNaN(w) || math.IsInf(w, 0) {
				return fmt.Errorf("component %d has a weight that is not finite", k)
			}
		}
	}
	for i, lc := range c.Levels {
		if len(lc.Level) != len(lc.Count) {
			return fmt.Errorf("level histogram %d: %d levels, %d counts", i, len(lc.Level), len(lc.Count))
		}
		for j, l := range lc.Level {
			if l < -JointMaxLevel || l > JointMaxLevel || lc.Count[j] < 0 || math.IsNaN(lc.Count[j]) || math.IsInf(lc.Count[j], 0) {
				return fmt.Errorf("level histogram %d: level %d counted %g", i, l, lc.Count[j])
			}
		}
	}
	return nil
}

func (c *JointCodec) prepare() {
	n := c.BlockSamples
	c.dct = make([][]float64, n)
	for k := range n {
		c.dct[k] = make([]float64, n)
		w := math.Sqrt(2 / float64(n))
		if k == 0 {
			w = math.Sqrt(1 / float64(n))
		}
		for i := range n {
			c.dct[k][i] = w * math.Cos(math.Pi*(float64(i)+0.5)*float64(k)/float64(n))
		}
	}
	c.syms, c.coef = make([]int, len(c.Channels)*n), make([]float64, len(c.Channels)*n)
	c.y = make([]float64, n)
}

// buildTables makes each context's entropy table from its histogram, with one pseudo-count spread
// over all levels: a level training never saw still codes (at about log2(levels x blocks) bits)
// without taxing the levels it did see.
func (c *JointCodec) buildTables() error {
	levels := 2*JointMaxLevel + 1
	row := make([]float64, levels)
	c.tables = make([]*entropy.Table, len(c.Levels))
	for i, lc := range c.Levels {
		for l := range row {
			row[l] = 1 / float64(levels)
		}
		for j, l := range lc.Level {
			row[l+JointMaxLevel] += lc.Count[j]
		}
		var err error
		if c.tables[i], err = entropy.NewTable(row); err != nil {
			return err
		}
	}
	c.version = c.fingerprint()
	return nil
}

func (c *JointCodec) level(v float64) int {
	return max(-JointMaxLevel, min(JointMaxLevel, int(math.Round(v/c.Step))))
}

// transform writes the block's coefficients (component-major, BlockSamples each) in units of Scale.
func (c *JointCodec) transform(block [][]float64, coef []float64) {
	n := c.BlockSamples
	for k, comp := range c.Components {
		clear(c.y)
		for ch, w := range comp { // channel rows are contiguous: accumulate row by row
			for i, v := range block[ch][:n] {
				c.y[i] += w * v
			}
		}
		for i := range c.y {
			c.y[i] /= c.Scale
		}
		for f, row := range c.dct {
			s := 0.0
			for i, v := range c.y {
				s += row[i] * v
			}
			coef[k*n+f] = s
		}
	}
}

// Bits is what coding a level costs in context i (component*BlockSamples + coefficient).
func (c *JointCodec) Bits(i, level int) float64 { return c.tables[i].Bits(level + JointMaxLevel) }

// EncodeBlock appends to dst the coded block: block[ch] holds BlockSamples samples of the montage's
// channel ch, in the channels' unit. levels, when not nil, receives the quantised levels.
func (c *JointCodec) EncodeBlock(dst []byte, block [][]float64, levels []int) ([]byte, error) {
	if err := c.checkBlock(block); err != nil {
		return dst, err
	}
	c.transform(block, c.coef)
	for i, v := range c.coef {
		if math.IsNaN(v) {
			return dst, fmt.Errorf("joint codec %s: a sample of the block is not a number", c.Name)
		}
		c.syms[i] = c.level(v) + JointMaxLevel
	}
	if levels != nil {
		for i, s := range c.syms {
			levels[i] = s - JointMaxLevel
		}
	}
	var err error
	dst, c.words, err = entropy.Encode(dst, c.syms, c.table, c.words)
	return dst, err
}

func (c *JointCodec) table(i int) *entropy.Table { return c.tables[i] }

// RoundTrip codes a recording (rec[ch] the montage's channel ch, in the channels' unit) as a
// stream's tokenizer does, one message per whole block, and decodes every message. It returns the
// reconstruction of the whole blocks (a tail shorter than a block is left out), the coded bytes,
// and the bits the quantised levels cost under the codec's tables (what the bytes approach).
func (c *JointCodec) RoundTrip(rec [][]float64) (recon [][]float64, bytes int, entropyBits float64, err error) {
	n, nch := c.BlockSamples, len(c.Channels)
	if len(rec) != nch {
		return nil, 0, 0, fmt.Errorf("joint codec %s: %d channels, the montage has %d", c.Name, len(rec), nch)
	}
	m := len(rec[0]) / n * n
	recon = make([][]float64, nch)
	for ch := range recon {
		recon[ch] = make([]float64, m)
	}
	block, out := make([][]float64, nch), make([][]float64, nch)
	levels := make([]int, nch*n)
	var msg []byte
	for b := 0; b < m; b += n {
		for ch := range block {
			if len(rec[ch]) < b+n {
				return nil, 0, 0, fmt.Errorf("joint codec %s: channel %d has %d samples, channel 0 %d", c.Name, ch, len(rec[ch]), len(rec[0]))
			}
			block[ch], out[ch] = rec[ch][b:b+n], recon[ch][b:b+n]
		}
		if msg, err = c.EncodeBlock(msg[:0], block, levels); err != nil {
			return nil, 0, 0, err
		}
		bytes += len(msg)
		for i, l := range levels {
			entropyBits += c.Bits(i, l)
		}
		if err := c.DecodeBlock(msg, out); err != nil {
			return nil, 0, 0, err
		}
	}
	return recon, bytes, entropyBits, nil
}

// DecodeBlock decodes a block coded by EncodeBlock into out (out[ch] of BlockSamples samples).
func (c *JointCodec) DecodeBlock(src []byte, out [][]float64) error {
	if err := c.checkBlock(out); err != nil {
		return err
	}
	if _, err := entropy.Decode(src, c.syms, c.table); err != nil {
		return fmt.Errorf("joint codec %s: %w", c.Name, err)
	}
	for ch := range out {
		clear(out[ch])
	}
	n := c.BlockSamples
	for k, comp := range c.Components {
		// Inverse DCT, the transpose of the orthonormal rows, over the nonzero levels only: at the
		// steps that matter most are zero, and a component with none adds nothing.
		clear(c.y)
		nonzero := false
		for f, row := range c.dct {
			l := c.syms[k*n+f] - JointMaxLevel
			if l == 0 {
				continue
			}
			nonzero = true
			a := float64(l) * c.Step * c.Scale
			for i, v := range row {
				c.y[i] += a * v
			}
		}
		if !nonzero {
			continue
		}
		for ch, w := range comp {
			for i, v := range c.y {
				out[ch][i] += w * v
			}
		}
	}
	return nil
}

func (c *JointCodec) checkBlock(block [][]float64) error {
	if len(block) != len(c.Channels) {
		return fmt.Errorf("joint codec %s: a block of %d channels, the montage has %d", c.Name, len(block), len(c.Channels))
	}
	for ch, x := range block {
		if len(x) != c.BlockSamples {
			return fmt.Errorf("joint codec %s: channel %s has %d samples, a block %d", c.Name, c.Channels[ch], len(x), c.BlockSamples)
		}
	}
	return nil
}
