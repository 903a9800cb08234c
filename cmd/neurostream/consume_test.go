package main

import (
	"bytes"
	"context"
	"encoding/json"
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
