package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/neurostream/neurostream/pipeline"
	"github.com/neurostream/neurostream/streams"
)

// readmeRunCommands returns the `neurostream run --config configs/distributed.yaml ...` lines of the
// README's multi-process section, as argument lists without the program name.
func readmeRunCommands(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var cmds [][]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) > 3 && f[0] == "neurostream" && f[1] == "run" && strings.Contains(line, "configs/distributed.yaml") {
			cmds = append(cmds, f[1:])
		}
	}
	if len(cmds) < 3 {
		t.Fatalf("README lists %d multi-process `neurostream run` commands, want the sources and both pipelines", len(cmds))
	}
	return cmds
}

// composeRunCommands returns the commands of docker-compose.yml's neurostream services.
func composeRunCommands(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Build   any      `yaml:"build"`
			Command []string `yaml:"command"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	var cmds [][]string
	for _, s := range c.Services {
		if s.Build != nil && len(s.Command) > 0 && s.Command[0] == "run" {
			cmds = append(cmds, s.Command)
		}
	}
	if len(cmds) < 3 {
		t.Fatalf("docker-compose.yml has %d neurostream run services, want the sources and both pipelines", len(cmds))
	}
	return cmds
}

// pointAt rewrites a documented command for a test broker: its own --brokers and namespace, no
// metrics listener.
func pointAt(args []string, brokers, ns string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--brokers", "--metrics-addr", "--namespace":
			i++
			continue
		}
		out = append(out, args[i])
	}
	return append(out, "--brokers", brokers, "--namespace", ns, "--metrics-addr", "off")
}

// The README's multi-process commands and the compose topology each publish every stream once:
// the pipeline processes consume and produce, but only the sources process publishes raw frames,
// so no sequence number appears twice on the raw topic.
func TestSplitDeploymentOnePublisherPerStream(t *testing.T) {
	t.Chdir("../..") // the documented commands name configs/ from the repository root
	for _, tc := range []struct {
		name string
		cmds func(*testing.T) [][]string
	}{{"readme", readmeRunCommands}, {"compose", composeRunCommands}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kc := startBroker(t, "split-"+tc.name)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			for _, args := range tc.cmds(t) {
				args := pointAt(args, kc.Brokers[0], kc.Namespace)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := dispatch(ctx, args, io.Discard, io.Discard); err != nil && ctx.Err() == nil {
						t.Errorf("neurostream %s: %v", strings.Join(args, " "), err)
					}
				}()
			}
			// Every process has had time to start its sources (if it wrongly had any) once predictions
			// come out; then 100 more raw frames must be 100 distinct sequence numbers.
			waitPrediction(t, ctx, kc)
			raw := seqCounts(t, ctx, kc, kc.Topics().Raw, 200)
			for key, n := range raw {
				if n != 1 {
					t.Errorf("raw frame %s published %d times: more than one process publishes the stream", key, n)
				}
			}
		})
	}
}

func waitPrediction(t *testing.T, ctx context.Context, kc streams.Config) {
	t.Helper()
	c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: kc.Topics().Predictions, GroupID: "test-predictions", FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Fetch(ctx); err != nil {
		t.Fatalf("no prediction from the split pipeline: %v", err)
	}
}

// seqCounts reads n frames of topic from its start and counts each stream/sequence number.
func seqCounts(t *testing.T, ctx context.Context, kc streams.Config, topic string, n int) map[string]int {
	t.Helper()
	c, err := streams.NewConsumer(kc, streams.ConsumerConfig{Topic: topic, GroupID: "test-seq-" + topic, FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	counts := map[string]int{}
	var f streams.Frame
	for range n {
		m, err := c.Fetch(ctx)
		if err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		if err := streams.DecodeFrame(m.Value, &f); err != nil {
			t.Fatal(err)
		}
		counts[fmt.Sprintf("%s#%d", f.StreamID, f.Seq)]++
	}
	return counts
}

// The image can run every shipped config: each model and bank file a config in configs/ names is
// copied into the image's working directory by the Dockerfile.
func TestImageShipsConfigModels(t *testing.T) {
	root := "../.."
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var copied []string // sources of COPY lines into /app (no --from)
	for _, line := range strings.Split(string(df), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "COPY" || strings.HasPrefix(f[1], "--") || !strings.HasPrefix(f[len(f)-1], "/app") {
			continue
		}
		copied = append(copied, f[1:len(f)-1]...)
	}
	shipped := func(p string) bool {
		for _, src := range copied {
			if ok, _ := filepath.Match(src, p); ok || strings.HasPrefix(p, strings.TrimSuffix(src, "/")+"/") {
				return true
			}
		}
		return false
	}
	configs, err := filepath.Glob(filepath.Join(root, "configs", "*.yaml"))
	if err != nil || len(configs) == 0 {
		t.Fatalf("no configs: %v", err)
	}
	checked := 0
	for _, c := range configs {
		cfg, err := pipeline.LoadConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, pc := range cfg.Pipelines {
			for _, sc := range pc.Stages {
				for _, p := range []string{sc.Model, sc.Bank} {
					if p == "" {
						continue
					}
					checked++
					if _, err := os.Stat(filepath.Join(root, p)); err != nil {
						t.Errorf("%s names %s: %v", c, p, err)
					}
					if !shipped(p) {
						t.Errorf("%s names %s, which the Dockerfile does not copy into the image", c, p)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no config names a model file")
	}
}
