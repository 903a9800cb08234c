package lsl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The interoperability tests run the reference liblsl (tools/install-liblsl.sh puts it in .cache/liblsl;
// NEUROSTREAM_LIBLSL overrides) through tools/lsl_peer.py with Debian's python3, and skip where
// either is missing.

func repoRoot(t testing.TB) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// liblslPeer returns the command prefix that runs tools/lsl_peer.py against liblsl.
func liblslPeer(t testing.TB) []string {
	root := repoRoot(t)
	lib := os.Getenv("NEUROSTREAM_LIBLSL")
	if lib == "" {
		lib = filepath.Join(root, ".cache", "liblsl", "liblsl64.so")
	}
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("liblsl not installed (%v): run tools/install-liblsl.sh (tools/test.sh does) or set NEUROSTREAM_LIBLSL", err)
	}
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3 to drive liblsl")
	}
	return []string{py, filepath.Join(root, "tools", "lsl_peer.py"), lib}
}

// peerProcess is a running lsl_peer.py; lines are its stdout lines.
type peerProcess struct {
	cmd   *exec.Cmd
	lines chan string
}

func startPeer(t *testing.T, args ...string) *peerProcess {
	t.Helper()
	base := liblslPeer(t)
	cmd := exec.Command(base[0], append(base[1:], args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &peerProcess{cmd: cmd, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *peerProcess) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

func (p *peerProcess) expect(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("liblsl peer exited before printing %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("liblsl peer did not print %q within %v", prefix, timeout)
		}
	}
}

// testValue is tools/lsl_peer.py's test signal.
func testValue(f Format, s, k int) float64 {
	if f == Float32 || f == Double64 {
		return float64(s)*0.5 + float64(k)*0.25 - 17.125
	}
	return float64((s*7+k*13)%200 - 100)
}

// TestLiblslOutletToOurInlet: every channel format from liblsl's outlet arrives with exact values,
// the transmitted timestamps exactly and the deduced ones as liblsl deduces them, in data protocol
// 1.10 and in 1.00 (the Boost archive of older outlets).
func TestLiblslOutletToOurInlet(t *testing.T) {
	liblslPeer(t)
	cases := []struct {
		format   Format
		channels int
		rate     float64
		count    int
	}{
		{Float32, 64, 1000, 2000}, {Double64, 8, 500, 200}, {Int8, 4, 250, 100}, {Int16, 4, 250, 100},
		{Int32, 4, 250, 100}, {Int64, 4, 250, 100}, {String, 2, 0, 20},
	}
	for _, proto := range []int{110, 100} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%v-%dch-protocol%d", tc.format, tc.channels, proto), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				src := "interop-" + newUID()
				p := startPeer(t, "outlet", "liblsl-"+tc.format.String(), tc.format.String(), fmt.Sprint(tc.channels), fmt.Sprint(tc.rate), fmt.Sprint(tc.count), src)
				uid := strings.Fields(p.expect(t, "ready", 30*time.Second))[1]
				info := resolveOne(t, ctx, "source_id='"+src+"'")
				if info.UID != uid || info.ChannelCount != tc.channels || info.Format != tc.format || info.NominalRateHz != tc.rate {
					t.Fatalf("resolved %+v, want uid %s", info, uid)
				}
				in, err := OpenInlet(ctx, info, InletOptions{NoRecover: true, Protocol: proto})
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				if in.codec.proto != proto {
					t.Fatalf("feed in protocol %d, want %d", in.codec.proto, proto)
				}
				full := in.Info()
				chs := full.Channels()
				if len(chs) != tc.channels || chs[1].Label != "Ch2" || chs[1].Unit != "microvolts" || chs[1].Type != "EEG" ||
					!chs[1].HasLocation || chs[1].Location != [3]float64{1, -1, 2.5} || full.Desc.Value("manufacturer") != "liblsl test peer" {
					t.Fatalf("channels from the full description: %+v", chs[:2])
				}
				var c Chunk
				var vals []float64
				var strs []string
				var ts []float64
				for len(ts) < tc.count {
					if err := in.Pull(ctx, &c, 0); err != nil {
						t.Fatalf("after %d samples: %v", len(ts), err)
					}
					vals = append(vals, c.Values...)
					strs = append(strs, c.Strings...)
					ts = append(ts, c.Timestamps...)
				}
				if len(ts) != tc.count {
					t.Fatalf("%d samples, want %d", len(ts), tc.count)
				}
				for s := range tc.count {
					if tc.format == String {
						for k := range tc.channels {
							if want := fmt.Sprintf("m%d-%d", s, k); strs[s*tc.channels+k] != want {
								t.Fatalf("sample %d channel %d: %q, want %q", s, k, strs[s*tc.channels+k], want)
							}
						}
						if ts[s] != 1000+float64(s)*0.5 {
							t.Fatalf("marker %d at %v", s, ts[s])
						}
						continue
					}
					for k := range tc.channels {
						if got, want := vals[s*tc.channels+k], testValue(tc.format, s, k); got != want {
							t.Fatalf("sample %d channel %d: %v, want %v", s, k, got, want)
						}
					}
					want := 1000 + float64(s)/tc.rate
					if s < tc.count/2 && ts[s] != want || math.Abs(ts[s]-want) > 1e-9 {
						t.Fatalf("sample %d timestamp %.12f, want %.12f", s, ts[s], want)
					}
				}
				off, rtt, err := in.TimeCorrection(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(off) > rtt+1e-3 {
					t.Errorf("time correction to a liblsl outlet on this host: %v s (rtt %v s), want ~0", off, rtt)
				}
			})
		}
	}
}

// TestOurOutletToLiblslInlet: liblsl resolves our outlet (lsl_resolve_bypred), reads its full
// description, measures time correction and pulls exact samples.
func TestOurOutletToLiblslInlet(t *testing.T) {
	liblslPeer(t)
	for _, f := range []Format{Float32, Double64, Int16, String} {
		t.Run(f.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			src := "ours-" + newUID()
			info := StreamInfo{Name: "neurostream-" + f.String(), Type: "EEG", ChannelCount: 4, NominalRateHz: 250, Format: f, SourceID: src}
			if f == String {
				info.NominalRateHz, info.Type = 0, "Markers"
			}
			info.SetChannels([]Channel{{Label: "Fz", Unit: "microvolts", Type: "EEG"}, {Label: "Cz"}, {Label: "Pz"}, {Label: "Oz"}})
			o, err := NewOutlet(info, OutletOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			const count = 100
			p := startPeer(t, "inlet", "source_id='"+src+"'", fmt.Sprint(count))
			if err := o.WaitForConsumers(ctx, 1); err != nil {
				t.Fatal("liblsl never connected:", err)
			}
			for s := range count {
				if f == String {
					_ = o.PushStrings([]string{fmt.Sprintf("m%d", s), "b", "", "ü"}, 2000+float64(s))
					continue
				}
				vals := make([]float64, 4)
				for k := range vals {
					vals[k] = testValue(f, s, k)
				}
				_ = o.PushFloat64(vals, 2000+float64(s)/250)
			}
			line := p.expect(t, "{", 45*time.Second)
			var got struct {
				Values         []any     `json:"values"`
				Timestamps     []float64 `json:"timestamps"`
				TimeCorrection float64   `json:"time_correction"`
				Error          int       `json:"error"`
				Info           string    `json:"info"`
			}
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Timestamps) != count {
				t.Fatalf("liblsl pulled %d samples, want %d (error %d)", len(got.Timestamps), count, got.Error)
			}
			if math.Abs(got.TimeCorrection) > 2e-3 {
				t.Errorf("liblsl's time correction to our outlet on the same host: %v s", got.TimeCorrection)
			}
			if !strings.Contains(got.Info, "<label>Fz</label>") {
				t.Errorf("liblsl's full info lacks our channel labels: %s", got.Info)
			}
			for s := range count {
				if math.Abs(got.Timestamps[s]-(2000+float64(s)/250)) > 1e-9 && f != String {
					t.Fatalf("sample %d timestamp %v", s, got.Timestamps[s])
				}
				for k := range 4 {
					v := got.Values[s*4+k]
					if f == String {
						if want := []string{fmt.Sprintf("m%d", s), "b", "", "ü"}[k]; v != want {
							t.Fatalf("marker %d channel %d: %v, want %q", s, k, v, want)
						}
					} else if v != testValue(f, s, k) {
						t.Fatalf("sample %d channel %d: %v, want %v", s, k, v, testValue(f, s, k))
					}
				}
			}
		})
	}
}

// TestRecoveryAfterLiblslOutletRestart: the outlet process is killed and started again (a new uid,
// the same source id); the inlet re-resolves it and goes on, marking the first chunk Recovered.
func TestRecoveryAfterLiblslOutletRestart(t *testing.T) {
	liblslPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	src := "restart-" + newUID()
	args := []string{"outlet", "liblsl-restart", "float32", "8", "500", "100", src}
	first := startPeer(t, args...)
	first.expect(t, "ready", 30*time.Second)
	info := resolveOne(t, ctx, "source_id='"+src+"'")
	in, err := OpenInlet(ctx, info, InletOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var c Chunk
	got := 0
	for got < 100 {
		if err := in.Pull(ctx, &c, 0); err != nil {
			t.Fatal(err)
		}
		got += c.N
	}
	first.kill()
	second := startPeer(t, args...)
	uid2 := strings.Fields(second.expect(t, "ready", 30*time.Second))[1]
	got = 0
	recovered := false
	for got < 100 {
		if err := in.Pull(ctx, &c, 0); err != nil {
			t.Fatal(err)
		}
		recovered = recovered || c.Recovered
		for s := range c.N {
			if v := c.Values[s*8+3]; v != testValue(Float32, got+s, 3) {
				t.Fatalf("after recovery, sample %d channel 3: %v", got+s, v)
			}
		}
		got += c.N
	}
	if !recovered || in.Recoveries() != 1 || in.Info().UID != uid2 {
		t.Fatalf("recovered %v, recoveries %d, uid %s (new outlet %s)", recovered, in.Recoveries(), in.Info().UID, uid2)
	}
}
