package streams_test

import (
	"context"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// The hot path's allocations per frame: encode, decode, publish (low latency) and read back, and
// one prediction's publish, each through the embedded broker where Kafka is involved. Run with
// go test -run XXX -bench HotPath -benchmem ./streams

func benchFrame() *streams.Frame {
	return &streams.Frame{StreamID: "bench-001", NumSamples: 8, NumChannels: 64, Samples: make([]float32, 8*64)}
}

func BenchmarkHotPathEncodeFrame(b *testing.B) {
	f := benchFrame()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		f.Seq = uint64(i)
		buf = streams.AppendFrame(buf[:0], f)
	}
}

func BenchmarkHotPathDecodeFrame(b *testing.B) {
	buf := streams.AppendFrame(nil, benchFrame())
	var f streams.Frame
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := streams.DecodeFrame(buf, &f); err != nil {
			b.Fatal(err)
		}
	}
}

func benchBroker(b *testing.B) (context.Context, streams.Config, streams.Topics) {
	br, err := broker.Start(broker.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(br.Close)
	cfg := streams.Config{Brokers: []string{br.Addr()}, Namespace: "b"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)
	if err := streams.EnsureTopics(ctx, cfg, cfg.Topics(), 8, 1); err != nil {
		b.Fatal(err)
	}
	return ctx, cfg, cfg.Topics()
}

func BenchmarkHotPathPublishFrame(b *testing.B) {
	ctx, cfg, topics := benchBroker(b)
	p, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	f := benchFrame()
	if err := p.PublishFrames(ctx, topics.Raw, f); err != nil { // connect outside the timing
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Seq = uint64(i)
		if err := p.PublishFrames(ctx, topics.Raw, f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHotPathPublishPrediction(b *testing.B) {
	ctx, cfg, topics := benchBroker(b)
	p, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	pr := &streams.Prediction{StreamID: "bench-001", Decoder: "alpha", Label: "eyes-closed", WindowEndSample: 500,
		Scores: []streams.Score{{Label: "eyes-open", Value: 0.2}, {Label: "eyes-closed", Value: 0.8}}, AcquiredAtNs: time.Now().UnixNano()}
	if err := p.PublishPredictions(ctx, topics.Predictions, pr); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pr.WindowEndSample = int64(i)
		if err := p.PublishPredictions(ctx, topics.Predictions, pr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHotPathPublishPredictionAsync queues predictions as a pipeline's sink does (acknowledged
// in the background, batched per partition) and waits for the last: the caller's cost per prediction.
func BenchmarkHotPathPublishPredictionAsync(b *testing.B) {
	ctx, cfg, topics := benchBroker(b)
	p, err := streams.NewProducer(cfg, streams.LowLatency)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	w := streams.NewAsyncWriter(p, 0)
	defer w.Close()
	pr := &streams.Prediction{StreamID: "bench-001", Decoder: "alpha", Label: "eyes-closed", WindowEndSample: 500,
		Scores: []streams.Score{{Label: "eyes-open", Value: 0.2}, {Label: "eyes-closed", Value: 0.8}}, AcquiredAtNs: time.Now().UnixNano()}
	onAck := func(*streams.Prediction, error) {}
	if err := w.PublishPrediction(ctx, topics.Predictions, pr, onAck); err != nil {
		b.Fatal(err)
	}
	if err := w.Barrier(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pr.WindowEndSample = int64(i)
		if err := w.PublishPrediction(ctx, topics.Predictions, pr, onAck); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Barrier(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHotPathConns publishes 32 frames per acknowledged write and reads them back, with
// connections that gather each request into one write and read 64 KiB ahead, and with kafka-go's
// own 4 KiB buffers: the time and system calls per frame (one fused process: producer, broker,
// consumer).
func BenchmarkHotPathConns(b *testing.B) {
	for _, v := range []struct {
		name       string
		unbuffered bool
	}{{"gathered", false}, {"kafka-go-4KiB", true}} {
		b.Run(v.name, func(b *testing.B) {
			ctx, cfg, topics := benchBroker(b)
			cfg.UnbufferedConns = v.unbuffered
			p, err := streams.NewProducer(cfg, streams.LowLatency)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			part, err := cfg.PartitionOf(ctx, topics.Raw, "bench-001")
			if err != nil {
				b.Fatal(err)
			}
			c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Raw, Partition: part, FromStart: true})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			frames := make([]*streams.Frame, 32)
			for i := range frames {
				frames[i] = benchFrame()
			}
			var f streams.Frame
			seq := uint64(0)
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n += len(frames) {
				for _, f := range frames {
					f.Seq = seq
					seq++
				}
				if err := p.PublishFrames(ctx, topics.Raw, frames...); err != nil {
					b.Fatal(err)
				}
				for range frames {
					if _, _, err := c.ReadFrame(ctx, &f); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func BenchmarkHotPathReadFrame(b *testing.B) {
	ctx, cfg, topics := benchBroker(b)
	p, err := streams.NewProducer(cfg, streams.Bulk)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	frames := make([]*streams.Frame, 100)
	for i := range frames {
		frames[i] = benchFrame()
	}
	seq := uint64(0)
	for n := 0; n < b.N; n += len(frames) {
		for _, f := range frames {
			f.Seq = seq
			seq++
		}
		if err := p.PublishFrames(ctx, topics.Raw, frames...); err != nil {
			b.Fatal(err)
		}
	}
	part, err := cfg.PartitionOf(ctx, topics.Raw, "bench-001")
	if err != nil {
		b.Fatal(err)
	}
	c, err := streams.NewConsumer(cfg, streams.ConsumerConfig{Topic: topics.Raw, Partition: part, FromStart: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var f streams.Frame
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := c.ReadFrame(ctx, &f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHotPathValidateFrame checks a 64-channel 8-sample frame as a pipeline does every frame.
func BenchmarkHotPathValidateFrame(b *testing.B) {
	f := benchFrame()
	for i := range f.Samples {
		f.Samples[i] = float32(i) * 1e-6
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := f.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
