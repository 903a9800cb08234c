package view

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/features"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// chromium returns Debian's Chromium, or skips the test.
func chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Skip("chromium not installed (tools/test.sh installs it with apt-get): browser tests skipped")
	return ""
}

// browser starts a headless Chromium with a fresh profile and every background fetch off (the
// network here is closed; otherwise it waits on those).
func browser(tb testing.TB, path string) context.Context {
	tb.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(tb.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1600, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	tb.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	tb.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// artifactDir is where screenshots go: $NEUROSTREAM_ARTIFACTS, else the repository's .cache/artifacts
// (ignored by git).
func artifactDir(tb testing.TB) string {
	dir := os.Getenv("NEUROSTREAM_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", ".cache", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// waitJS evaluates expr every 200 ms until it returns true, failing after timeout with what the
// page shows (so a failure says what a person would have seen).
func waitJS(tb testing.TB, ctx context.Context, what, expr string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 2000) + "\nstats: " + JSON.stringify(window.nsView && nsView.stats())`))
			tb.Fatalf("waiting for %s (%s): err %v; the page shows:\n%s", what, expr, err, page)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type liveSetup struct {
	kc  streams.Config
	url string
}

// startLive runs an embedded broker, the given sources and pipelines, and the view server.
func startLive(tb testing.TB, ctx context.Context, srcs []pipeline.Source, pipes []pipeline.PipelineConfig) liveSetup {
	tb.Helper()
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	kc := streams.Config{Brokers: []string{b.Addr()}, Namespace: "view"}
	log := slog.New(slog.DiscardHandler)
	srv, err := New(Config{Kafka: kc, Addr: "127.0.0.1:0", Log: log})
	if err != nil {
		tb.Fatal(err)
	}
	url, err := srv.Serve(ctx) // before the sources: the view reads from the topics' ends
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- pipeline.Run(ctx, &pipeline.Config{Kafka: kc, Pipelines: pipes}, pipeline.RunOptions{Sources: srcs, Log: log})
	}()
	tb.Cleanup(func() {
		if err := <-done; err != nil {
			tb.Errorf("pipeline: %v", err)
		}
	})
	return liveSetup{kc: kc, url: url}
}

// A person opening the view while the synthetic headset runs with posterior alpha sees the stream
// listed, every channel's trace under its name, the spectrum peaking at the source's alpha
// frequency, and the decoder's predictions; the screenshot is kept for a look.
func TestBrowserShowsLiveStream(t *testing.T) {
	path := chromium(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Eyes closed (alpha) for 5 s, then open for 5 s, and so on, with a marker at every change.
	sc := synthetic.Config{StreamID: "alpha-test", Channels: 32, SampleRateHz: 250, FrameSamples: 8, Alpha: synthetic.AlphaAlternate,
		BlockSec: 5, AlphaHz: 11, Realtime: true}
	src, err := synthetic.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	live := startLive(t, ctx, []pipeline.Source{src}, []pipeline.PipelineConfig{{
		Name: "decode", Input: "raw", Output: "clean",
		Stages: []pipeline.StageConfig{
			{Kind: "notch", FreqHz: 50},
			{Kind: "bandpass", LowHz: 1, HighHz: 40},
			{Kind: "decoder", Decoder: "alpha", Model: filepath.Join("..", "..", "configs", "models", "alpha-synthetic.json"), StepSec: 0.5},
		}}, {
		Name: "features", Input: "clean",
		Stages: []pipeline.StageConfig{{Kind: "features", WindowSec: 2, StepSec: 0.5,
			Extractors: []features.ExtractorConfig{{Kind: "peak_alpha", Channels: []string{"O1", "Oz", "O2"}}}}},
	}})
	bctx := browser(t, path)
	defer func() { // close the browser before the pipeline's cleanup waits for it to stop
		_ = chromedp.Cancel(bctx)
		cancel()
	}()
	if err := chromedp.Do(bctx, chromedp.Navigate(live.url)); err != nil {
		t.Fatal(err)
	}
	const wait = 90 * time.Second
	waitJS(t, bctx, "the stream in the list",
		`[...document.querySelectorAll('#streams tbody tr')].some(r => r.dataset.stream === 'alpha-test' && r.cells[4].textContent === 'live' && r.cells[2].textContent === '32')`, wait)
	// Channel names beside the traces, in the montage's order.
	names, _ := synthetic.Montage(32)
	namesJSON, _ := json.Marshal(names)
	waitJS(t, bctx, "the channel names beside the traces",
		fmt.Sprintf(`JSON.stringify([...document.querySelectorAll('#labels span')].map(s => s.textContent)) === %q`, string(namesJSON)), wait)
	// Every channel's row has ink: traces are drawn, not just labelled.
	waitJS(t, bctx, "a trace drawn in every channel's row", `(() => { const r = nsView.rowInk(); return r.length === 32 && r.every(n => n > 50); })()`, wait)
	// The spectrum's peak above the 1/f background at the source's alpha frequency (1-Hz bins).
	waitJS(t, bctx, fmt.Sprintf("the spectrum peak at %g Hz", sc.AlphaHz),
		fmt.Sprintf(`Math.abs(nsView.stats().peakHz - %g) <= 1 && /peak 1\d\.\d Hz/.test(document.getElementById('spectrum-peak').textContent)`, sc.AlphaHz), wait)
	// Predictions in the list and the timeline: the stream starts with the eyes closed.
	waitJS(t, bctx, "eyes-closed predictions",
		`[...document.querySelectorAll('#predictions li')].filter(li => li.dataset.label === 'eyes-closed' && /alpha/.test(li.textContent)).length >= 2`, wait)
	// A retrieval model's prediction (as an ONNX speech or visual model publishes it) shows its top-k list.
	prod, err := streams.NewProducer(live.kc, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	retrieval := func() error {
		return prod.PublishPredictions(ctx, live.kc.Topics().Predictions, &streams.Prediction{StreamID: "alpha-test", Decoder: "speech-sim",
			WindowEndSample: 1000, TopK: []streams.Ranked{{ID: "segment-17", Score: 0.82}, {ID: "segment-3", Score: 0.71}}})
	}
	if err := retrieval(); err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{})
	defer close(seen) // before prod.Close
	// Again every second: the list shows the newest ten predictions, so a slow check could miss one.
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-seen:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				_ = retrieval()
			}
		}
	}()
	waitJS(t, bctx, "the retrieval prediction's top-k list",
		`[...document.querySelectorAll('#predictions li')].some(li => li.textContent.includes('speech-sim') && li.textContent.includes('top: segment-17 0.82, segment-3 0.71'))`, wait)
	waitJS(t, bctx, "features as small time series",
		`[...document.querySelectorAll('#features .feature')].some(d => /^paf\/O[1z2]$/.test(d.dataset.name) && /\d/.test(d.querySelector('.value').textContent))`, wait)
	waitJS(t, bctx, "the eyes-open marker on the traces", `nsView.stats().markers.some(m => /open/i.test(m))`, wait)
	waitJS(t, bctx, "a scalp map with channel positions", `/strongest at (O1|O2|Oz|PO3|PO4|P7|P8|Pz|P3|P4)/.test(document.getElementById('scalp-text').textContent)`, wait)
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifactDir(t), "view-live-stream.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := chromedp.Run(bctx, chromedp.Evaluate[map[string]any](`nsView.stats()`))
	t.Logf("screenshot %s; page stats %v", shot, st)

	// Choosing channels by name shows those channels only, each drawn.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { const e = document.getElementById('channels'); e.value = 'O1, Oz, O2'; e.dispatchEvent(new Event('change')); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, bctx, "only O1, Oz and O2", `JSON.stringify([...document.querySelectorAll('#labels span')].map(s => s.textContent)) === '["O1","Oz","O2"]'`, wait)
	waitJS(t, bctx, "their three traces", `(() => { const r = nsView.rowInk(); return r.length === 3 && r.every(n => n > 50); })()`, wait)

	// On a 1400-px wide screen every column of the stream table is in sight, gaps included.
	if _, err := chromedp.Run(bctx, chromedp.EmulateViewport(1400, 900)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, bctx, "the stream table's gaps column inside its panel at 1400 px",
		`(() => { const box = document.querySelector('aside').getBoundingClientRect();
		  const cells = [...document.querySelectorAll('#streams tr')].map(r => r.cells[5]).filter(c => c);
		  return cells.length > 1 && cells.every(c => { const r = c.getBoundingClientRect(); return r.width > 10 && r.right <= box.right + 0.5; }); })()`, wait)
}
