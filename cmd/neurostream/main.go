// Command neurostream runs neurostream's real-time EEG/MEG pipeline: an embedded or external Kafka
// broker, acquisition sources, processing stages, decoders and sinks, plus the tools around them
// (replay, record, train, consume, bench).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. run gets the arguments after the command name and writes its output to
// out.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, out io.Writer) error
}

// commands lists every subcommand; a new one is added here and in its own cmd_<name>.go file.
func commands() []command {
	return []command{
		{"demo", "run broker + synthetic EEG + pipeline + decoder and show live predictions (--motor-imagery: PhysioNet)", runDemo},
		{"broker", "run a standalone Kafka-protocol broker (embedded kfake), optionally persistent", runBroker},
		{"acquire", "publish a synthetic EEG stream (or other source) to the raw topic", runAcquire},
		{"lsl", "list the Lab Streaming Layer streams on the network (stream from them with acquire --lsl)", runLSL},
		{"replay", "replay recorded sessions (EDF/BDF, GDF, BrainVision, EEGLAB, FIF, XDF) as live streams", runReplay},
		{"record", "record one stream from Kafka to an EDF+/BDF+/XDF file with its markers", runRecord},
		{"run", "run a pipeline described by a YAML config", runPipeline},
		{"calibrate-alpha", "calibrate the eyes-open/closed alpha decoder on recordings or synthetic data", runCalibrateAlpha},
		{"view", "serve the live view: a web page drawing the streams, spectra, scalp maps and predictions on Kafka", runView},
		{"consume", "print messages from a neurostream topic (pretty or --json)", runConsume},
		{"train", "train a native decoder (CSP+LDA, FBCSP, MDM, tangent space, xDAWN) from annotated recordings", runTrain},
		{"train-tokenizer", "learn a tokenizer codebook (k-means or residual VQ patch shapes, or mu-law) from recordings", runTrainTokenizer},
		{"detokenize", "turn the tokens topic back into signal on the detokenized topic, to hear what tokens keep", runDetokenize},
		{"decode", "decode a stream online with a trained native model (optionally replaying a recording)", runDecode},
		{"drill", "fault drills: kill -9 the broker under a multi-process pipeline, count what was lost or duplicated", runDrill},
		{"bench", "run benchmarks and print ratios against reference implementations", runBench},
		{"version", "print the version and wire-schema version", runVersion},
	}
}

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	interrupted := ctx.Err() != nil
	stop()
	if code := exitCode(err, interrupted); code != 0 {
		fmt.Fprintln(os.Stderr, "neurostream:", err)
		os.Exit(code)
	}
}

// exitCode is 0 for success, --help, and a command stopped by Ctrl-C or SIGTERM (how live commands
// are meant to end), else 1.
func exitCode(err error, interrupted bool) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case interrupted && errors.Is(err, context.Canceled):
		return 0
	}
	return 1
}

func dispatch(ctx context.Context, args []string, out, errOut io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			return dispatch(ctx, []string{args[1], "--help"}, out, errOut)
		}
		usage(out, cmds)
		return nil
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(ctx, args[1:], out)
		}
	}
	usage(errOut, cmds)
	return fmt.Errorf("unknown command %q: run `neurostream help` for the list", args[0])
}

func usage(w io.Writer, cmds []command) {
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	fmt.Fprintln(w, "neurostream: real-time EEG/MEG brain-computer-interface pipeline on Kafka")
	fmt.Fprintln(w, "\nUsage: neurostream <command> [flags]\n\nCommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `neurostream <command> --help` for a command's flags.")
	fmt.Fprintln(w, "Quick start: `neurostream demo` (needs nothing else: it starts its own broker).")
}

// newFlagSet makes a flag set whose --help prints a one-line description and the flags.
func newFlagSet(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: neurostream %s %s\n\n%s\n\nFlags:\n", name, synopsis, description)
		fs.PrintDefaults()
	}
	return fs
}
