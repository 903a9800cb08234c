package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/neurostream/neurostream/acquisition/lsl"
	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/decoders/alpha"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
	"github.com/neurostream/neurostream/streams/metrics"
)

// benchLSL compares neurostream's pure-Go LSL inlet with liblsl's own inlet on samples pushed by a
// liblsl outlet (tools/lsl_peer.py drives liblsl 1.12 through ctypes): latency from the outlet's
// timestamp (lsl_local_clock at push) to the pull returning, per pull, and samples lost, for
// 64 ch at 1 kHz, 256 ch at 2 kHz and 512 ch at 30 kHz pushed in 1-ms chunks in real time, then
// 512 ch pushed as fast as the outlet can (the highest rate each inlet sustains). Last, liblsl outlet
// -> our inlet -> Kafka -> band-pass + alpha decoder -> prediction published.
func benchLSL(ctx context.Context, r *benchRun) error {
	peer, err := lslPeerCommand(r)
	if err != nil {
		fmt.Fprintf(r.out, "skipped: %v\n", err)
		return nil
	}
	secs := 10.0
	if r.short {
		secs = 4
	}
	fmt.Fprintf(r.out, "%-26s %-17s %10s %10s %6s %10s %10s %10s %12s\n", "case", "inlet", "pushed", "received", "lost", "p50", "p99", "max", "samples/s")
	cases := []struct {
		name        string
		nch, chunk  int
		rate        float64
		paced       bool
		floodFactor float64
	}{
		{"64 ch 1 kHz", 64, 1, 1000, true, 0},
		{"256 ch 2 kHz", 256, 2, 2000, true, 0},
		{"512 ch 30 kHz", 512, 30, 30000, true, 0},
		{"512 ch unpaced (max rate)", 512, 300, 30000, false, 0},
	}
	for _, c := range cases {
		for _, inlet := range []string{"liblsl (ctypes)", "neurostream (Go)"} {
			var res *lslRunResult
			if inlet == "neurostream (Go)" {
				res, err = lslOurInlet(ctx, peer, c.nch, c.rate, secs, c.chunk, c.paced)
			} else {
				res, err = lslLiblslInlet(ctx, peer, c.nch, c.rate, secs, c.chunk, c.paced)
			}
			if err != nil {
				fmt.Fprintf(r.out, "%-26s %-17s error: %v\n", c.name, inlet, err)
				continue
			}
			rate := "-"
			if res.elapsed > 0 {
				rate = fmt.Sprintf("%.0f", float64(res.received)/res.elapsed)
			}
			fmt.Fprintf(r.out, "%-26s %-17s %10d %10d %6d %10s %10s %10s %12s\n", c.name, inlet, res.pushed, res.received, res.pushed-res.received,
				fmtSec(res.p(0.5)), fmtSec(res.p(0.99)), fmtSec(res.p(1)), rate)
		}
	}
	fmt.Fprintln(r.out, "latency: outlet timestamp (lsl_local_clock just before the push) to the pull returning, one value per pull;")
	fmt.Fprintln(r.out, "liblsl's inlet is driven from Python (ctypes), which adds its call overhead to liblsl's numbers.")

	lat, err := lslEndToEnd(ctx, peer, secs+5)
	if err != nil {
		fmt.Fprintf(r.out, "liblsl outlet -> neurostream inlet -> Kafka -> decoder -> prediction: error: %v\n", err)
		return nil
	}
	verdict := "met"
	if lat.p(0.5) > 1.5e-3 {
		verdict = "NOT met"
	}
	fmt.Fprintf(r.out, "liblsl outlet -> neurostream inlet -> Kafka -> band-pass + alpha decoder -> prediction (64 ch 250 Hz, %d predictions):\n"+
		"  p50 %s, p99 %s, max %s; target p50 < 1.5 ms: %s (%.2fx the target)\n",
		len(lat.lat), fmtSec(lat.p(0.5)), fmtSec(lat.p(0.99)), fmtSec(lat.p(1)), verdict, lat.p(0.5)/1.5e-3)
	return nil
}

func fmtSec(s float64) string { return fmt.Sprintf("%.3f ms", s*1e3) }

type lslRunResult struct {
	pushed, received int64
	lat              []float64 // seconds, sorted
	elapsed          float64   // first to last pull, seconds
}

func (r *lslRunResult) p(q float64) float64 {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[int(q*float64(len(r.lat)-1))]
}

// lslPeerCommand is the command prefix that runs tools/lsl_peer.py against liblsl.
func lslPeerCommand(r *benchRun) ([]string, error) {
	if r.python == "" {
		return nil, errors.New("references disabled (--no-reference): liblsl is driven from Python")
	}
	lib := os.Getenv("NEUROSTREAM_LIBLSL")
	if lib == "" {
		lib = filepath.Join(filepath.Dir(r.toolsDir), ".cache", "liblsl", "liblsl64.so")
	}
	if _, err := os.Stat(lib); err != nil {
		return nil, fmt.Errorf("liblsl not found at %s: run tools/install-liblsl.sh (or set NEUROSTREAM_LIBLSL)", lib)
	}
	script := filepath.Join(r.toolsDir, "lsl_peer.py")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("%s not found (run from the repository or pass --tools)", script)
	}
	return []string{r.python, script, lib}, nil
}

// lslProc is a running lsl_peer.py.
type lslProc struct {
	cmd   *exec.Cmd
	lines chan string
}

func startLSLPeer(ctx context.Context, peer []string, args ...string) (*lslProc, error) {
	cmd := exec.CommandContext(ctx, peer[0], append(peer[1:], args...)...)
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &lslProc{cmd: cmd, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 256<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p, nil
}

func (p *lslProc) stop() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

func (p *lslProc) expect(prefix string, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return "", fmt.Errorf("liblsl peer exited before printing %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-deadline:
			return "", fmt.Errorf("liblsl peer printed no %q within %v", prefix, timeout)
		}
	}
}

func benchOutletArgs(name string, nch int, rate, secs float64, chunk int, paced bool, labels []string) []string {
	p := "1"
	if !paced {
		p = "0"
	}
	args := []string{"bench-outlet", name, strconv.Itoa(nch), strconv.FormatFloat(rate, 'g', -1, 64), strconv.FormatFloat(secs, 'g', -1, 64), strconv.Itoa(chunk), p}
	if labels != nil {
		args = append(args, strings.Join(labels, ","))
	}
	return args
}

func parsePushed(line string) int64 {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n
}

// lslOurInlet: a liblsl outlet, neurostream's inlet.
func lslOurInlet(ctx context.Context, peer []string, nch int, rate, secs float64, chunk int, paced bool) (*lslRunResult, error) {
	name := fmt.Sprintf("nsbench-%d", time.Now().UnixNano())
	out, err := startLSLPeer(ctx, peer, benchOutletArgs(name, nch, rate, secs, chunk, paced, nil)...)
	if err != nil {
		return nil, err
	}
	defer out.stop()
	if _, err := out.expect("ready", 30*time.Second); err != nil {
		return nil, err
	}
	found, err := lsl.Resolve(ctx, "name='"+name+"'", lsl.ResolveOptions{Wait: 10 * time.Second, Minimum: 1})
	if err != nil || len(found) == 0 {
		return nil, fmt.Errorf("liblsl outlet not found: %v", err)
	}
	in, err := lsl.OpenInlet(ctx, found[0], lsl.InletOptions{NoRecover: true})
	if err != nil {
		return nil, err
	}
	defer in.Close()
	res := &lslRunResult{lat: make([]float64, 0, int(secs*1000)+100)}
	pushed := make(chan int64, 1)
	go func() {
		l, err := out.expect("pushed", time.Duration(secs*float64(time.Second))*4+60*time.Second)
		if err != nil {
			pushed <- -1
			return
		}
		pushed <- parsePushed(l)
	}()
	var c lsl.Chunk
	var first, last float64
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res.pushed = -1
	for {
		select {
		case n := <-pushed:
			res.pushed = n
			// What was pushed has had time to arrive once the outlet says it is done and a
			// second passes with nothing more.
			time.AfterFunc(time.Second, cancel)
		default:
		}
		if res.pushed >= 0 && res.received >= res.pushed {
			break
		}
		err := in.Pull(pctx, &c, 0)
		now := lsl.Clock()
		if err != nil {
			if pctx.Err() != nil && ctx.Err() == nil {
				if res.pushed < 0 {
					continue
				}
				break
			}
			return nil, err
		}
		res.lat = append(res.lat, now-c.Timestamps[c.N-1])
		res.received += int64(c.N)
		if first == 0 {
			first = now
		}
		last = now
	}
	res.elapsed = last - first
	slices.Sort(res.lat)
	return res, nil
}

// lslLiblslInlet: a liblsl outlet, liblsl's inlet (both driven from Python).
func lslLiblslInlet(ctx context.Context, peer []string, nch int, rate, secs float64, chunk int, paced bool) (*lslRunResult, error) {
	name := fmt.Sprintf("nsbench-%d", time.Now().UnixNano())
	out, err := startLSLPeer(ctx, peer, benchOutletArgs(name, nch, rate, secs, chunk, paced, nil)...)
	if err != nil {
		return nil, err
	}
	defer out.stop()
	if _, err := out.expect("ready", 30*time.Second); err != nil {
		return nil, err
	}
	in, err := startLSLPeer(ctx, peer, "bench-inlet", "name='"+name+"'", strconv.FormatFloat(secs+3, 'g', -1, 64))
	if err != nil {
		return nil, err
	}
	defer in.stop()
	l, err := out.expect("pushed", time.Duration(secs*float64(time.Second))*4+60*time.Second)
	if err != nil {
		return nil, err
	}
	res := &lslRunResult{pushed: parsePushed(l)}
	js, err := in.expect("{", 2*time.Duration(secs*float64(time.Second))+60*time.Second)
	if err != nil {
		return nil, err
	}
	var got struct {
		Samples   int64     `json:"samples"`
		Latencies []float64 `json:"latencies"`
		Elapsed   float64   `json:"elapsed"`
	}
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		return nil, err
	}
	res.received, res.lat, res.elapsed = got.Samples, got.Latencies, got.Elapsed
	slices.Sort(res.lat)
	return res, nil
}

// lslEndToEnd: a liblsl outlet pushing 64 ch at 250 Hz one sample at a time (the synthetic
// headset's channel names), acquired by neurostream's LSL source in 1-sample frames, published to an
// embedded broker, band-passed and decoded by the eyes-open/closed decoder every 62.5 ms; latency
// from the outlet's timestamp of a window's last sample to its prediction's publish being
// acknowledged.
func lslEndToEnd(ctx context.Context, peer []string, secs float64) (*lslRunResult, error) {
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	dir, err := os.MkdirTemp("", "neurostream-bench-lsl")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sc := synthetic.Config{Channels: 64, SampleRateHz: 250, FrameSamples: 8, Seed: 1000, Alpha: synthetic.AlphaAlternate, DurationSec: 60}
	calibSrc, err := synthetic.New(sc)
	if err != nil {
		return nil, err
	}
	model, _, err := alpha.CalibrateOn(calibSrc)
	if err != nil {
		return nil, err
	}
	modelPath := filepath.Join(dir, "alpha.json")
	if err := model.Save(modelPath); err != nil {
		return nil, err
	}
	cinfo := calibSrc.Info()
	labels := cinfo.ChannelNames()

	name := fmt.Sprintf("nsbench-e2e-%d", time.Now().UnixNano())
	out, err := startLSLPeer(ctx, peer, benchOutletArgs(name, 64, 250, secs, 1, true, labels)...)
	if err != nil {
		return nil, err
	}
	defer out.stop()
	if _, err := out.expect("ready", 30*time.Second); err != nil {
		return nil, err
	}
	found, err := lsl.Resolve(ctx, "name='"+name+"'", lsl.ResolveOptions{Wait: 10 * time.Second, Minimum: 1})
	if err != nil || len(found) == 0 {
		return nil, fmt.Errorf("liblsl outlet not found: %v", err)
	}
	src, err := lsl.NewSource(ctx, found[0], lsl.SourceOptions{StreamID: "lsl-bench", FrameSamples: 1})
	if err != nil {
		return nil, err
	}
	defer src.Close()

	quiet := slog.New(slog.DiscardHandler)
	cfg := &pipeline.Config{Kafka: streams.Config{Brokers: []string{b.Addr()}, Namespace: "benchlsl"},
		Pipelines: []pipeline.PipelineConfig{{Name: "bench", Stages: []pipeline.StageConfig{
			{Kind: "bandpass", LowHz: 1, HighHz: 40},
			{Kind: "decoder", Decoder: "alpha", Model: modelPath, StepSec: 0.0625},
		}}}}
	res := &lslRunResult{}
	var mu sync.Mutex
	warmup := int64(3 * 250)
	onPred := func(p *streams.Prediction) {
		now := time.Now().UnixNano()
		if p.WindowEndSample < warmup {
			return
		}
		// With 1-sample frames the window's last sample is the frame's: WindowEndSourceNs is one
		// sample period after its (time-corrected) LSL timestamp.
		pushed := p.WindowEndSourceNs - int64(1e9/250.0)
		mu.Lock()
		res.lat = append(res.lat, float64(now-pushed)/1e9)
		mu.Unlock()
	}
	m := metrics.New()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() {
		errc <- pipeline.Run(runCtx, cfg, pipeline.RunOptions{Only: "pipelines", Metrics: m, Log: quiet, Loaders: pipeline.DefaultLoaders(), OnPrediction: onPred})
	}()
	time.Sleep(time.Second) // the consumer group forms before frames flow
	go func() {
		errc <- pipeline.Run(runCtx, &pipeline.Config{Kafka: cfg.Kafka}, pipeline.RunOptions{Only: "sources", Sources: []pipeline.Source{src}, Metrics: m, Log: quiet})
	}()
	if _, err := out.expect("pushed", time.Duration(secs*float64(time.Second))*4+60*time.Second); err != nil {
		return nil, err
	}
	time.Sleep(time.Second)
	cancel()
	<-errc
	<-errc
	mu.Lock()
	defer mu.Unlock()
	if len(res.lat) == 0 {
		return nil, fmt.Errorf("no predictions (%v frames published, %v processed)", counterValue(m.FramesOut.WithLabelValues("source")), counterValue(m.FramesIn.WithLabelValues("0-bandpass")))
	}
	slices.Sort(res.lat)
	return res, nil
}
