package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/tokenizer"
)

// detokenize turns tokens on the broker into frames on the detokenized topic, equal to the
// codebook's offline reconstruction, and needs --codebook.
func TestDetokenizeCommand(t *testing.T) {
	var out bytes.Buffer
	if err := runDetokenize(context.Background(), nil, &out); err == nil || !strings.Contains(err.Error(), "--codebook") {
		t.Fatalf("no codebook: %v", err)
	}
	kc := startBroker(t, "detok")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := streams.EnsureTopics(ctx, kc, kc.Topics(), 1, 1); err != nil {
		t.Fatal(err)
	}
	cb := tokenizer.NewMuLaw(100, 4, 16, 4, [2]float64{}, []string{"eeg"})
	path := filepath.Join(t.TempDir(), "mulaw.json")
	if err := cb.Save(path); err != nil {
		t.Fatal(err)
	}
	tk := &streams.Tokens{StreamID: "d-1", Codebook: cb.Name, CodebookVersion: cb.Fingerprint(), WindowEndSample: 8, PatchSamples: 4, Stages: 1,
		Tokens: []uint16{0, 5, 10, 15, 8, 8, 8, 8}, Offsets: []float32{1e-6, 0}, Scales: []float32{2e-6, 1e-6}, ChannelKeys: []string{"eeg:Cz", "eeg:Pz"}}
	p, err := streams.NewProducer(kc, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.PublishTokens(ctx, kc.Topics().Tokens, tk); err != nil {
		t.Fatal(err)
	}
	args := []string{"--codebook", path, "--from-start", "-n", "1", "--brokers", kc.Brokers[0], "--namespace", kc.Namespace}
	if err := runDetokenize(ctx, args, &out); err != nil {
		t.Fatal(err)
	}
	c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: kc.Topics().Detokenized, Partition: 0, FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var f streams.Frame
	if _, _, err := c.ReadFrame(ctx, &f); err != nil {
		t.Fatal(err)
	}
	q, _ := tokenizer.NewQuantizer(cb)
	want, err := q.Detokenize(tk, nil, make([]float64, 4))
	if err != nil {
		t.Fatal(err)
	}
	if f.StreamID != "d-1" || f.NumSamples != 4 || f.NumChannels != 2 || f.SourceTimeNs != 40_000_000 || len(f.Samples) != 8 {
		t.Fatalf("frame %+v", f)
	}
	for i := range want {
		if f.Samples[i] != want[i] {
			t.Fatalf("sample %d: %g, offline %g", i, f.Samples[i], want[i])
		}
	}
}
