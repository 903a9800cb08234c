package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ingestLiblsl measures liblsl's own ingest ceiling on this machine beside ours: a liblsl outlet
// pushing float32 chunks as fast as it can to a liblsl inlet in another process (both liblsl 1.12
// through tools/lsl_peer.py), for the channel counts of benchIngest. The ceiling is the lower of
// the outlet's push rate and the inlet's pull rate; cores are the two processes' CPU time over the
// inlet's time from first to last pull. Ours counts source, broker and consumer (one process).
func ingestLiblsl(ctx context.Context, r *benchRun, ours map[int]*ingestResult) error {
	peer, err := lslPeerCommand(r)
	if err != nil {
		fmt.Fprintf(r.out, "liblsl side by side skipped: %v\n", err)
		fmt.Fprintln(r.out, "  liblsl (published): ~75 M samples/s (2,500 ch x 30 kHz) at about half a core")
		return nil
	}
	floats := 240e6 // ~1 GB a case
	if r.short {
		floats = 24e6
	}
	fmt.Fprintln(r.out, "liblsl 1.12 outlet -> liblsl inlet on this machine (separate processes, driven through Python ctypes, pushed as fast as the outlet can):")
	fmt.Fprintf(r.out, "%-9s %6s %16s %16s %16s %7s %7s %8s | %16s %7s %8s | %9s %9s %8s\n", "channels", "chunk", "outlet samples/s", "inlet samples/s",
		"liblsl ceiling", "lost", "cores", "c/75M", "ours samples/s", "cores", "c/75M", "rate o/l", "c/75M o/l", "load")
	for _, ch := range ingestChannels {
		lsl, err := liblslIngestRun(ctx, peer, ch, floats)
		if err != nil {
			fmt.Fprintf(r.out, "%-9d liblsl error: %v\n", ch, err)
			continue
		}
		per75 := func(cores, rate float64) float64 { return cores * 75e6 / rate }
		lslCeil := min(lsl.pushRate, lsl.pullRate)
		row := fmt.Sprintf("%-9d %6d %16.3g %16.3g %16.3g %7d %7.2f %8.2f |", ch, lsl.chunk, lsl.pushRate, lsl.pullRate, lslCeil, lsl.lost, lsl.cores, per75(lsl.cores, lslCeil))
		if o := ours[ch]; o != nil && lslCeil > 0 {
			oc := min(o.sourceRate, o.consumerRate)
			row += fmt.Sprintf(" %16.3g %7.2f %8.2f | %8.2fx %8.2fx", oc, o.cpuPerSec, per75(o.cpuPerSec, oc), oc/lslCeil, per75(o.cpuPerSec, oc)/per75(lsl.cores, lslCeil))
		} else {
			row += fmt.Sprintf(" %16s %7s %8s | %9s %9s", "-", "-", "-", "-", "-")
		}
		fmt.Fprintf(r.out, "%s %8s\n", row, loadAverage())
	}
	fmt.Fprintln(r.out, "  c/75M: CPU cores per 75 M samples/s (the published liblsl figure: 2,500 ch x 30 kHz at about half a core);")
	fmt.Fprintln(r.out, "  o/l: ours (through the broker) / liblsl; the rate ratio above 1 and the cores ratio below 1 favour ours")
	return nil
}

type liblslIngest struct {
	chunk              int
	pushRate, pullRate float64 // float32 samples/s
	cores              float64 // outlet + inlet
	lost               int64   // samples pushed but not pulled
}

// liblslIngestRun pushes about floats float32 values of nch channels from a liblsl outlet to a liblsl
// inlet as fast as they go, in chunks of ~256 KB (at least 32 samples).
func liblslIngestRun(ctx context.Context, peer []string, nch int, floats float64) (*liblslIngest, error) {
	chunk := max(32, 65536/nch)
	const rate = 30000.0 // nominal: sizes the outlet's buffer (360 s of it), not the pace
	total := int64(floats) / int64(nch)
	name := fmt.Sprintf("nsbench-ingest-%d", time.Now().UnixNano())
	out, err := startLSLPeer(ctx, peer, benchOutletArgs(name, nch, rate, float64(total)/rate, chunk, false, nil)...)
	if err != nil {
		return nil, err
	}
	defer out.stop()
	if _, err := out.expect("ready", 30*time.Second); err != nil {
		return nil, err
	}
	// The outlet's CPU from here until the inlet is done: pushing, then its I/O thread sending what
	// it buffered (pushing alone is a copy into that buffer, far faster than the transfer).
	outCPU0 := procCPUTime(out.cmd.Process.Pid)
	in, err := startLSLPeer(ctx, peer, "bench-inlet", "name='"+name+"'", "300", strconv.FormatInt(total, 10))
	if err != nil {
		return nil, err
	}
	defer in.stop()
	l, err := out.expect("pushed", 5*time.Minute)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(l)
	if len(f) < 3 {
		return nil, fmt.Errorf("liblsl peer printed %q, want \"pushed SAMPLES SECONDS\"", l)
	}
	pushed, _ := strconv.ParseInt(f[1], 10, 64)
	pushSecs, _ := strconv.ParseFloat(f[2], 64)
	js, err := in.expect("{", 5*time.Minute)
	if err != nil {
		return nil, err
	}
	outCPU := procCPUTime(out.cmd.Process.Pid) - outCPU0
	var got struct {
		Samples int64   `json:"samples"`
		Elapsed float64 `json:"elapsed"`
		CPU     float64 `json:"cpu"`
		First   int64   `json:"first_samples"` // pulled at once: they arrived before the clock started
	}
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		return nil, err
	}
	if pushSecs <= 0 || got.Elapsed <= 0 {
		return nil, fmt.Errorf("nothing measured: %d samples pushed in %.3f s, %d pulled in %.3f s", pushed, pushSecs, got.Samples, got.Elapsed)
	}
	return &liblslIngest{
		chunk:    chunk,
		pushRate: float64(pushed*int64(nch)) / pushSecs,
		pullRate: float64((got.Samples-got.First)*int64(nch)) / got.Elapsed,
		cores:    (outCPU.Seconds() + got.CPU) / got.Elapsed,
		lost:     pushed - got.Samples,
	}, nil
}
