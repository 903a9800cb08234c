package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

func runDrill(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("drill", "[flags]",
		"Fault drills on this machine (loopback only), printing what was tried, what survived and what was lost or\n"+
			"duplicated: (1) a persistent broker (broker --data-dir) is killed with SIGKILL and restarted while a source,\n"+
			"a filter and a decode stage (configs/distributed.yaml's) run as separate processes of this binary: every\n"+
			"process must recover by itself and every topic hold each frame and prediction once; (2) a 3-broker cluster\n"+
			"loses the leader of a stream's partition mid-stream; (3) a broker requiring SCRAM refuses a wrong password.")
	fs.SetOutput(out)
	restarts := fs.Int("restarts", 3, "broker kills")
	up := fs.Duration("up", 5*time.Second, "how long the broker runs between kills")
	down := fs.Duration("down", 3*time.Second, "how long the broker stays dead each time")
	keep := fs.Bool("keep", false, "keep the drill's directory (logs, broker data, spool) and print where")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	dir, err := os.MkdirTemp("", "neurostream-drill-")
	if err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	if *keep {
		fmt.Fprintf(out, "drill directory: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	res, err := drillBrokerRestart(ctx, exe, dir, *restarts, *up, *down, out)
	if err != nil {
		return err
	}
	cl, err := drillClusterLeader(ctx, 400)
	if err != nil {
		return err
	}
	sec, err := drillWrongPassword(ctx)
	if err != nil {
		return err
	}
	res.printWith(out, &cl, &sec)
	if !res.ok() || cl.lost != 0 || cl.duplicated != 0 || !sec.refused {
		return errors.New("drill: data lost or duplicated, a process did not recover, or a wrong password got in (logs: run with --keep)")
	}
	return nil
}

type clusterResult struct{ tried, distinct, lost, duplicated int }

// drillClusterLeader publishes n frames to a 3-node embedded cluster, stopping the node that leads
// the stream's partition halfway, and reads them back as a consumer-group member.
func drillClusterLeader(ctx context.Context, n int) (clusterResult, error) {
	var r clusterResult
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", Nodes: 3})
	if err != nil {
		return r, err
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cfg := streams.Config{Brokers: b.Addrs(), Namespace: "drill-cluster", Outages: streams.NewOutages(newLogger(io.Discard, false))}
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, 3, 3); err != nil {
		return r, err
	}
	p, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		return r, err
	}
	defer p.Close()
	for seq := 0; seq < n; seq++ {
		if seq == n/2 {
			part, err := cfg.PartitionOf(ctx, topics.Raw, "s")
			if err != nil {
				return r, err
			}
			if err := b.RemoveNode(b.LeaderOf(topics.Raw, part)); err != nil {
				return r, err
			}
		}
		if err := p.PublishFrames(ctx, topics.Raw, &streams.Frame{StreamID: "s", Seq: uint64(seq), NumSamples: 1, NumChannels: 1, Samples: []float32{0}}); err != nil {
			return r, err
		}
		r.tried++
	}
	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Raw, GroupID: "drill", FromStart: true})
	if err != nil {
		return r, err
	}
	defer c.Close()
	var seqs []uint64
	var f streams.Frame
	for {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		_, _, err := c.ReadFrame(rctx, &f)
		rcancel()
		if err != nil {
			break // 5 s without a frame: all read
		}
		seqs = append(seqs, f.Seq)
	}
	d, gaps := distinctAndGaps(seqs, 1)
	_ = gaps // every value lies in 0..tried-1: what is not there was lost
	r.distinct, r.duplicated, r.lost = d, len(seqs)-d, r.tried-d
	return r, nil
}

type securityResult struct {
	refused bool
	message string
}

// drillWrongPassword starts a broker requiring SCRAM-SHA-256 and connects with the right password
// and with a wrong one.
func drillWrongPassword(ctx context.Context) (securityResult, error) {
	var r securityResult
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", SASL: broker.SASL{Mechanism: "SCRAM-SHA-256", User: "lab", Password: "right"}})
	if err != nil {
		return r, err
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cfg := streams.Config{Brokers: []string{b.Addr()}, Namespace: "drill-sec", Outages: streams.NewOutages(newLogger(io.Discard, false)),
		SASL: streams.SASLConfig{Mechanism: "SCRAM-SHA-256", Username: "lab", Password: "right"}}
	if err := streams.EnsureTopics(ctx, cfg, cfg.Topics(), 1, 1); err != nil {
		return r, fmt.Errorf("drill: the right password was refused: %w", err)
	}
	cfg.SASL.Password = "wrong"
	err = streams.EnsureTopics(ctx, cfg, cfg.Topics(), 1, 1)
	r.refused = err != nil && ctx.Err() == nil && errors.Is(err, kafka.SASLAuthenticationFailed)
	if err != nil {
		r.message = err.Error()
	}
	return r, nil
}

// drillResult is the outcome of the broker-restart drill.
type drillResult struct {
	restarts  int
	processes []string // the stage processes that ran through it
	survived  []string // those that were still running at the end and stopped cleanly
	topics    []topicCount
	// outageFrames counts raw frames acquired while the broker was dead (they went through the spool).
	outageFrames int
	// reconnect is, per restart, the longest time from the broker listening again to a process's
	// "Kafka reachable again".
	reconnect []time.Duration
}

type topicCount struct {
	name                     string
	total, distinct          int
	lost, duplicated, epochs int
}

func (r drillResult) ok() bool {
	if len(r.survived) != len(r.processes) {
		return false
	}
	for _, t := range r.topics {
		if t.lost != 0 || t.duplicated != 0 || t.distinct == 0 {
			return false
		}
	}
	return true
}

func (r drillResult) print(out io.Writer) { r.printWith(out, nil, nil) }

// printWith prints the drill table, with the cluster and security rows when given.
func (r drillResult) printWith(out io.Writer, cl *clusterResult, sec *securityResult) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "drill\ttried\tsurvived\tlost\tduplicated\t\n")
	fmt.Fprintf(w, "broker kill -9 + restart x%d: stage processes\t%d\t%d\t\t\t\n", r.restarts, len(r.processes), len(r.survived))
	for _, t := range r.topics {
		fmt.Fprintf(w, "  %s\t%d\t%d\t%d\t%d\t\n", t.name, t.distinct+t.lost, t.distinct, t.lost, t.duplicated)
	}
	if cl != nil {
		fmt.Fprintf(w, "3-broker cluster, partition leader stopped: frames\t%d\t%d\t%d\t%d\t\n", cl.tried, cl.distinct, cl.lost, cl.duplicated)
	}
	if sec != nil {
		refused := 0
		if sec.refused {
			refused = 1
		}
		fmt.Fprintf(w, "SCRAM broker, wrong password: refused at once\t1\t%d\t\t\t\n", refused)
	}
	w.Flush()
	fmt.Fprintf(out, "raw frames acquired while the broker was dead (spooled, then published): %d\n", r.outageFrames)
	var rc []string
	for _, d := range r.reconnect {
		rc = append(rc, d.Round(time.Millisecond).String())
	}
	fmt.Fprintf(out, "reconnect after each restart (broker listening -> last process reachable again): %s\n", strings.Join(rc, ", "))
	if sec != nil && sec.message != "" {
		fmt.Fprintf(out, "wrong password: %s\n", sec.message)
	}
}

// drillProc is a child process of the drill.
type drillProc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startDrillProc(exe, dir, name string, env []string, args ...string) (*drillProc, error) {
	logPath := filepath.Join(dir, name+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = lf, lf, env
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("drill: start %s: %w", name, err)
	}
	p := &drillProc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *drillProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop interrupts the process as Ctrl-C would and waits for it (killing it after timeout).
func (p *drillProc) stop(timeout time.Duration) error {
	if p.exited() {
		return fmt.Errorf("%s had already exited: %v", p.name, p.err)
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %v of an interrupt", p.name, timeout)
	}
}

func (p *drillProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func waitListening(ctx context.Context, addr string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return time.Now(), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("drill: broker not listening on %s after %v: %w", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// drillBrokerRestart runs the broker kill -9 drill with exe (a neurostream binary) in dir.
func drillBrokerRestart(ctx context.Context, exe, dir string, restarts int, up, down time.Duration, progress io.Writer) (drillResult, error) {
	res := drillResult{restarts: restarts}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	addr := l.Addr().String()
	l.Close()
	// The decoder's threshold, fitted on synthetic EEG of another seed, as the demo does.
	sc := synthetic.Config{StreamID: "drill-1", Channels: 32, SampleRateHz: 250, FrameSamples: 8, Seed: 1, BlockSec: 10, LineHz: 50}
	model, _, err := calibrateOnSynthetic(sc, 60)
	if err != nil {
		return res, err
	}
	modelPath := filepath.Join(dir, "alpha.json")
	if err := model.Save(modelPath); err != nil {
		return res, err
	}
	config := filepath.Join(dir, "distributed.yaml")
	yaml := fmt.Sprintf(`kafka: {namespace: drill}
sources:
  - {kind: synthetic, stream_id: drill-1, channels: 32, sample_rate_hz: 250, frame_samples: 8, realtime: true}
pipelines:
  - name: filter
    input: raw
    output: clean
    stages:
      - {kind: notch, freq_hz: 50}
      - {kind: bandpass, low_hz: 1, high_hz: 40}
  - name: decode
    input: clean
    stages:
      - {kind: decoder, decoder: alpha, model: %q, step_sec: 0.5}
`, modelPath)
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		return res, err
	}
	env := append(os.Environ(), "XDG_STATE_HOME="+filepath.Join(dir, "state"), "NEUROSTREAM_BROKERS=")
	dataDir := filepath.Join(dir, "broker-data")
	startBroker := func(i int) (*drillProc, time.Time, error) {
		b, err := startDrillProc(exe, dir, fmt.Sprintf("broker-%d", i), env, "broker", "--addr", addr, "--data-dir", dataDir)
		if err != nil {
			return nil, time.Time{}, err
		}
		at, err := waitListening(ctx, addr, 30*time.Second)
		if err != nil {
			b.kill()
		}
		return b, at, err
	}
	b, _, err := startBroker(0)
	if err != nil {
		return res, err
	}
	defer func() { _ = b.stop(10 * time.Second) }()
	common := []string{"--config", config, "--brokers", addr, "--metrics-addr", "off"}
	var procs []*drillProc
	defer func() {
		for _, p := range procs {
			if !p.exited() {
				p.kill()
			}
		}
	}()
	for _, s := range []struct{ name, arg, val string }{{"filter", "--pipeline", "filter"}, {"decode", "--pipeline", "decode"}, {"source", "--only", "sources"}} {
		p, err := startDrillProc(exe, dir, s.name, env, append([]string{"run", s.arg, s.val}, common...)...)
		if err != nil {
			return res, err
		}
		procs = append(procs, p)
		res.processes = append(res.processes, s.name)
	}
	kc := streams.Config{Brokers: []string{addr}, Namespace: "drill", Outages: streams.NewOutages(newLogger(io.Discard, false))}
	topics := kc.Topics()
	if err := waitFirst(ctx, kc, topics.Predictions, 90*time.Second); err != nil {
		return res, fmt.Errorf("drill: no prediction before the first kill: %w", err)
	}
	fmt.Fprintf(progress, "drill: pipeline running; killing the broker %d times (%v up, %v down)\n", restarts, up, down)
	var deadFrom, deadTo []int64
	var listening []time.Time
	for i := 1; i <= restarts; i++ {
		time.Sleep(up)
		deadFrom = append(deadFrom, time.Now().UnixNano())
		b.kill()
		time.Sleep(down)
		var at time.Time
		if b, at, err = startBroker(i); err != nil {
			return res, err
		}
		deadTo = append(deadTo, at.UnixNano())
		listening = append(listening, at)
		fmt.Fprintf(progress, "drill: kill %d/%d done, broker back\n", i, restarts)
	}
	time.Sleep(up)
	for _, p := range procs {
		if !p.exited() {
			res.survived = append(res.survived, p.name)
		}
	}
	// Stop the source, let the stages catch up with what it published, then stop them.
	src := procs[2]
	if err := src.stop(30 * time.Second); err != nil {
		fmt.Fprintf(progress, "drill: source: %v\n", err)
		res.survived = slices.DeleteFunc(res.survived, func(n string) bool { return n == "source" })
	}
	raw, err := readTopic(ctx, kc, topics.Raw)
	if err != nil {
		return res, err
	}
	want := len(raw)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		clean, err := readTopic(ctx, kc, topics.Clean)
		if err == nil && len(clean) >= want {
			break
		}
	}
	time.Sleep(2 * time.Second) // the last predictions
	for _, p := range procs[:2] {
		if err := p.stop(30 * time.Second); err != nil {
			fmt.Fprintf(progress, "drill: %s: %v\n", p.name, err)
			res.survived = slices.DeleteFunc(res.survived, func(n string) bool { return n == p.name })
		}
	}
	for _, t := range []string{topics.Raw, topics.Clean} {
		msgs, err := readTopic(ctx, kc, t)
		if err != nil {
			return res, err
		}
		tc := topicCount{name: t, total: len(msgs)}
		type key struct {
			stream string
			epoch  uint64
		}
		seqs := map[key][]uint64{}
		var f streams.Frame
		for _, m := range msgs {
			if streams.MessageType(m) != streams.TypeFrame {
				continue
			}
			if err := streams.DecodeFrame(m.Value, &f); err != nil {
				return res, fmt.Errorf("drill: %s: %w", t, err)
			}
			k := key{f.StreamID, f.Epoch}
			seqs[k] = append(seqs[k], f.Seq)
			if t == topics.Raw {
				for i := range deadFrom {
					if f.AcquiredAtNs >= deadFrom[i] && f.AcquiredAtNs < deadTo[i] {
						res.outageFrames++
					}
				}
			}
		}
		tc.total, tc.epochs = 0, len(seqs)
		for _, s := range seqs {
			tc.total += len(s)
			d, lost := distinctAndGaps(s, 1)
			tc.distinct += d
			tc.lost += lost
		}
		tc.duplicated = tc.total - tc.distinct
		res.topics = append(res.topics, tc)
	}
	preds, err := readTopic(ctx, kc, topics.Predictions)
	if err != nil {
		return res, err
	}
	ends := map[string][]uint64{}
	for _, m := range preds {
		var p streams.Prediction
		if err := json.Unmarshal(m.Value, &p); err != nil {
			return res, fmt.Errorf("drill: prediction: %w", err)
		}
		ends[p.StreamID] = append(ends[p.StreamID], uint64(p.WindowEndSample))
	}
	tc := topicCount{name: topics.Predictions, total: len(preds), epochs: len(ends)}
	for _, e := range ends {
		d, lost := distinctAndGaps(e, uint64(0.5*sc.SampleRateHz))
		tc.distinct += d
		tc.lost += lost
	}
	tc.duplicated = tc.total - tc.distinct
	res.topics = append(res.topics, tc)
	// Reconnect times from the processes' logs.
	for _, at := range listening {
		var worst time.Duration
		for _, p := range procs {
			if t := firstReachableAfter(p.log, at); !t.IsZero() && t.Sub(at) > worst {
				worst = t.Sub(at)
			}
		}
		res.reconnect = append(res.reconnect, worst)
	}
	return res, nil
}

// distinctAndGaps counts the distinct values of vs and the values missing between its smallest and
// largest one, for values spaced step apart.
func distinctAndGaps(vs []uint64, step uint64) (distinct, missing int) {
	s := slices.Clone(vs)
	slices.Sort(s)
	s = slices.Compact(s)
	for i := 1; i < len(s); i++ {
		if gap := (s[i] - s[i-1]) / step; gap > 1 {
			missing += int(gap - 1)
		}
	}
	return len(s), missing
}

// firstReachableAfter finds the first "Kafka reachable again" a process logged after t.
func firstReachableAfter(logPath string, t time.Time) time.Time {
	f, err := os.Open(logPath)
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `msg="Kafka reachable again"`) || !strings.HasPrefix(line, "time=") {
			continue
		}
		ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err == nil && at.After(t) {
			return at
		}
	}
	return time.Time{}
}

// waitFirst waits for one message on topic.
func waitFirst(ctx context.Context, kc streams.Config, topic string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: topic, GroupID: fmt.Sprintf("drill-wait-%d", time.Now().UnixNano()), FromStart: true})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Fetch(ctx)
	return err
}

// readTopic reads every message topic holds now, partition by partition, up to each one's end.
func readTopic(ctx context.Context, kc streams.Config, topic string) ([]kafka.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	d, err := kc.Dialer()
	if err != nil {
		return nil, err
	}
	parts, err := d.LookupPartitions(ctx, "tcp", kc.Brokers[0], topic)
	if err != nil {
		return nil, fmt.Errorf("drill: partitions of %s: %w", topic, err)
	}
	var out []kafka.Message
	for _, p := range parts {
		conn, err := d.DialLeader(ctx, "tcp", kc.Brokers[0], topic, p.ID)
		if err != nil {
			return nil, fmt.Errorf("drill: %s[%d]: %w", topic, p.ID, err)
		}
		first, last, err := conn.ReadOffsets()
		conn.Close()
		if err != nil {
			return nil, fmt.Errorf("drill: offsets of %s[%d]: %w", topic, p.ID, err)
		}
		if last <= first {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.Brokers, Topic: topic, Partition: p.ID, Dialer: d, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 500 * time.Millisecond})
		if err := r.SetOffset(first); err != nil {
			r.Close()
			return nil, err
		}
		for off := first; off < last; {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("drill: read %s[%d]@%d: %w", topic, p.ID, off, err)
			}
			out = append(out, m)
			off = m.Offset + 1
		}
		r.Close()
	}
	return out, nil
}
