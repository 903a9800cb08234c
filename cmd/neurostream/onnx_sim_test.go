package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/dsp/fourier"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/dsp"
	"github.com/neurostream/neurostream/streams"
)

// simForward is the generative model behind the speech-sim and visual-sim decoders, exported by
// tools/models/export_sim_forward.py from the random draws train_retrieval.py made (the script checks
// that they reproduce the committed test set). Matrices are row-major [sensor or output][input].
type simForward struct {
	Task         string   `json:"task"`
	Channels     []string `json:"channels"`
	SampleRateHz float64  `json:"sample_rate_hz"`
	SNR          float64  `json:"snr"`
	Window       int      `json:"window_samples"`
	Noise        struct {
		Sources   [][]float64 `json:"sources"` // [channel][source] 1/f background topographies
		Alpha     []float64   `json:"alpha"`   // occipital alpha topography
		AlphaGain float64     `json:"alpha_gain"`
		AlphaHz   [2]float64  `json:"alpha_hz"`
		WhiteSD   float64     `json:"white_sd"`
	} `json:"noise"`
	// speech
	NLatent    int                    `json:"n_latent"`
	TimeBins   int                    `json:"time_bins"`
	LatentBand [2]float64             `json:"latent_band_hz"`
	LatentPad  int                    `json:"latent_pad"`
	SubjectMix map[string][][]float64 `json:"subjects"` // [channel][latent]
	Readout    [][]float64            `json:"readout"`  // [embedding][latent*time_bins]
	// visual
	Centres      [][]float64 `json:"category_centres"`
	WithinSD     float64     `json:"within_category_sd"`
	EarlyPeaks   []float64   `json:"early_peaks_sec"`
	LatePeaks    []float64   `json:"late_peaks_sec"`
	KernelSD     float64     `json:"kernel_sd_sec"`
	EarlyWeights [][]float64 `json:"early_weights"` // [source][embedding]
	LateWeights  [][]float64 `json:"late_weights"`
	Topographies [][]float64 `json:"topographies"` // [channel][source]
}

func readSimForward(path string) (*simForward, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f simForward
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &f, nil
}

// simulator draws recordings from a simForward the way tools/models/simulate.py and
// train_retrieval.py do, with Go's random numbers: same model, fresh samples.
type simulator struct {
	f   *simForward
	rng *rand.Rand
}

// pink returns one series of 1/f noise with unit variance (simulate.pink).
func (s *simulator) pink(n int) []float64 {
	coeff := make([]complex128, n/2+1)
	for k := range coeff {
		f := math.Max(float64(k), 1)
		coeff[k] = complex(s.rng.NormFloat64(), s.rng.NormFloat64()) / complex(math.Sqrt(f), 0)
	}
	// numpy's irfft ignores the imaginary parts of the DC and Nyquist bins.
	coeff[0] = complex(real(coeff[0]), 0)
	if n%2 == 0 {
		coeff[n/2] = complex(real(coeff[n/2]), 0)
	}
	x := fourier.NewFFT(n).Sequence(nil, coeff)
	return unitSD(x)
}

func unitSD(x []float64) []float64 {
	var m, ss float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	sd := math.Sqrt(ss / float64(len(x)))
	for i := range x {
		x[i] /= sd
	}
	return x
}

// noise adds simulate.Noise.sample to x [channel][n]: 1/f sources, an alpha burst train, white noise.
func (s *simulator) noise(x [][]float64) {
	nz := s.f.Noise
	n := len(x[0])
	for j := range nz.Sources[0] {
		p := s.pink(n)
		for c := range x {
			w := nz.Sources[c][j]
			for i, v := range p {
				x[c][i] += w * v
			}
		}
	}
	env := s.pink(n)
	hz := nz.AlphaHz[0] + (nz.AlphaHz[1]-nz.AlphaHz[0])*s.rng.Float64()
	phase := 2 * math.Pi * s.rng.Float64()
	for i := range n {
		a := nz.AlphaGain * math.Max(env[i], 0) * math.Sin(2*math.Pi*hz*float64(i)/s.f.SampleRateHz+phase)
		for c := range x {
			x[c][i] += nz.Alpha[c] * a
		}
	}
	for c := range x {
		for i := range x[c] {
			x[c][i] += nz.WhiteSD * s.rng.NormFloat64()
		}
	}
}

// speechSegment returns one window for subject and the embedding of its latent (simulate_speech).
func (s *simulator) speechSegment(subject string) ([][]float64, []float32, error) {
	f := s.f
	n, pad := f.Window, f.LatentPad
	sos, err := dsp.Butter(2, f.LatentBand[:], dsp.Bandpass, f.SampleRateHz)
	if err != nil {
		return nil, nil, err
	}
	z := make([][]float64, f.NLatent)
	for l := range z {
		w := make([]float64, n+2*pad)
		for i := range w {
			w[i] = s.rng.NormFloat64()
		}
		y, err := dsp.SOSFiltFilt(sos, w)
		if err != nil {
			return nil, nil, err
		}
		z[l] = unitSD(y[pad : pad+n])
	}
	per := n / f.TimeBins
	binned := make([]float64, 0, f.NLatent*f.TimeBins)
	for l := range z {
		for b := range f.TimeBins {
			var m float64
			for _, v := range z[l][b*per : (b+1)*per] {
				m += v
			}
			binned = append(binned, m/float64(per))
		}
	}
	emb := make([]float32, len(f.Readout))
	for e, row := range f.Readout {
		var v float64
		for k, w := range row {
			v += w * binned[k]
		}
		emb[e] = float32(v)
	}
	mix, ok := f.SubjectMix[subject]
	if !ok {
		return nil, nil, fmt.Errorf("no subject %q in the speech simulation", subject)
	}
	x := make([][]float64, len(f.Channels))
	for c := range x {
		x[c] = make([]float64, n)
		for l, w := range mix[c] {
			for i := range n {
				x[c][i] += f.SNR * w * z[l][i]
			}
		}
	}
	s.noise(x)
	return x, emb, nil
}

// image draws an image embedding (a category centre plus within-category spread, unit norm) and the
// window that follows its onset (simulate_visual).
func (s *simulator) image() ([][]float64, []float32) {
	f := s.f
	centre := f.Centres[s.rng.IntN(len(f.Centres))]
	e := make([]float64, len(centre))
	var norm float64
	for i, c := range centre {
		e[i] = c + f.WithinSD*s.rng.NormFloat64()
		norm += e[i] * e[i]
	}
	emb := make([]float32, len(e))
	for i := range e {
		e[i] /= math.Sqrt(norm)
		emb[i] = float32(e[i])
	}
	n := f.Window
	src := make([][]float64, len(f.EarlyPeaks)) // source time courses
	for j := range src {
		var a, b float64
		for k, v := range e {
			a += f.EarlyWeights[j][k] * v
			b += f.LateWeights[j][k] * v
		}
		src[j] = make([]float64, n)
		for i := range n {
			t := float64(i) / f.SampleRateHz
			ke := math.Exp(-(t - f.EarlyPeaks[j]) * (t - f.EarlyPeaks[j]) / (2 * f.KernelSD * f.KernelSD))
			kl := math.Exp(-(t - f.LatePeaks[j]) * (t - f.LatePeaks[j]) / (2 * f.KernelSD * f.KernelSD))
			src[j][i] = a*ke + b*kl
		}
	}
	x := make([][]float64, len(f.Channels))
	for c := range x {
		x[c] = make([]float64, n)
		for j, w := range f.Topographies[c] {
			for i := range n {
				x[c][i] += f.SNR * w * src[j][i]
			}
		}
	}
	s.noise(x)
	return x, emb
}

// simRecording is a simulated recording: trials back to back, one window each, with the embedding
// (the known latent) of each trial.
type simRecording struct {
	rec   *acquisition.Recording
	ids   []string
	embs  [][]float32
	width int // samples per trial
}

// simulateRecording draws nTrials speech segments (for subject) or image presentations and lays them
// end to end as one stream. Samples are rounded to float32 here, as frames carry them, so an offline
// decode sees exactly what the online one does.
func simulateRecording(f *simForward, seed uint64, streamID, subject string, nTrials int) (*simRecording, error) {
	s := &simulator{f: f, rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	n := f.Window
	rec := &acquisition.Recording{
		Info: streams.StreamInfo{StreamID: streamID, SampleRateHz: f.SampleRateHz, Subject: subject},
		Data: make([][]float64, len(f.Channels)),
	}
	for _, name := range f.Channels {
		rec.Info.Channels = append(rec.Info.Channels, streams.Channel{Name: name, Type: streams.ChannelEEG, Unit: "a.u."})
	}
	for c := range rec.Data {
		rec.Data[c] = make([]float64, 0, nTrials*n)
	}
	out := &simRecording{rec: rec, width: n}
	for k := range nTrials {
		var x [][]float64
		var emb []float32
		var err error
		if f.Task == "speech" {
			if x, emb, err = s.speechSegment(subject); err != nil {
				return nil, err
			}
		} else {
			x, emb = s.image()
		}
		for c := range x {
			for _, v := range x[c] {
				rec.Data[c] = append(rec.Data[c], float64(float32(v)))
			}
		}
		id := fmt.Sprintf("%s-%s-%03d", f.Task, streamID, k)
		rec.Annotations = append(rec.Annotations, acquisition.Annotation{
			OnsetSec: float64(k*n) / f.SampleRateHz, OnsetSample: int64(k * n), Description: id})
		out.ids = append(out.ids, id)
		out.embs = append(out.embs, emb)
	}
	return out, nil
}

// writeBank writes candidates as a neurostream-embedding-bank/1 file (package retrieval's format).
func writeBank(path string, ids []string, embs [][]float32) error {
	type item struct {
		ID        string    `json:"id"`
		Embedding []float32 `json:"embedding"`
	}
	bank := struct {
		Format string `json:"format"`
		Dim    int    `json:"dim"`
		Items  []item `json:"items"`
	}{Format: "neurostream-embedding-bank/1", Dim: len(embs[0])}
	for i := range ids {
		bank.Items = append(bank.Items, item{ids[i], embs[i]})
	}
	b, err := json.Marshal(bank)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Clean(path), b, 0o644)
}
