package view

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"sync"
	"time"

	"gonum.org/v1/gonum/dsp/fourier"

	"github.com/neurostream/neurostream/streams"
)

// hub is one stream on one frame topic: its counters, and for as long as someone watches it, the last
// seconds of its signal, its markers, its spectra and its viewers.
type hub struct {
	key        string
	historySec float64

	mu         sync.Mutex
	info       *streams.StreamInfo
	frames     uint64
	gaps, dups uint64
	lastSeq    uint64
	last       time.Time
	viewers    map[*viewer]struct{}
	frame      streams.Frame

	// History, channel-major rings of cap samples; end is the absolute index after the newest sample.
	hist        [][]float32
	cap         int64
	start, end  int64 // absolute sample range held
	markers     []markerMsg
	lastAcqNs   int64
	specRunning bool
}

type hubStats struct {
	frames, gaps, dups uint64
	last               time.Time
	viewers            int
}

type markerMsg struct {
	T      string `json:"t"`
	Sample int64  `json:"sample"`
	Code   int32  `json:"code"`
	Label  string `json:"label"`
}

func newHub(key string, historySec float64) *hub {
	return &hub{key: key, historySec: historySec, viewers: map[*viewer]struct{}{}}
}

func (h *hub) stats() hubStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return hubStats{frames: h.frames, gaps: h.gaps, dups: h.dups, last: h.last, viewers: len(h.viewers)}
}

func (h *hub) needInfo() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.info == nil
}

// setInfo records the stream's description; a new channel count or rate restarts the history.
func (h *hub) setInfo(info *streams.StreamInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	changed := h.info == nil || len(h.info.Channels) != len(info.Channels) || h.info.SampleRateHz != info.SampleRateHz
	h.info = info
	if changed {
		h.hist = nil
		for v := range h.viewers {
			v.restart(h)
		}
	}
}

// onFrame counts a frame and, when watched, decodes it into the history and the viewers' columns.
func (h *hub) onFrame(b []byte, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seq, ok := peekSeq(b)
	h.frames++
	h.last = now
	if ok {
		switch {
		case h.lastSeq == 0:
		case seq > h.lastSeq+1:
			h.gaps += seq - h.lastSeq - 1
		case seq <= h.lastSeq:
			h.dups++
		}
		if seq > h.lastSeq {
			h.lastSeq = seq
		}
	}
	if len(h.viewers) == 0 || h.info == nil {
		return
	}
	f := &h.frame
	if err := streams.DecodeFrame(b, f); err != nil || f.NumChannels != len(h.info.Channels) {
		return
	}
	rate := h.info.SampleRateHz
	first := int64(math.Round(float64(f.SourceTimeNs) * rate / 1e9))
	h.store(f, first)
	h.lastAcqNs = f.AcquiredAtNs
	for i := range f.Markers {
		m := &f.Markers[i]
		mm := markerMsg{T: "marker", Sample: first + int64(m.SampleOffset), Code: m.Code, Label: m.Label}
		h.markers = append(h.markers, mm)
		if len(h.markers) > 256 {
			h.markers = h.markers[len(h.markers)-128:]
		}
		if msg, err := json.Marshal(mm); err == nil {
			for v := range h.viewers {
				v.sendText(msg)
			}
		}
	}
	for v := range h.viewers {
		v.addFrame(f, first)
	}
}

// store appends the frame's samples to the history rings (NaN over a gap, so a gap shows as one).
func (h *hub) store(f *streams.Frame, first int64) {
	nch := f.NumChannels
	if h.hist == nil {
		h.cap = int64(math.Ceil(h.historySec*h.info.SampleRateHz)) + 1
		h.hist = make([][]float32, nch)
		for c := range h.hist {
			h.hist[c] = make([]float32, h.cap)
		}
		h.start, h.end = first, first
	}
	if first < h.end || first-h.end > h.cap { // went backwards (a restarted source) or a long gap
		h.start, h.end = first, first
	}
	for ; h.end < first; h.end++ {
		for c := range h.hist {
			h.hist[c][h.end%h.cap] = float32(math.NaN())
		}
	}
	for s := 0; s < f.NumSamples; s++ {
		row := f.Samples[s*nch : (s+1)*nch]
		i := h.end % h.cap
		for c, v := range row {
			h.hist[c][i] = v
		}
		h.end++
	}
	if h.end-h.start > h.cap {
		h.start = h.end - h.cap
	}
}

// subscribe adds v; it is given the history that its time span covers.
func (h *hub) subscribe(v *viewer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.viewers[v] = struct{}{}
	v.restart(h)
	for _, m := range h.markers {
		if msg, err := json.Marshal(m); err == nil {
			v.sendText(msg)
		}
	}
	if !h.specRunning {
		h.specRunning = true
		go h.spectra()
	}
}

func (h *hub) unsubscribe(v *viewer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.viewers, v)
	if len(h.viewers) == 0 {
		h.hist = nil // memory back; a new viewer starts from new data
		h.markers = nil
	}
}

func (h *hub) broadcastText(msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for v := range h.viewers {
		v.sendText(msg)
	}
}

// Spectra: Welch's method over the last 2 s: three 1-s Hann segments with half overlap (1 Hz bins), up
// to 100 Hz or Nyquist. Segments start at multiples of half a second of the stream, so each one is
// transformed once and a spectrum is sent every 0.5 s; one computation serves every viewer.
const (
	spectrumEvery = 100 * time.Millisecond // how often to look for a completed segment
	spectrumMaxHz = 100
	welchSegments = 3
)

func (h *hub) spectra() {
	t := time.NewTicker(spectrumEvery)
	defer t.Stop()
	var (
		fft     *fourier.FFT
		seg     []float64
		win     []float64
		coef    []complex128
		snap    [][]float32                // one segment of every channel, copied out so frames do not wait
		psd     [welchSegments][][]float64 // [segment slot][channel][bin]
		segOf   [welchSegments]int64       // which segment each slot holds (-1: none)
		done    int64                      // last segment transformed
		rateHz  float64
		n, half int
		nbins   int
	)
	for range t.C {
		h.mu.Lock()
		if len(h.viewers) == 0 {
			h.specRunning = false
			h.mu.Unlock()
			return
		}
		if h.info == nil || h.hist == nil {
			h.mu.Unlock()
			continue
		}
		nch := len(h.hist)
		if fft == nil || rateHz != h.info.SampleRateHz || len(snap) != nch {
			rateHz = h.info.SampleRateHz
			n = max(int(math.Round(rateHz)), 4)
			half = n / 2
			nbins = min(n/2+1, int(spectrumMaxHz)+1)
			fft = fourier.NewFFT(n)
			seg, coef, win = make([]float64, n), make([]complex128, n/2+1), make([]float64, n)
			for i := range win {
				win[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
			}
			snap = make([][]float32, nch)
			for c := range snap {
				snap[c] = make([]float32, n)
			}
			for k := range psd {
				psd[k] = make([][]float64, nch)
				for c := range psd[k] {
					psd[k][c] = make([]float64, nbins)
				}
				segOf[k] = -1
			}
			done = -1
		}
		last := (h.end - int64(n)) / int64(half) // the newest complete segment
		if h.end < int64(n) || last <= done {
			h.mu.Unlock()
			continue
		}
		next := max(done+1, last-welchSegments+1)
		var todo []int64
		for sgi := next; sgi <= last; sgi++ {
			if sgi*int64(half) >= h.start {
				todo = append(todo, sgi)
			}
		}
		done = last
		h.mu.Unlock()
		for _, sgi := range todo {
			h.mu.Lock()
			from := sgi * int64(half)
			if h.hist == nil || from < h.start || from+int64(n) > h.end || len(h.hist) != nch {
				h.mu.Unlock()
				continue
			}
			for c := range nch {
				for i := range n {
					snap[c][i] = h.hist[c][(from+int64(i))%h.cap]
				}
			}
			h.mu.Unlock()
			slot := int(sgi % welchSegments)
			for c := range nch {
				mean := 0.0
				for i, v := range snap[c] {
					x := float64(v)
					if math.IsNaN(x) {
						x = 0
					}
					seg[i] = x
					mean += x
				}
				mean /= float64(n)
				for i := range seg {
					seg[i] = (seg[i] - mean) * win[i]
				}
				fft.Coefficients(coef, seg)
				p := psd[slot][c]
				for b := range p {
					re, im := real(coef[b]), imag(coef[b])
					p[b] = re*re + im*im
				}
			}
			segOf[slot] = sgi
		}
		var use []int
		for k, sgi := range segOf {
			if sgi >= 0 && sgi > last-welchSegments {
				use = append(use, k)
			}
		}
		if len(use) == 0 {
			continue
		}
		msg := make([]byte, 16+4*nch*nbins)
		msg[0] = msgSpectrum
		binary.LittleEndian.PutUint16(msg[2:], uint16(nch))
		binary.LittleEndian.PutUint32(msg[4:], uint32(nbins))
		binary.LittleEndian.PutUint64(msg[8:], math.Float64bits(rateHz/float64(n)))
		o := 16
		for c := range nch {
			for b := range nbins {
				sum := 0.0
				for _, k := range use {
					sum += psd[k][c][b]
				}
				binary.LittleEndian.PutUint32(msg[o:], math.Float32bits(float32(math.Log10(sum/float64(len(use))/rateHz+1e-300))))
				o += 4
			}
		}
		h.mu.Lock()
		for v := range h.viewers {
			v.setSpectrum(msg)
		}
		h.mu.Unlock()
	}
}
