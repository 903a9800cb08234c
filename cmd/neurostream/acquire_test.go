package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/acquisition/openbci"
	"github.com/neurostream/neurostream/acquisition/serialport"
	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// physionetChannels reads the first n samples of PhysioNet S001R01's channels named like names.
func physionetChannels(t *testing.T, names []string, n int) [][]float64 {
	t.Helper()
	f, err := edf.ReadFile(shareddata.Path(t, "physionet_eegmmidb_S001/S001R01.edf"), edf.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]float64, len(names))
	for i, name := range names {
		for k, ch := range f.Recording.Info.Channels {
			if strings.EqualFold(strings.TrimRight(ch.Name, "."), name) {
				out[i] = f.Recording.Data[k][:n]
			}
		}
		if out[i] == nil {
			t.Fatalf("S001R01 has no channel %s", name)
		}
	}
	return out
}

// simulateBoard serves sim on a new pseudo-terminal until the test ends and returns the port path.
func simulateBoard(t *testing.T, ctx context.Context, sim *openbci.Simulator) string {
	t.Helper()
	ctl, pts, err := serialport.OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sim.Serve(ctx, ctl) }()
	t.Cleanup(func() {
		cancel()
		ctl.Close()
		if err := <-done; err != nil {
			t.Errorf("simulated board: %v", err)
		}
	})
	return pts
}

// readStream reads a stream's frames from the raw topic until it has n samples.
func readStream(t *testing.T, ctx context.Context, kc streams.Config, stream string, n int) []streams.Frame {
	t.Helper()
	topic := kc.Topics().Raw
	part, err := kc.PartitionOf(ctx, topic, stream)
	if err != nil {
		t.Fatal(err)
	}
	c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: topic, Partition: part, FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var frames []streams.Frame
	for got := 0; got < n; {
		m, err := c.Fetch(ctx)
		if err != nil {
			t.Fatalf("after %d samples of %s: %v", got, stream, err)
		}
		if string(m.Key) != stream || streams.MessageType(m) != streams.TypeFrame && streams.MessageType(m) != "" {
			continue
		}
		var f streams.Frame
		if err := streams.DecodeFrame(m.Value, &f); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
		got += f.NumSamples
	}
	return frames
}

// A PhysioNet run replayed by a simulated Cyton board on a pseudo-terminal, read by `neurostream
// acquire --device cyton` and published through the embedded broker, arrives on Kafka sample for
// sample within the 24-bit quantisation; every injected loss (dropped packets, across the counter's
// wrap too, broken framing) is counted, filled and marked, and injected garbage costs nothing.
func TestAcquireCytonToKafka(t *testing.T) {
	const n = 2400
	data := physionetChannels(t, openbci.CytonChannels, n)
	faults := []openbci.Fault{
		{Packet: 10, Kind: openbci.FaultDrop},
		{Packet: 77, Kind: openbci.FaultGarbage, Bytes: 40},
		{Packet: 150, Kind: openbci.FaultBadFooter},
		{Packet: 333, Kind: openbci.FaultBadHeader},
		{Packet: 600, Kind: openbci.FaultTruncate, Bytes: 30},
		{Packet: 1500, Kind: openbci.FaultGarbage, Bytes: 7},
	}
	for p := 760; p < 790; p++ { // across the wrap at 768 = 3 x 256
		faults = append(faults, openbci.Fault{Packet: p, Kind: openbci.FaultDrop})
	}
	for p := 1000; p < 1250; p++ { // 250 in a row, just short of a whole wrap
		faults = append(faults, openbci.Fault{Packet: p, Kind: openbci.FaultDrop})
	}
	lost := map[int]bool{}
	for _, f := range faults {
		if f.Loses() {
			lost[f.Packet] = true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pts := simulateBoard(t, ctx, &openbci.Simulator{Data: data, Faults: faults})
	kc := startBroker(t, "acquire-cyton")
	var out syncBuffer
	acqCtx, stopAcq := context.WithCancel(ctx)
	acqDone := make(chan error, 1)
	go func() {
		acqDone <- runAcquire(acqCtx, []string{"--device", "cyton", "--port", pts, "--stream", "cyton-physionet",
			"--brokers", kc.Brokers[0], "--namespace", kc.Namespace, "--timeout", "1m"}, &out)
	}()
	const stream = "cyton-physionet"
	frames := readStream(t, ctx, kc, stream, n-64)
	stopAcq()
	if err := <-acqDone; err != nil {
		t.Fatalf("acquire: %v\n%s", err, out.String())
	}

	reg, err := pipeline.NewInfoRegistry(ctx, kc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	info, err := reg.Wait(ctx, streams.StreamInfoKey("raw", stream), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if info.Device != "OpenBCI Cyton" || info.SampleRateHz != 250 || len(info.Channels) != 8 || info.Channels[6].Name != "O1" ||
		info.Channels[6].Unit != "V" || !info.Channels[6].HasPosition {
		t.Fatalf("stream info on Kafka: %+v", info)
	}

	half := openbci.VoltsPerCount(24) / 2 * 1.0001
	marked := map[int]bool{}
	s, maxErr := 0, 0.0
	for i, f := range frames {
		if f.Seq != uint64(i) || f.NumChannels != 8 || f.SourceTimeNs == 0 {
			t.Fatalf("frame %d: seq %d, %d channels, source time %d", i, f.Seq, f.NumChannels, f.SourceTimeNs)
		}
		for _, m := range f.Markers {
			var k int
			if _, err := fmt.Sscanf(m.Label, acquisition.GapLabelFormat, &k); err != nil {
				t.Fatalf("frame %d: unexpected marker %+v", i, m)
			}
			for j := range k {
				marked[s+int(m.SampleOffset)+j] = true
			}
		}
		for k := range f.NumSamples {
			if lost[s] != marked[s] {
				t.Fatalf("sample %d: lost %v, marked %v", s, lost[s], marked[s])
			}
			for c := range 8 {
				got := float64(f.Samples[k*8+c])
				want := data[c][s]
				if lost[s] {
					want = float64(all(frames, s-1, c))
				}
				e := math.Abs(got - want)
				if !lost[s] && e > half || lost[s] && e != 0 {
					t.Fatalf("sample %d channel %d: %g V on Kafka, %g V expected (lost %v)", s, c, got, want, lost[s])
				}
				maxErr = max(maxErr, e)
			}
			s++
		}
	}
	injected := 0
	for p := range lost {
		if p < s {
			injected++
		}
	}
	t.Logf("%d samples x 8 channels on Kafka: max |error| %.4g V = %.3f counts (gain 24: 1 count = %.4g V); %d lost samples marked, %d injected",
		s, maxErr, maxErr/openbci.VoltsPerCount(24), openbci.VoltsPerCount(24), len(marked), injected)
	if len(marked) != injected {
		t.Fatalf("%d samples marked lost, %d injected", len(marked), injected)
	}
	// The summary counts every loss the board was made to suffer (the whole stream was read).
	if want := fmt.Sprintf("%d lost", len(lost)); !strings.Contains(out.String(), want) {
		t.Fatalf("acquire's summary does not say %q:\n%s", want, out.String())
	}
}

// all returns channel c of sample s across frames.
func all(frames []streams.Frame, s, c int) float32 {
	for _, f := range frames {
		if s < f.NumSamples {
			return f.Samples[s*f.NumChannels+c]
		}
		s -= f.NumSamples
	}
	return float32(math.NaN())
}

// `acquire --help` lists every device with its channels; an unknown device or a Cyton without a
// port is refused with a message that says what to do.
func TestAcquireDeviceFlags(t *testing.T) {
	var help bytes.Buffer
	if err := runAcquire(context.Background(), []string{"--help"}, &help); err == nil || !strings.Contains(err.Error(), "help") {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"cyton ", "synthetic ", "Fp1 Fp2 C3 C4 P7 P8 O1 O2", "--port"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("acquire --help does not mention %q:\n%s", want, help.String())
		}
	}
	err := runAcquire(context.Background(), []string{"--device", "eeg-o-matic"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "known: ") {
		t.Fatalf("unknown device: %v", err)
	}
	err = runAcquire(context.Background(), []string{"--device", "cyton"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--port") {
		t.Fatalf("cyton without a port: %v", err)
	}
}
