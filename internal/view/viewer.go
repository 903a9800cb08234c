package view

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/neurostream/neurostream/streams"
)

// Binary message types (first byte); everything else is JSON text with a "t" field.
const (
	msgTrace    = 1
	msgSpectrum = 2
)

// traceHeader is the size of a trace message's header: type, flags, channels (uint16), columns
// (uint32), first column, newest sample's acquisition time (ms) and send time (ms) as float64.
const traceHeader = 32

// minSendInterval caps trace messages at about the screen's refresh rate.
const minSendInterval = time.Second / 60

// maxTexts bounds a viewer's queue of text messages (markers, predictions, features); the oldest
// are dropped when a viewer falls behind.
const maxTexts = 512

// watchRequest is what the page asks for.
type watchRequest struct {
	Op       string  `json:"op"`       // "watch" or "unwatch"
	Stream   string  `json:"stream"`   // stream id
	Topic    string  `json:"topic"`    // "raw", "clean" or "detokenized"
	Width    int     `json:"width"`    // pixel columns of the trace area
	SpanSec  float64 `json:"span_sec"` // seconds across the trace area
	Channels []int   `json:"channels"` // channel indices to send; empty: all
}

// viewer is one browser connection. Its columns are built in the hub's goroutine (under the hub's
// lock, then its own) and sent by its writer goroutine.
type viewer struct {
	notify chan struct{}

	mu      sync.Mutex
	req     watchRequest
	hub     *hub
	chans   []int   // channel indices sent
	spp     float64 // samples per column
	curCol  int64   // column being filled
	cur     []float32
	curHas  bool
	ring    []float32 // completed columns not yet sent: at most one screen, [slot][channel][min,max]
	first   int64     // column index of the oldest unsent column
	n       int       // unsent columns
	width   int
	acqNs   int64 // acquisition time of the newest sample in the columns
	texts   [][]byte
	spec    []byte
	row     []float32
	changed bool // new columns since the last send
}

func (s *Server) serveViewer(ctx context.Context, c *websocket.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.SetReadLimit(1 << 16)
	v := &viewer{notify: make(chan struct{}, 1)}
	defer func() {
		v.mu.Lock()
		h := v.hub
		v.hub = nil
		v.mu.Unlock()
		if h != nil {
			h.unsubscribe(v)
		}
		c.Close(websocket.StatusNormalClosure, "")
	}()
	go s.writeLoop(ctx, cancel, c, v)
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		var req watchRequest
		if json.Unmarshal(b, &req) != nil {
			continue
		}
		v.mu.Lock()
		old := v.hub
		v.hub = nil
		v.mu.Unlock()
		if old != nil {
			old.unsubscribe(v)
		}
		if req.Op != "watch" || req.Stream == "" {
			continue
		}
		if req.Topic != "clean" && req.Topic != "detokenized" {
			req.Topic = "raw"
		}
		req.Width = min(max(req.Width, 100), 4000)
		req.SpanSec = min(max(req.SpanSec, 0.5), s.cfg.HistorySec)
		key := streams.StreamInfoKey(req.Topic, req.Stream)
		h := s.hub(key)
		if h.needInfo() {
			if info := s.info(key); info != nil {
				h.setInfo(info)
			}
		}
		v.mu.Lock()
		v.req, v.hub = req, h
		v.mu.Unlock()
		h.subscribe(v)
	}
}

// restart sets up the columns for the hub's stream and fills them from its history. Called with
// the hub's lock held.
func (v *viewer) restart(h *hub) {
	v.mu.Lock()
	defer v.mu.Unlock()
	req := v.req
	info := h.info
	if info == nil {
		return
	}
	nch := len(info.Channels)
	v.chans = v.chans[:0]
	for _, c := range req.Channels {
		if c >= 0 && c < nch {
			v.chans = append(v.chans, c)
		}
	}
	if len(v.chans) == 0 {
		for c := range nch {
			v.chans = append(v.chans, c)
		}
	}
	v.width = req.Width
	v.spp = req.SpanSec * info.SampleRateHz / float64(req.Width)
	v.cur = make([]float32, 2*len(v.chans))
	v.ring = make([]float32, v.width*2*len(v.chans))
	v.n, v.curHas, v.curCol, v.acqNs = 0, false, math.MinInt64, 0
	v.row = make([]float32, nch)

	type chanMsg struct {
		Name     string      `json:"name"`
		Type     string      `json:"type"`
		Unit     string      `json:"unit"`
		Position *[3]float64 `json:"position,omitempty"`
	}
	msg := struct {
		T         string    `json:"t"`
		Stream    string    `json:"stream"`
		Topic     string    `json:"topic"`
		Device    string    `json:"device"`
		RateHz    float64   `json:"rate_hz"`
		Channels  []chanMsg `json:"channels"`
		Sent      []int     `json:"sent"` // indices of the channels in trace messages, in order
		Width     int       `json:"width"`
		SpanSec   float64   `json:"span_sec"`
		SamplesPx float64   `json:"samples_per_column"`
	}{T: "info", Stream: info.StreamID, Topic: req.Topic, Device: info.Device, RateHz: info.SampleRateHz,
		Sent: append([]int(nil), v.chans...), Width: v.width, SpanSec: req.SpanSec, SamplesPx: v.spp}
	for _, c := range info.Channels {
		cm := chanMsg{Name: c.Name, Type: c.Type.String(), Unit: c.Unit}
		if c.HasPosition {
			p := c.Position
			cm.Position = &p
		}
		msg.Channels = append(msg.Channels, cm)
	}
	v.texts = v.texts[:0]
	v.spec = nil
	if b, err := json.Marshal(msg); err == nil {
		v.texts = append(v.texts, b)
	}
	// The part of the history the span covers becomes the first columns.
	if h.hist != nil {
		from := max(h.start, h.end-int64(math.Ceil(req.SpanSec*info.SampleRateHz)))
		for i := from; i < h.end; i++ {
			for c := range v.row {
				v.row[c] = h.hist[c][i%h.cap]
			}
			v.addRow(i, v.row)
		}
		v.acqNs = h.lastAcqNs
	}
	v.wake()
}

// addFrame adds a decoded frame whose first sample has absolute index first. Called with the
// hub's lock held.
func (v *viewer) addFrame(f *streams.Frame, first int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.spp <= 0 || len(v.row) != f.NumChannels {
		return
	}
	for s := range f.NumSamples {
		v.addRow(first+int64(s), f.Samples[s*f.NumChannels:(s+1)*f.NumChannels])
	}
	v.acqNs = f.AcquiredAtNs
	v.wake()
}

// addRow adds one sample of every channel to the column it falls in.
func (v *viewer) addRow(idx int64, row []float32) {
	col := int64(math.Floor(float64(idx) / v.spp))
	if col != v.curCol {
		if v.curHas {
			v.push(v.curCol)
		}
		v.curCol, v.curHas = col, false
	}
	if !v.curHas {
		for j := range v.chans {
			v.cur[2*j], v.cur[2*j+1] = float32(math.Inf(1)), float32(math.Inf(-1))
		}
		v.curHas = true
	}
	for j, c := range v.chans {
		x := row[c]
		if x < v.cur[2*j] {
			v.cur[2*j] = x
		}
		if x > v.cur[2*j+1] {
			v.cur[2*j+1] = x
		}
	}
	v.changed = true
}

// push appends the completed column col to the unsent ones, dropping the oldest beyond one screen
// and leaving columns skipped by a gap empty (NaN).
func (v *viewer) push(col int64) {
	next := v.first + int64(v.n)
	switch {
	case v.n == 0 || col < next || col-next >= int64(v.width):
		v.first, v.n = col, 0
	default:
		for ; next < col; next++ {
			v.put(next, nil)
		}
	}
	v.put(col, v.cur)
}

func (v *viewer) put(col int64, minmax []float32) {
	if v.n == v.width {
		v.first++
		v.n--
	}
	k := len(v.chans) * 2
	slot := v.ring[int((v.first+int64(v.n))%int64(v.width))*k:][:k]
	if minmax == nil {
		for i := range slot {
			slot[i] = float32(math.NaN())
		}
	} else {
		copy(slot, minmax)
	}
	v.n++
}

func (v *viewer) wake() {
	select {
	case v.notify <- struct{}{}:
	default:
	}
}

func (v *viewer) sendText(msg []byte) {
	v.mu.Lock()
	if len(v.texts) >= maxTexts {
		v.texts = append(v.texts[:0], v.texts[len(v.texts)-maxTexts/2:]...)
	}
	v.texts = append(v.texts, msg)
	v.mu.Unlock()
	v.wake()
}

func (v *viewer) setSpectrum(msg []byte) {
	v.mu.Lock()
	v.spec = msg
	v.mu.Unlock()
	v.wake()
}

// takeTrace encodes the unsent columns and the column being filled (sent again, complete or not,
// until it is complete) into buf.
func (v *viewer) takeTrace(buf []byte) []byte {
	if !v.changed || len(v.chans) == 0 {
		return buf[:0]
	}
	v.changed = false
	ncols := v.n
	first := v.first
	partial := v.curHas && (v.n == 0 || v.curCol == v.first+int64(v.n))
	if partial {
		if v.n == 0 {
			first = v.curCol
		}
		ncols++
	}
	if ncols == 0 {
		return buf[:0]
	}
	nsel := len(v.chans)
	size := traceHeader + 8*nsel*ncols
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	buf[0] = msgTrace
	buf[1] = 0
	if partial {
		buf[1] = 1
	}
	binary.LittleEndian.PutUint16(buf[2:], uint16(nsel))
	binary.LittleEndian.PutUint32(buf[4:], uint32(ncols))
	binary.LittleEndian.PutUint64(buf[8:], math.Float64bits(float64(first)))
	binary.LittleEndian.PutUint64(buf[16:], math.Float64bits(float64(v.acqNs)/1e6))
	p := traceHeader
	for j := range nsel {
		for k := range ncols {
			var lo, hi float32
			if k < v.n {
				slot := int((v.first+int64(k))%int64(v.width)) * 2 * nsel
				lo, hi = v.ring[slot+2*j], v.ring[slot+2*j+1]
			} else {
				lo, hi = v.cur[2*j], v.cur[2*j+1]
			}
			binary.LittleEndian.PutUint32(buf[p:], math.Float32bits(lo))
			binary.LittleEndian.PutUint32(buf[p+4:], math.Float32bits(hi))
			p += 8
		}
	}
	v.first += int64(v.n)
	v.n = 0
	return buf
}

// writeLoop sends what the viewer has pending whenever something new arrives (traces at most
// about 60 times a second), and the stream list once a second.
func (s *Server) writeLoop(ctx context.Context, cancel func(), c *websocket.Conn, v *viewer) {
	defer cancel()
	list := time.NewTicker(time.Second)
	defer list.Stop()
	var trace []byte
	var texts [][]byte
	var last time.Time
	send := func(typ websocket.MessageType, b []byte) bool {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		return c.Write(wctx, typ, b) == nil
	}
	sendList := func() bool {
		b, err := json.Marshal(struct {
			T       string        `json:"t"`
			Streams []StreamEntry `json:"streams"`
		}{"streams", s.List()})
		return err == nil && send(websocket.MessageText, b)
	}
	if !sendList() {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-list.C:
			if !sendList() {
				return
			}
			continue
		case <-v.notify:
		}
		if wait := minSendInterval - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		v.mu.Lock()
		texts = append(texts[:0], v.texts...)
		v.texts = v.texts[:0]
		spec := v.spec
		v.spec = nil
		trace = v.takeTrace(trace)
		v.mu.Unlock()
		for _, t := range texts {
			if !send(websocket.MessageText, t) {
				return
			}
		}
		if spec != nil && !send(websocket.MessageBinary, spec) {
			return
		}
		if len(trace) > 0 {
			binary.LittleEndian.PutUint64(trace[24:], math.Float64bits(float64(time.Now().UnixNano())/1e6))
			if !send(websocket.MessageBinary, trace) {
				return
			}
		}
		last = time.Now()
	}
}
