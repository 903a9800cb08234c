package onnx

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// simFixture is what tools/models/train_retrieval.py writes beside a speech or visual model: its
// retrieval accuracy on the simulated test set (computed in PyTorch) and a few simulated windows in
// stream units with PyTorch's top-10 ranking of the test bank.
type simFixture struct {
	Accuracy map[string]any `json:"accuracy"`
	Windows  []struct {
		TrueID     string   `json:"true_id"`
		Subject    string   `json:"subject"`
		Window     string   `json:"window_float32_le_base64"`
		Top10      []string `json:"pytorch_top10"`
		TrueRankPT int      `json:"pytorch_true_rank"`
	} `json:"windows"`
}

// The retrieval decoders, fed simulated windows through Bind/Decode with the bank file, must rank the
// bank exactly as PyTorch does. (The accuracy itself is a property of the model and simulation and is
// reported by the training script; it is logged here.)
func TestRetrievalOnSimulatedWindows(t *testing.T) {
	rt := testRuntime(t)
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.sim.json"))
	if len(paths) == 0 {
		t.Fatal("no simulated retrieval fixtures in testdata")
	}
	for _, path := range paths {
		name := filepath.Base(path[:len(path)-len(".sim.json")])
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var fx simFixture
			if err := json.Unmarshal(data, &fx); err != nil {
				t.Fatal(err)
			}
			t.Logf("PyTorch retrieval on the simulated test set: %v", fx.Accuracy)
			// Guard against shipping a model that retrieves at chance: the recorded top-10 accuracy on
			// the held-out simulated set must be at least twice chance.
			top10, _ := fx.Accuracy["test_top10"].(float64)
			chance10, _ := fx.Accuracy["chance_top10"].(float64)
			if !(chance10 > 0) || top10 < 2*chance10 {
				t.Fatalf("shipped model's simulated top-10 accuracy %.3f is not above twice chance (%.3f)", top10, chance10)
			}
			d, err := Load(rt, filepath.Join("testdata", name+".onnx"), WithBank(filepath.Join("testdata", name+".bank.json")), WithTopK(10))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			c := d.Contract()
			var p streams.Prediction
			for _, w := range fx.Windows {
				info := streams.StreamInfo{StreamID: "sim", SampleRateHz: c.SampleRateHz, Subject: w.Subject}
				for _, ch := range c.Channels {
					info.Channels = append(info.Channels, streams.Channel{Name: ch, Type: streams.ChannelEEG})
				}
				if _, err := d.Bind(info); err != nil {
					t.Fatal(err)
				}
				raw, err := base64.StdEncoding.DecodeString(w.Window)
				if err != nil {
					t.Fatal(err)
				}
				n := c.WindowSamples
				window := make([][]float64, len(c.Channels))
				for ch := range window {
					window[ch] = make([]float64, n)
					for i := range n {
						window[ch][i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(ch*n+i):])))
					}
				}
				if err := d.Decode(window, &p); err != nil {
					t.Fatal(err)
				}
				got := make([]string, len(p.TopK))
				trueRank := -1
				for i, r := range p.TopK {
					got[i] = r.ID
					if r.ID == w.TrueID {
						trueRank = i
					}
				}
				t.Logf("%s: Go top-3 %v, true item at rank %d (PyTorch %d)", w.TrueID, got[:3], trueRank, w.TrueRankPT)
				for i := range w.Top10 {
					if i >= len(got) || got[i] != w.Top10[i] {
						t.Fatalf("%s: Go top-10 %v, PyTorch %v", w.TrueID, got, w.Top10)
					}
				}
				if c.Task == TaskVisual && len(p.Embedding) != c.Output.EmbeddingSize {
					t.Fatalf("visual prediction carries %d embedding values, want %d", len(p.Embedding), c.Output.EmbeddingSize)
				}
			}
		})
	}
}
