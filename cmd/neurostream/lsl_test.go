package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/lsl"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
)

// TestAcquireLSL: `acquire --lsl` publishes an LSL EEG stream (microvolts) to Kafka in volts with
// its channel names and positions, the matching marker stream's events on its frames, and
// `lsl list` shows both streams.
func TestAcquireLSL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	prefix := fmt.Sprintf("acq-%d", time.Now().UnixNano())
	eeg := lsl.StreamInfo{Name: "TestAmp", Type: "EEG", ChannelCount: 3, NominalRateHz: 200, Format: lsl.Float32, SourceID: prefix + "-eeg"}
	eeg.SetChannels([]lsl.Channel{{Label: "C3", Unit: "microvolts", Location: [3]float64{-60, 0, 50}, HasLocation: true}, {Label: "Cz", Unit: "microvolts"}, {Label: "C4", Unit: "microvolts"}})
	data, err := lsl.NewOutlet(eeg, lsl.OutletOptions{NoDiscoveryPort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	mk, err := lsl.NewOutlet(lsl.StreamInfo{Name: "TestMarkers", Type: "Markers", ChannelCount: 1, Format: lsl.String, SourceID: prefix + "-markers"}, lsl.OutletOptions{NoDiscoveryPort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer mk.Close()

	var list strings.Builder
	if err := dispatch(ctx, []string{"lsl", "list", "--wait", "2s", "starts-with(source_id,'" + prefix + "')"}, &list, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list.String(), "TestAmp") || !strings.Contains(list.String(), "200 Hz") || !strings.Contains(list.String(), "TestMarkers") {
		t.Fatalf("lsl list printed:\n%s", list.String())
	}

	kc := startBroker(t, "lslacq")
	if err := streams.EnsureTopics(ctx, kc, kc.Topics(), 8, 1); err != nil {
		t.Fatal(err)
	}
	actx, stopAcquire := context.WithCancel(ctx)
	done := make(chan error, 1)
	var acqOut syncBuffer
	go func() {
		done <- dispatch(actx, []string{"acquire", "--brokers", kc.Brokers[0], "--namespace", kc.Namespace,
			"--lsl", "starts-with(source_id,'" + prefix + "')", "--lsl-frame", "10", "--metrics-addr", "127.0.0.1:0"}, &acqOut, io.Discard)
	}()
	defer func() {
		stopAcquire()
		if err := <-done; err != nil {
			t.Errorf("acquire: %v", err)
		}
	}()
	if err := data.WaitForConsumers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := mk.WaitForConsumers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// The marker falls on sample 200, a second after the first sample, and the samples are pushed
	// at their own rate: the marker inlet has that second to deliver the event before the frame
	// it belongs on is made (an event that comes later goes on the next frame).
	const total, markerAt = 300, 200
	t0 := lsl.Clock()
	if err := mk.PushStrings([]string{"42"}, t0+float64(markerAt)/200); err != nil {
		t.Fatal(err)
	}
	pushed := make(chan error, 1)
	go func() {
		samples := make([]float32, 10*3)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for first := 0; first < total; first += 10 {
			for s := range 10 {
				for k := range 3 {
					samples[s*3+k] = float32(first + s + 1000*k)
				}
			}
			if err := data.PushFloat32(samples, t0+float64(first)/200); err != nil {
				pushed <- err
				return
			}
			<-tick.C
		}
		pushed <- nil
	}()

	id := lsl.StreamIDFor(&eeg)
	reg, err := pipeline.NewInfoRegistry(ctx, kc, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	info, err := reg.Wait(ctx, streams.StreamInfoKey("raw", id), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if info.Channels[0].Name != "C3" || info.Channels[0].Unit != "V" || !info.Channels[0].HasPosition || math.Abs(info.Channels[0].Position[0]+0.06) > 1e-12 || info.SampleRateHz != 200 {
		t.Fatalf("stream info on Kafka: %+v", info)
	}
	c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: kc.Topics().Raw, GroupID: "lsl-test", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var f streams.Frame
	got := 0
	var markers []int
	for got < total {
		_, seq, err := c.ReadFrame(ctx, &f)
		if err != nil {
			t.Fatal(err)
		}
		if f.StreamID != id {
			continue
		}
		if !seq.Accepted() || seq.Missing > 0 {
			t.Fatalf("frame %d: sequence check %+v", f.Seq, seq)
		}
		for s := range f.NumSamples {
			for k := range 3 {
				if want := float32(got+s+1000*k) * 1e-6; f.Samples[s*3+k] != want {
					t.Fatalf("sample %d channel %d: %g V, want %g", got+s, k, f.Samples[s*3+k], want)
				}
			}
		}
		for _, m := range f.Markers {
			if m.Code == 42 {
				markers = append(markers, got+int(m.SampleOffset))
			}
		}
		got += f.NumSamples
	}
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}
	if len(markers) != 1 || markers[0] < markerAt-1 || markers[0] > markerAt+1 {
		t.Fatalf("marker 42 at samples %v, want ~%d", markers, markerAt)
	}
	// The link's clock, losses and late markers are metrics, labelled with the stream.
	_, addr, ok := strings.Cut(acqOut.String(), "metrics: http://")
	if !ok {
		t.Fatalf("acquire printed no metrics address:\n%s", acqOut.String())
	}
	addr, _, _ = strings.Cut(addr, "/")
	for ctx.Err() == nil {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `neurostream_clock_offset_seconds{stream="`+id+`"}`) &&
			strings.Contains(string(body), `neurostream_device_lost_samples_total{stream="`+id+`"} 0`) &&
			strings.Contains(string(body), `neurostream_device_late_markers_total{stream="`+id+`"} 0`) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no clock metrics for the LSL stream")
}

// TestRunConfigLSLSource: a pipeline config's source of kind lsl (the device registry's entry) reads
// the stream its query names, with its markers, and publishes it.
func TestRunConfigLSLSource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src := fmt.Sprintf("cfg-%d", time.Now().UnixNano())
	eeg := lsl.StreamInfo{Name: "CfgAmp", Type: "EEG", ChannelCount: 2, NominalRateHz: 100, Format: lsl.Float32, SourceID: src}
	data, err := lsl.NewOutlet(eeg, lsl.OutletOptions{NoDiscoveryPort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	kc := startBroker(t, "lslcfg")
	if err := streams.EnsureTopics(ctx, kc, kc.Topics(), 8, 1); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "lsl.yaml")
	yaml := fmt.Sprintf("kafka:\n  brokers: [%q]\n  namespace: %s\nsources:\n  - kind: lsl\n    query: \"source_id='%s'\"\n    stream_id: from-lsl\n", kc.Brokers[0], kc.Namespace, src)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- dispatch(rctx, []string{"run", "--config", cfgPath, "--only", "sources", "--metrics-addr", "off"}, io.Discard, io.Discard)
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	if err := data.WaitForConsumers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := data.PushFloat32(make([]float32, 2*16), lsl.Clock()); err != nil {
		t.Fatal(err)
	}
	c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: kc.Topics().Raw, GroupID: "lsl-cfg-test", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var f streams.Frame
	if _, _, err := c.ReadFrame(ctx, &f); err != nil {
		t.Fatal(err)
	}
	if f.StreamID != "from-lsl" || f.NumChannels != 2 {
		t.Fatalf("frame of %s, %d channels", f.StreamID, f.NumChannels)
	}
}
