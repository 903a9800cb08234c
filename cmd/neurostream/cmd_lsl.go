package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/neurostream/neurostream/acquisition/devices"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/neurostream/neurostream/acquisition/lsl"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/metrics"
)

func runLSL(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(out, "Usage: neurostream lsl list [flags] [QUERY]\n\n"+
			"Lab Streaming Layer tools. `list` prints the LSL streams on the network (name, type, channels, rate,\n"+
			"format, source id, host); QUERY narrows them, e.g. \"type='EEG'\" or \"starts-with(name,'BioSemi')\".\n"+
			"Stream from them with `neurostream acquire --lsl QUERY`.")
		return nil
	}
	if args[0] != "list" {
		return fmt.Errorf("lsl: unknown subcommand %q (want list)", args[0])
	}
	fs := newFlagSet("lsl list", "[flags] [QUERY]", "Prints the LSL streams on the network that match QUERY (default: all).")
	fs.SetOutput(out)
	wait := fs.Duration("wait", time.Second, "how long to collect answers")
	// --lsl-peers as in acquire and run, so one flag works everywhere; --peers is the short form.
	peers := fs.String("lsl-peers", "", "comma-separated hosts to also query by unicast (for networks that drop multicast)")
	fs.StringVar(peers, "peers", "", "same as --lsl-peers")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	found, err := lsl.Resolve(ctx, strings.Join(fs.Args(), " "), lsl.ResolveOptions{Wait: *wait, Peers: splitList(*peers)})
	if err != nil {
		return err
	}
	if len(found) == 0 {
		fmt.Fprintln(out, "no LSL stream found (is the outlet running? on another host, try --lsl-peers HOST)")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tCHANNELS\tRATE\tFORMAT\tSOURCE ID\tHOST")
	for _, s := range found {
		rate := "irregular"
		if s.NominalRateHz > 0 {
			rate = fmt.Sprintf("%g Hz", s.NominalRateHz)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%v\t%s\t%s (%s)\n", s.Name, s.Type, s.ChannelCount, rate, s.Format, s.SourceID, s.Hostname, s.V4Address)
	}
	return tw.Flush()
}

// lslFlags are acquire's LSL settings.
type lslFlags struct {
	stream string // stream id for a single data stream ("": lsl-<name>-<source id>)
	query  string
	frame  int
	peers  string
	wait   time.Duration
	// markerWait is lsl.SourceOptions.MarkerWait: 0 is its default, negative no hold.
	markerWait time.Duration
}

func (l *lslFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.query, "lsl", "", "publish the LSL streams matching this query instead of the synthetic source,\n"+
		"e.g. \"type='EEG'\", \"name='BioSemi'\", or '*' for every stream; marker streams become frame markers.\n"+
		"With --device lsl and no --lsl: \"type='EEG'\"")
	fs.IntVar(&l.frame, "lsl-frame", 8, "samples per frame for LSL streams")
	fs.StringVar(&l.peers, "lsl-peers", "", "comma-separated hosts to also query by unicast")
	fs.DurationVar(&l.wait, "lsl-wait", 2*time.Second, "how long each discovery round collects answers")
	fs.Func("lsl-marker-wait", "with marker streams, hold each frame this long after its last sample arrived, so that an event\n"+
		"sent with its samples still lands on the right one (0: no hold; later events go on the next frame) (default 50ms)",
		func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("want a duration such as 50ms or 0, not %q", v)
			}
			l.markerWait = cmp.Or(d, -1)
			return nil
		})
}

// lslSources resolves the query (waiting until something matches) and opens a source per data
// stream, with the matching marker streams attached to all of them.
func lslSources(ctx context.Context, l lslFlags, log *slog.Logger, out io.Writer) ([]pipeline.Source, func(), error) {
	q := l.query
	if q == "*" {
		q = ""
	}
	opts := lsl.ResolveOptions{Wait: l.wait, Peers: splitList(l.peers)}
	var found []lsl.StreamInfo
	for {
		var err error
		if found, err = lsl.Resolve(ctx, q, opts); err != nil {
			return nil, nil, err
		}
		if len(found) > 0 {
			break
		}
		fmt.Fprintf(out, "no LSL stream matches %q yet; still looking (Ctrl-C to stop)\n", l.query)
	}
	var data, markers []lsl.StreamInfo
	for _, s := range found {
		if s.Format == lsl.String || s.NominalRateHz == 0 {
			markers = append(markers, s)
		} else {
			data = append(data, s)
		}
	}
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("acquire: only marker streams match %q; a data stream (a regular sampling rate) is needed to carry them", l.query)
	}
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	inletOpts := lsl.InletOptions{Peers: opts.Peers, Log: log}
	var srcs []pipeline.Source
	var lsrcs []*lsl.Source
	for _, s := range data {
		id := ""
		if l.stream != "" {
			id = l.stream
			if len(data) > 1 {
				id += "-" + lsl.StreamIDFor(&s)
			}
		}
		src, err := lsl.NewSource(ctx, s, lsl.SourceOptions{StreamID: id, FrameSamples: l.frame, MarkerWait: l.markerWait, Inlet: inletOpts, Log: log})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, func() { _ = src.Close() })
		srcs, lsrcs = append(srcs, src), append(lsrcs, src)
		info := src.Info()
		fmt.Fprintf(out, "LSL %q (%s on %s, %d ch at %g Hz, %v) -> stream %s, time correction %+.3f ms\n",
			s.Name, s.Type, s.Hostname, s.ChannelCount, s.NominalRateHz, s.Format, info.StreamID, src.TimeCorrection()*1e3)
	}
	if len(markers) > 0 {
		m, err := lsl.NewMarkers(ctx, markers, lsrcs, inletOpts, log)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, func() { _ = m.Close() })
		for _, s := range markers {
			fmt.Fprintf(out, "LSL markers %q (%s on %s) -> markers on every stream above\n", s.Name, s.Type, s.Hostname)
		}
	}
	return srcs, closeAll, nil
}

// acquireLSL publishes the matching LSL streams to the raw topic until ctx ends.
func acquireLSL(ctx context.Context, kf kafkaFlags, l lslFlags, sf spoolFlags, metricsAddr string, out io.Writer) error {
	log := newLogger(os.Stderr, false)
	sp, err := sf.options(pipeline.SpoolOptions{})
	if err != nil {
		return err
	}
	srcs, closeSrcs, err := lslSources(ctx, l, log, out)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	defer closeSrcs()
	kc, stop, err := kf.connect(ctx, streams.Config{}, log)
	if err != nil {
		return err
	}
	defer stop()
	m := metrics.New()
	if err := serveMetrics(ctx, m, "", metricsAddr, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "publishing to %s on %v; Ctrl-C to stop\n", kc.Topics().Raw, kc.Brokers)
	return pipeline.Run(ctx, &pipeline.Config{Kafka: kc}, pipeline.RunOptions{Only: "sources", Sources: srcs, Log: log, Spool: sp, Metrics: m})
}

// withLSL adds the LSL inlet to a device registry as device "lsl": its query option (YAML query:,
// --lsl on acquire) selects the stream. Opened through the registry it is one source, so the query
// must match one data stream (acquire --lsl publishes every match); matching marker streams become
// its markers.
func withLSL(reg *devices.Registry) *devices.Registry {
	reg.Register(devices.Device{Name: "lsl", Transport: "network",
		Summary: "Lab Streaming Layer stream (--lsl QUERY, e.g. \"type='EEG'\"): amplifier software, muselsl, OpenBCI GUI; channels from its description",
		Info: func(devices.Options) (streams.StreamInfo, error) {
			return streams.StreamInfo{}, errors.New("an LSL stream is described by its outlet, on the network")
		},
		Open: func(ctx context.Context, o devices.Options) (devices.Source, error) {
			q := o.Query
			if q == "" {
				q = "type='EEG'"
			}
			srcs, closeAll, err := lslSources(ctx, lslFlags{stream: o.StreamID, query: q, frame: cmp.Or(o.FrameSamples, 8), wait: 2 * time.Second, markerWait: o.MarkerWait}, slog.Default(), io.Discard)
			if err != nil {
				return nil, err
			}
			if len(srcs) != 1 {
				closeAll()
				return nil, fmt.Errorf("device lsl: %d data streams match %q; narrow the query (name='...', source_id='...') or publish them all with acquire --lsl", len(srcs), q)
			}
			return lslDevice{Source: srcs[0].(*lsl.Source), close: closeAll}, nil
		}})
	return reg
}

// lslDevice is an LSL source opened through the device registry (its LiveStats feed the metrics).
type lslDevice struct {
	*lsl.Source
	close func()
}

func (d lslDevice) Close() error {
	d.close()
	return nil
}
