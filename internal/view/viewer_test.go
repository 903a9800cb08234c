package view

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
)

// testHub is a hub holding a description of nch channels at rateHz.
func testHub(nch int, rateHz float64) *hub {
	h := newHub("raw/t", 30)
	info := &streams.StreamInfo{StreamID: "t", SampleRateHz: rateHz}
	for range nch {
		info.Channels = append(info.Channels, streams.Channel{Name: "c", Type: streams.ChannelEEG, Unit: "V"})
	}
	h.info = info
	return h
}

// decodeTrace returns a trace message's first column and its [channel][column][min,max] values.
func decodeTrace(t *testing.T, b []byte) (int64, [][][2]float32) {
	t.Helper()
	if len(b) < traceHeader || b[0] != msgTrace {
		t.Fatalf("not a trace message: % x", b[:min(len(b), 8)])
	}
	nsel, ncols := int(binary.LittleEndian.Uint16(b[2:])), int(binary.LittleEndian.Uint32(b[4:]))
	first := int64(math.Float64frombits(binary.LittleEndian.Uint64(b[8:])))
	out := make([][][2]float32, nsel)
	p := traceHeader
	for j := range out {
		out[j] = make([][2]float32, ncols)
		for k := range out[j] {
			out[j][k] = [2]float32{math.Float32frombits(binary.LittleEndian.Uint32(b[p:])), math.Float32frombits(binary.LittleEndian.Uint32(b[p+4:]))}
			p += 8
		}
	}
	return first, out
}

// Each pixel column carries the minimum and maximum of exactly the samples that fall in it, also
// when a column spans a fractional number of samples, and only the channels asked for.
func TestColumnsAreMinMaxOfTheirSamples(t *testing.T) {
	h := testHub(3, 250)
	v := &viewer{notify: make(chan struct{}, 1), req: watchRequest{Width: 100, SpanSec: 1, Channels: []int{2, 0}}}
	v.restart(h) // 2.5 samples per column
	f := &streams.Frame{NumChannels: 3, NumSamples: 8}
	for first := int64(0); first < 48; first += 8 {
		f.Samples = f.Samples[:0]
		for i := range int64(8) {
			x := float32(first + i)
			f.Samples = append(f.Samples, x, -x, 10*x) // channel 2 is ten times channel 0
		}
		v.addFrame(f, first)
	}
	first, cols := decodeTrace(t, v.takeTrace(nil))
	if first != 0 || len(cols) != 2 {
		t.Fatalf("first column %d, %d channels; want 0 and 2", first, len(cols))
	}
	if len(cols[0]) != 19 { // samples 0-47 at 2.5 per column: 18 complete columns and the one being filled
		t.Fatalf("%d columns, want 19", len(cols[0]))
	}
	for k := range 19 {
		lo, hi := math.Ceil(2.5*float64(k)), math.Ceil(2.5*float64(k+1))-1
		if cols[1][k] != [2]float32{float32(lo), float32(hi)} || cols[0][k] != [2]float32{float32(10 * lo), float32(10 * hi)} {
			t.Fatalf("column %d: channel 0 %v, channel 2 %v; want [%g %g] and ten times that", k, cols[1][k], cols[0][k], lo, hi)
		}
	}
	// Complete columns are not sent again; the open one is, once more when it is complete.
	f.Samples = f.Samples[:0]
	for i := range int64(8) {
		x := float32(48 + i)
		f.Samples = append(f.Samples, x, -x, 10*x)
	}
	v.addFrame(f, 48)
	if first, cols := decodeTrace(t, v.takeTrace(nil)); first != 18 || len(cols[0]) != 5 || cols[1][0] != [2]float32{45, 47} || cols[1][1] != [2]float32{48, 49} {
		t.Fatalf("next message starts at column %d with %v, want columns 18 = [45 47], 19 = [48 49], ... 22", first, cols[1])
	}
}

// A viewer that does not read holds at most one screen of columns (the newest) and a bounded
// number of text messages, however long it stalls.
func TestStalledViewerKeepsNewestScreen(t *testing.T) {
	h := testHub(4, 1000)
	v := &viewer{notify: make(chan struct{}, 1), req: watchRequest{Width: 200, SpanSec: 2}}
	v.restart(h) // 10 samples per column
	f := &streams.Frame{NumChannels: 4, NumSamples: 100, Samples: make([]float32, 400)}
	const frames = 500 // 50 000 samples: 5000 columns, 25 screens
	for i := range int64(frames) {
		v.addFrame(f, i*100)
		v.sendText([]byte(`{"t":"marker"}`))
	}
	if v.n != v.width || v.first != 5000-1-int64(v.width) {
		t.Fatalf("holding %d columns from %d; want the newest %d, from %d", v.n, v.first, v.width, 5000-1-v.width)
	}
	if len(v.texts) > maxTexts {
		t.Fatalf("%d text messages queued, more than %d", len(v.texts), maxTexts)
	}
	first, cols := decodeTrace(t, v.takeTrace(nil))
	if first != 5000-1-int64(v.width) || len(cols[0]) != v.width+1 {
		t.Fatalf("sent columns %d.. (%d); want the newest screen and the open column", first, len(cols[0]))
	}
}

// Over the WebSocket, without a browser: the stream list, the clean topic's description, its traces
// and the decoder's predictions reach a client that asks for them.
func TestWebSocketCleanTopic(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := synthetic.New(synthetic.Config{StreamID: "ws-test", Channels: 8, Realtime: true, Alpha: synthetic.AlphaOn})
	if err != nil {
		t.Fatal(err)
	}
	live := startLive(t, ctx, []pipeline.Source{src}, []pipeline.PipelineConfig{{Name: "clean", Input: "raw", Output: "clean",
		Stages: []pipeline.StageConfig{{Kind: "bandpass", LowHz: 1, HighHz: 40},
			{Kind: "decoder", Decoder: "alpha", Model: filepath.Join("..", "..", "configs", "models", "alpha-synthetic.json"), StepSec: 0.5}}}})
	defer cancel()
	wsURL := "ws" + live.url[len("http"):] + "ws"
	c, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 24)
	rctx, rcancel := context.WithTimeout(ctx, 90*time.Second)
	defer rcancel()
	var sawList, sawInfo, sawTrace, sawPrediction bool
	for !(sawList && sawInfo && sawTrace && sawPrediction) {
		typ, b, err := c.Read(rctx)
		if err != nil {
			t.Fatalf("list %v info %v trace %v prediction %v: %v", sawList, sawInfo, sawTrace, sawPrediction, err)
		}
		if typ == websocket.MessageBinary {
			if b[0] == msgTrace && sawInfo {
				_, cols := decodeTrace(t, b)
				sawTrace = len(cols) == 8 && len(cols[0]) > 0
			}
			continue
		}
		var m struct {
			T       string        `json:"t"`
			Streams []StreamEntry `json:"streams"`
			Topic   string        `json:"topic"`
			Label   string        `json:"label"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		switch m.T {
		case "streams":
			for _, s := range m.Streams {
				if s.ID == "ws-test" && len(s.Topics) == 2 && !sawList {
					sawList = true
					req, _ := json.Marshal(watchRequest{Op: "watch", Stream: "ws-test", Topic: "clean", Width: 400, SpanSec: 4})
					if err := c.Write(rctx, websocket.MessageText, req); err != nil {
						t.Fatal(err)
					}
				}
			}
		case "info":
			sawInfo = m.Topic == "clean"
		case "prediction":
			sawPrediction = m.Label == "eyes-closed"
		}
	}
}

// Several viewers on several streams at once: each gets its own stream's description and columns.
func TestViewersOfSeveralStreams(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var srcs []pipeline.Source
	for _, id := range []string{"multi-a", "multi-b"} {
		nch := map[string]int{"multi-a": 8, "multi-b": 16}[id]
		s, err := synthetic.New(synthetic.Config{StreamID: id, Channels: nch, Realtime: true})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, s)
	}
	live := startLive(t, ctx, srcs, nil)
	defer cancel()
	rctx, rcancel := context.WithTimeout(ctx, 90*time.Second)
	defer rcancel()
	done := make(chan error, 2)
	for _, want := range []struct {
		id  string
		nch int
	}{{"multi-a", 8}, {"multi-b", 16}} {
		c, _, err := websocket.Dial(ctx, "ws"+live.url[len("http"):]+"ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 24)
		go func() {
			req, _ := json.Marshal(watchRequest{Op: "watch", Stream: want.id, Width: 300, SpanSec: 3})
			if err := c.Write(rctx, websocket.MessageText, req); err != nil {
				done <- err
				return
			}
			info := false
			for {
				typ, b, err := c.Read(rctx)
				if err != nil {
					done <- fmt.Errorf("%s: %w", want.id, err)
					return
				}
				if typ == websocket.MessageText {
					var m struct{ T, Stream string }
					_ = json.Unmarshal(b, &m)
					if m.T == "info" {
						if m.Stream != want.id {
							done <- fmt.Errorf("watching %s, got the description of %s", want.id, m.Stream)
							return
						}
						info = true
					}
					continue
				}
				if b[0] == msgTrace && info {
					if n := int(binary.LittleEndian.Uint16(b[2:])); n != want.nch {
						done <- fmt.Errorf("%s: traces of %d channels, want %d", want.id, n, want.nch)
					} else {
						done <- nil
					}
					return
				}
			}
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// Tokens turned back into signal by a detokenize pipeline are a frame topic like the others: the
// stream lists it, and a viewer asking for it gets the reconstruction's description and columns.
func TestWebSocketDetokenizedTopic(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := synthetic.New(synthetic.Config{StreamID: "ws-detok", Channels: 8, SampleRateHz: 250, FrameSamples: 8, Realtime: true, Alpha: synthetic.AlphaOn})
	if err != nil {
		t.Fatal(err)
	}
	codebook := filepath.Join("..", "..", "configs", "models", "tokenizer-synthetic.json")
	live := startLive(t, ctx, []pipeline.Source{src}, []pipeline.PipelineConfig{
		{Name: "tokenize", Input: "raw", Output: "clean", Stages: []pipeline.StageConfig{
			{Kind: "bandpass", LowHz: 1, HighHz: 40, Order: 4}, {Kind: "tokenizer", Model: codebook}}},
		{Name: "listen", Input: "tokens", Output: "detokenized", Stages: []pipeline.StageConfig{{Kind: "detokenize", Model: codebook}}},
	})
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+live.url[len("http"):]+"ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 24)
	rctx, rcancel := context.WithTimeout(ctx, 90*time.Second)
	defer rcancel()
	var asked, sawInfo, sawTrace bool
	for !(sawInfo && sawTrace) {
		typ, b, err := c.Read(rctx)
		if err != nil {
			t.Fatalf("asked %v info %v trace %v: %v", asked, sawInfo, sawTrace, err)
		}
		if typ == websocket.MessageBinary {
			if b[0] == msgTrace && sawInfo {
				_, cols := decodeTrace(t, b)
				sawTrace = len(cols) == 8 && len(cols[0]) > 0
			}
			continue
		}
		var m struct {
			T        string        `json:"t"`
			Streams  []StreamEntry `json:"streams"`
			Topic    string        `json:"topic"`
			Channels []any         `json:"channels"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		switch m.T {
		case "streams":
			for _, s := range m.Streams {
				if s.ID != "ws-detok" || asked || !slices.Contains(s.Topics, "detokenized") {
					continue
				}
				asked = true
				req, _ := json.Marshal(watchRequest{Op: "watch", Stream: "ws-detok", Topic: "detokenized", Width: 400, SpanSec: 4})
				if err := c.Write(rctx, websocket.MessageText, req); err != nil {
					t.Fatal(err)
				}
			}
		case "info":
			sawInfo = m.Topic == "detokenized"
		}
	}
}
