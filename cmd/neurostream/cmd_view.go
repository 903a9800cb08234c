package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/neurostream/neurostream/internal/view"
	"github.com/neurostream/neurostream/streams"
)

func runView(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("view", "[flags]",
		"Serves the live view: a web page that lists the streams on Kafka and, for the one you choose, draws\n"+
			"every channel's signal with its markers, power spectra, a scalp map of band power, the decoder's\n"+
			"predictions, features, and latency and sequence-gap counters, as they arrive. Open the printed URL\n"+
			"in any browser. It listens on this machine only unless --addr says otherwise (e.g. 0.0.0.0:9470).")
	fs.SetOutput(out)
	var kf kafkaFlags
	kf.register(fs)
	addr := fs.String("addr", view.DefaultAddr, "listen address host:port (host:0 picks a free port)")
	history := fs.Float64("history", 30, "seconds of signal kept per watched stream (the longest time span on screen)")
	verbose := fs.Bool("v", false, "verbose logs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := newLogger(os.Stderr, *verbose)
	kc, stop, err := kf.connect(ctx, streams.Config{}, log)
	if err != nil {
		return err
	}
	defer stop()
	url, err := startView(ctx, kc, *addr, *history, false, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "live view: %s (streams of %s on %s); Ctrl-C to stop\n", url, kc.Namespace, strings.Join(kc.Brokers, ","))
	<-ctx.Done()
	return nil
}

// startView serves the live view on addr; with fallback, a taken address falls back to a free port
// on the same host (the demo should run even when another one holds the default).
func startView(ctx context.Context, kc streams.Config, addr string, historySec float64, fallback bool, log *slog.Logger) (string, error) {
	srv, err := view.New(view.Config{Kafka: kc, Addr: addr, HistorySec: historySec, Log: log})
	if err != nil {
		return "", err
	}
	url, err := srv.Serve(ctx)
	// Only a taken port falls back: a malformed address is the user's mistake to hear about, and
	// falling back from it would listen on every interface.
	if err != nil && fallback && errors.Is(err, syscall.EADDRINUSE) {
		host, _, _ := net.SplitHostPort(addr)
		if srv, err = view.New(view.Config{Kafka: kc, Addr: net.JoinHostPort(host, "0"), HistorySec: historySec, Log: log}); err != nil {
			return "", err
		}
		url, err = srv.Serve(ctx)
	}
	return url, err
}
