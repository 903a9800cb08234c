package main

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/neurostream/neurostream/acquisition/ble"
	"github.com/neurostream/neurostream/acquisition/muse"
	"github.com/neurostream/neurostream/acquisition/openbci"
	"github.com/neurostream/neurostream/acquisition/xdf"
	"github.com/neurostream/neurostream/pipeline"
)

// simulateMuse sends a headband's notifications on link in real time (one per electrode every
// 12/256 s) until ctx ends, and returns, per sequence number, when it went out (Unix ns).
func simulateMuse(ctx context.Context, link *ble.SimulatedLink, sent *[]int64, mu *sync.Mutex) {
	start := time.Now()
	for k := 0; ; k++ {
		due := start.Add(time.Duration(float64(k+1) * muse.SamplesPerPacket / muse.RateHz * float64(time.Second)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(due)):
		}
		now := time.Now().UnixNano()
		for c, ch := range muse.EEGChars {
			var p muse.Packet
			p.Seq = uint16(k)
			for s := range p.Samples {
				p.Samples[s] = uint16(0x800 + 100*math.Sin(float64(k*12+s)/9+float64(c)))
			}
			link.Notify(ch, muse.AppendPacket(nil, &p))
		}
		mu.Lock()
		*sent = append(*sent, now)
		mu.Unlock()
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// One clock: a Cyton (serial, 250 Hz) and a Muse (Bluetooth LE, 256 Hz), both simulated in real
// time and started 1.3 s apart, are acquired together, published through the embedded broker and
// recorded with `record` to two XDF files. Each file's timestamps are the host-clock times the
// devices took the samples (within the link's latency), so the two recordings line up: without the
// host-clock mapping each device's clock would start at its own zero and they would be 1.3 s apart.
func TestTwoDevicesRecordedToXDFLineUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kc := startBroker(t, "one-clock")

	data := make([][]float64, 8)
	for c := range data {
		data[c] = make([]float64, 250*20)
		for s := range data[c] {
			data[c][s] = 20e-6 * math.Sin(float64(s)/7+float64(c))
		}
	}
	cyt := &openbci.Simulator{Data: data, Rate: 250}
	pts := simulateBoard(t, ctx, cyt)
	a, err := openbci.OpenCyton(ctx, openbci.CytonConfig{Port: pts, StreamID: "clock-cyton", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	time.Sleep(1300 * time.Millisecond)
	link := ble.NewSimulatedLink(append([]string{muse.ControlChar}, muse.EEGChars...)...)
	b, err := muse.New(link, muse.Config{StreamID: "clock-muse", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var museMu sync.Mutex
	var museSent []int64
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	go simulateMuse(simCtx, link, &museSent, &museMu)

	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() {
		runDone <- pipeline.Run(runCtx, &pipeline.Config{Kafka: kc}, pipeline.RunOptions{Only: "sources", Sources: []pipeline.Source{a, b}})
	}()
	dir := t.TempDir()
	paths := map[string]string{"clock-cyton": filepath.Join(dir, "cyton.xdf"), "clock-muse": filepath.Join(dir, "muse.xdf")}
	var wg sync.WaitGroup
	for id, path := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sum, err := recordStream(ctx, kc, recordOptions{StreamID: id, OutPath: path, FromStart: true, Duration: 4 * time.Second})
			if err != nil {
				t.Errorf("record %s: %v", id, err)
			}
			t.Logf("%v", sum)
		}()
	}
	wg.Wait()
	stopRun()
	stopSim()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}
	times := map[string][]float64{}
	for id, path := range paths {
		recs, err := xdf.Read(path)
		if err != nil {
			t.Fatal(err)
		}
		times[id] = recs[0].SampleTimes
	}
	// Lateness of each recorded timestamp behind the moment the simulated device sent the sample.
	sentA := cyt.SentAt()
	var lateA []float64
	for i, ts := range times["clock-cyton"] {
		if i < len(sentA) && sentA[i] != 0 {
			lateA = append(lateA, ts-float64(sentA[i])/1e9)
		}
	}
	museMu.Lock()
	sentB := slices.Clone(museSent)
	museMu.Unlock()
	var lateB []float64
	for i, ts := range times["clock-muse"] {
		k, j := i/muse.SamplesPerPacket, i%muse.SamplesPerPacket
		if k < len(sentB) {
			taken := float64(sentB[k])/1e9 - float64(muse.SamplesPerPacket-1-j)/muse.RateHz
			lateB = append(lateB, ts-taken)
		}
	}
	if len(lateA) < 500 || len(lateB) < 500 {
		t.Fatalf("only %d and %d samples to compare", len(lateA), len(lateB))
	}
	mA, mB := median(lateA), median(lateB)
	startGap := times["clock-muse"][0] - times["clock-cyton"][0]
	stA, stB := a.LiveStats().Clock, b.LiveStats().Clock
	t.Logf("recorded timestamps behind the true sample times: cyton median %.2f ms, muse median %.2f ms (difference %.2f ms); "+
		"muse starts %.3f s after cyton; cyton drift %+.0f ppm jitter %.2f ms, muse drift %+.0f ppm jitter %.2f ms",
		mA*1e3, mB*1e3, (mA-mB)*1e3, startGap, stA.DriftPPM, stA.JitterSec*1e3, stB.DriftPPM, stB.JitterSec*1e3)
	// Generous bounds: the machine may be loaded; the failure this catches is off by seconds.
	if math.Abs(mA-mB) > 0.05 || math.Abs(mA) > 0.1 || math.Abs(mB) > 0.1 {
		t.Fatalf("the two recordings do not line up: cyton %.1f ms, muse %.1f ms behind the true times", mA*1e3, mB*1e3)
	}
	if startGap < 1.1 || startGap > 1.6 {
		t.Fatalf("muse recording starts %.3f s after the cyton's, the devices started 1.3 s apart", startGap)
	}
}
