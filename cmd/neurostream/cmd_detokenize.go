package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
)

func runDetokenize(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("detokenize", "--codebook FILE [flags]",
		"Turns the tokens topic back into signal: every patch's tokens become a frame (codewords scaled by the\n"+
			"patch's standard deviation plus its mean) on the detokenized topic, with the stream's description\n"+
			"(channels from the tokens, units and positions from the source's description). Replay it, record\n"+
			"it or view it next to the original to judge what the tokens keep. Tokens of another codebook are\n"+
			"skipped and counted. A joint codec file (train-tokenizer --joint) works the same way: each message's\n"+
			"coded block of all channels becomes a frame.")
	fs.SetOutput(out)
	var kf kafkaFlags
	kf.register(fs)
	cbPath := fs.String("codebook", "", "the codebook (or joint codec) file the tokens were made with (required)")
	outTopic := fs.String("out-topic", "detokenized", "topic for the reconstructed frames (short name or full topic name)")
	fromStart := fs.Bool("from-start", false, "start at the oldest retained tokens instead of new ones")
	group := fs.String("group", "neurostream-detokenize", "consumer group (members share the streams)")
	count := fs.Int("n", 0, "stop after N tokens messages (0: run until Ctrl-C)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cbPath == "" {
		fs.Usage()
		return fmt.Errorf("detokenize: --codebook is required (the codebook file the tokenizer stage used)")
	}
	model, err := pipeline.LoadTokenModel(*cbPath)
	if err != nil {
		return fmt.Errorf("detokenize: %w", err)
	}
	log := newLogger(os.Stderr, false)
	kc, stop, err := kf.connect(ctx, streams.Config{}, log)
	if err != nil {
		return err
	}
	defer stop()
	topic, err := kc.Topics().Resolve(*outTopic)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := pipeline.DetokenizeOptions{Model: model, OutTopic: topic, GroupID: *group, FromStart: *fromStart, Log: log,
		Count: func(done, refused int) {
			if *count > 0 && done+refused >= *count {
				cancel()
			}
		}}
	log.Info("detokenizing", "codebook", model.Name(), "tokens", kc.Topics().Tokens, "out", topic)
	return pipeline.RunDetokenize(ctx, kc, opts)
}
