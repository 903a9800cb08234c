package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/neurostream/neurostream/streams"
)

// A frame written by another producer, without the ns-type header, is decoded from its topic, and
// --json prints protobuf's JSON mapping (the .proto's snake_case names), not Go field names.
func TestConsumeFrameWithoutTypeHeader(t *testing.T) {
	kc := startBroker(t, "consume-plain")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := streams.EnsureTopics(ctx, kc, kc.Topics(), 1, 1); err != nil {
		t.Fatal(err)
	}
	f := &streams.Frame{StreamID: "plain-1", Seq: 7, AcquiredAtNs: 1234, NumSamples: 2, NumChannels: 2,
		Samples: []float32{1, 2, 3, 4}, Markers: []streams.Marker{{SampleOffset: 1, Code: 5, Label: "go"}}}
	w := &kafka.Writer{Addr: kafka.TCP(kc.Brokers...), Topic: kc.Topics().Raw, BatchSize: 1}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(f.StreamID), Value: streams.AppendFrame(nil, f)}); err != nil {
		t.Fatal(err)
	}
	args := []string{"--topic", "raw", "--from-start", "-n", "1", "--partition", "0", "--brokers", kc.Brokers[0], "--namespace", kc.Namespace}
	var pretty bytes.Buffer
	if err := runConsume(ctx, args, &pretty); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pretty.String(), "frame plain-1 #7") {
		t.Fatalf("pretty output %q: the frame was not decoded", pretty.String())
	}
	var js bytes.Buffer
	if err := runConsume(ctx, append(args, "--json"), &js); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("--json output %q: %v", js.String(), err)
	}
	if got["stream_id"] != "plain-1" || got["seq"] != "7" || got["num_channels"] != 2.0 {
		t.Fatalf("--json output %q: want protobuf JSON with snake_case names", js.String())
	}
	if s, ok := got["samples"].([]any); !ok || len(s) != 4 || s[3] != 4.0 {
		t.Fatalf("--json samples %v, want [1 2 3 4]", got["samples"])
	}
	if m, ok := got["markers"].([]any); !ok || len(m) != 1 || m[0].(map[string]any)["label"] != "go" {
		t.Fatalf("--json markers %v", got["markers"])
	}
}

// consume --json prints a frame with a NaN sample ("NaN" in protobuf's JSON mapping) and goes on to the next message
// instead of exiting with "json: unsupported value: NaN".
func TestConsumeJSONPrintsNonFiniteSamples(t *testing.T) {
	cfg := startBroker(t, "cj")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topics := cfg.Topics()
	if err := streams.EnsureTopics(ctx, cfg, topics, 1, 1); err != nil {
		t.Fatal(err)
	}
	prod, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	nan := &streams.Frame{StreamID: "eeg", Epoch: 9, Seq: 1, NumSamples: 1, NumChannels: 3,
		Samples: []float32{1, float32(math.NaN()), float32(math.Inf(-1))}}
	next := &streams.Frame{StreamID: "eeg", Epoch: 9, Seq: 2, NumSamples: 1, NumChannels: 3, Samples: []float32{0.5, 2, 3}}
	if err := prod.PublishFrames(ctx, topics.Raw, nan, next); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runConsume(ctx, []string{"--brokers", cfg.Brokers[0], "--namespace", "cj", "--topic", "raw", "--json",
		"--from-start", "--partition", "0", "-n", "2"}, &out); err != nil {
		t.Fatalf("consume: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out.String())
	}
	var first, second struct {
		Seq     string
		Epoch   string
		Samples []any
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first.Seq != "1" || first.Epoch != "9" || len(first.Samples) != 3 || first.Samples[0] != 1.0 ||
		first.Samples[1] != "NaN" || first.Samples[2] != "-Infinity" {
		t.Fatalf("frame with non-finite samples printed as %s", lines[0])
	}
	if second.Seq != "2" || second.Samples[0] != 0.5 {
		t.Fatalf("next frame printed as %s", lines[1])
	}
}

// Tokens travel as protobuf: consume prints them, and --json gives protobuf's JSON mapping.
func TestConsumeTokens(t *testing.T) {
	kc := startBroker(t, "consume-tokens")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := streams.EnsureTopics(ctx, kc, kc.Topics(), 1, 1); err != nil {
		t.Fatal(err)
	}
	p, err := streams.NewProducer(kc, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	tk := &streams.Tokens{StreamID: "tok-1", Codebook: "rvq-2x64", CodebookVersion: 7, WindowEndSample: 64, PatchSamples: 32, Stages: 2,
		Tokens: []uint16{3, 9, 12, 1}, Offsets: []float32{0, 1e-6}, Scales: []float32{2e-5, 3e-5}, ChannelKeys: []string{"eeg:Cz", "eeg:Pz"}}
	if err := p.PublishTokens(ctx, kc.Topics().Tokens, tk); err != nil {
		t.Fatal(err)
	}
	args := []string{"--topic", "tokens", "--from-start", "-n", "1", "--partition", "0", "--brokers", kc.Brokers[0], "--namespace", kc.Namespace}
	var pretty bytes.Buffer
	if err := runConsume(ctx, args, &pretty); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pretty.String(), "tok-1 rvq-2x64 patch ending at sample 64: 3 9 12 1") {
		t.Fatalf("pretty output %q", pretty.String())
	}
	var js bytes.Buffer
	if err := runConsume(ctx, append(args, "--json"), &js); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("--json output %q: %v", js.String(), err)
	}
	if got["codebook"] != "rvq-2x64" || got["stages"] != 2.0 || got["window_end_sample"] != "64" {
		t.Fatalf("--json output %q", js.String())
	}
	if k, ok := got["channel_keys"].([]any); !ok || len(k) != 2 || k[1] != "eeg:Pz" {
		t.Fatalf("--json channel keys %v", got["channel_keys"])
	}

	// Quantised side information: the codes print one number per channel, not as base64.
	tk.Offsets, tk.Scales, tk.SideBits, tk.OffsetCodes, tk.ScaleCodes = nil, nil, 3, []uint8{5, 2}, []uint8{7, 0}
	tk.WindowEndSample = 96
	if err := p.PublishTokens(ctx, kc.Topics().Tokens, tk); err != nil {
		t.Fatal(err)
	}
	args = []string{"--topic", "tokens", "--from-start", "-n", "2", "--partition", "0", "--brokers", kc.Brokers[0], "--namespace", kc.Namespace}
	pretty.Reset()
	if err := runConsume(ctx, args, &pretty); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pretty.String(), "tok-1 rvq-2x64 patch ending at sample 96 (mean and scale as 3-bit codes): 3 9 12 1") {
		t.Fatalf("pretty output %q", pretty.String())
	}
	js.Reset()
	if err := runConsume(ctx, append(args, "--json"), &js); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	var side struct {
		SideBits    int   `json:"side_bits"`
		OffsetCodes []int `json:"offset_codes"`
		ScaleCodes  []int `json:"scale_codes"`
		Offsets     []float64
	}
	if len(lines) != 2 || json.Unmarshal([]byte(lines[1]), &side) != nil || side.SideBits != 3 || fmt.Sprint(side.OffsetCodes) != "[5 2]" || fmt.Sprint(side.ScaleCodes) != "[7 0]" || side.Offsets != nil {
		t.Fatalf("--json output %q: want side_bits 3 and the codes as numbers", js.String())
	}

	// A joint codec's block is printed as what it is: channels coded together, in so many bytes.
	coded := &streams.Tokens{StreamID: "tok-1", Codebook: "joint-2ch", CodebookVersion: 8, WindowEndSample: 128, PatchSamples: 32,
		ChannelKeys: []string{"eeg:Cz", "eeg:Pz"}, Coded: []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}}
	if err := p.PublishTokens(ctx, kc.Topics().Tokens, coded); err != nil {
		t.Fatal(err)
	}
	pretty.Reset()
	if err := runConsume(ctx, []string{"--topic", "tokens", "--from-start", "-n", "3", "--partition", "0", "--brokers", kc.Brokers[0], "--namespace", kc.Namespace}, &pretty); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pretty.String(), "tok-1 joint-2ch block ending at sample 128: 2 channels coded jointly in 9 bytes") {
		t.Fatalf("pretty output %q", pretty.String())
	}
}

// What a pipeline republishes after resuming from a crash (the same frame sequence numbers, the same
// windows with the same acquisition times) is printed once; a window end reused by a pipeline that
// started cold (another acquisition time) is new; --repeats prints everything.
func TestConsumeDropsRepeats(t *testing.T) {
	kc := startBroker(t, "consume-repeats")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := streams.EnsureTopics(ctx, kc, kc.Topics(), 1, 1); err != nil {
		t.Fatal(err)
	}
	p, err := streams.NewProducer(kc, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pred := func(end, acq int64) *streams.Prediction {
		return &streams.Prediction{StreamID: "s", Decoder: "d", WindowEndSample: end, AcquiredAtNs: acq, Label: "x"}
	}
	for _, pr := range []*streams.Prediction{pred(100, 1), pred(200, 2), pred(100, 1), pred(200, 2), pred(300, 3), pred(100, 9)} {
		if err := p.PublishPredictions(ctx, kc.Topics().Predictions, pr); err != nil {
			t.Fatal(err)
		}
	}
	for _, seq := range []uint64{0, 1, 2, 1, 2, 3} {
		f := &streams.Frame{StreamID: "s", Epoch: 5, Seq: seq, NumSamples: 1, NumChannels: 1, Samples: []float32{1}}
		if err := p.PublishFrames(ctx, kc.Topics().Clean, f); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"--from-start", "--partition", "0", "--json", "--brokers", kc.Brokers[0], "--namespace", kc.Namespace}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--topic", "predictions", "-n", "4"}, "100/1 200/2 300/3 100/9"},
		{[]string{"--topic", "predictions", "-n", "6", "--repeats"}, "100/1 200/2 100/1 200/2 300/3 100/9"},
		{[]string{"--topic", "clean", "-n", "4"}, "0 1 2 3"},
	} {
		var out bytes.Buffer
		if err := runConsume(ctx, append(c.args, base...), &out); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			if c.args[1] == "clean" {
				seq, _ := m["seq"].(string) // protobuf's JSON leaves 0 out
				got = append(got, cmp.Or(seq, "0"))
			} else {
				got = append(got, fmt.Sprintf("%v/%v", m["window_end_sample"], m["acquired_at_ns"]))
			}
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%v: printed %v, want %s", c.args, got, c.want)
		}
	}
}
