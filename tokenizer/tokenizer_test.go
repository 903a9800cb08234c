package tokenizer

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/neurostream/neurostream/acquisition/edf"
	"github.com/neurostream/neurostream/internal/shareddata"
	"github.com/neurostream/neurostream/streams"
)

type kmeansReference struct {
	PatchSamples int         `json:"patch_samples"`
	Channels     int         `json:"channels"`
	K            int         `json:"k"`
	TrainPatches int         `json:"train_patches"`
	InitIndices  []int       `json:"init_indices"`
	Iterations   int         `json:"iterations"`
	Inertia      float64     `json:"inertia"`
	Centers      [][]float64 `json:"centers"`
	TrainLabels  []int32     `json:"train_labels"`
	TestPatches  int         `json:"test_patches"`
	TestLabels   []int       `json:"test_labels"`
}

func loadReference(t *testing.T) *kmeansReference {
	b, err := os.ReadFile("testdata/kmeans_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r kmeansReference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func runPatches(t *testing.T, run string, ref *kmeansReference) []float64 {
	rec, err := edf.Read(shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", run)))
	if err != nil {
		t.Fatal(err)
	}
	return Patches(nil, rec.Data[:ref.Channels], ref.PatchSamples)
}

// Lloyd's algorithm from scikit-learn's starting centres gives scikit-learn's clustering: the same
// number of iterations, labels, centres and inertia; tokenizing held-out patches gives its predict.
func TestKMeansMatchesScikitLearn(t *testing.T) {
	ref := loadReference(t)
	x := runPatches(t, "S001R01.edf", ref)
	p := ref.PatchSamples
	if n := len(x) / p; n != ref.TrainPatches {
		t.Fatalf("%d patches, scikit-learn had %d", n, ref.TrainPatches)
	}
	init := make([]float64, 0, ref.K*p)
	for _, i := range ref.InitIndices {
		init = append(init, x[i*p:(i+1)*p]...)
	}
	res, err := KMeans(context.Background(), x, p, KMeansConfig{K: ref.K, Init: init, Tol: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Iterations != ref.Iterations {
		t.Errorf("%d iterations, scikit-learn %d", res.Iterations, ref.Iterations)
	}
	same := 0
	for i, l := range res.Labels {
		if l == ref.TrainLabels[i] {
			same++
		}
	}
	if same != len(res.Labels) {
		t.Errorf("labels agree on %d of %d patches", same, len(res.Labels))
	}
	maxDiff := 0.0
	for k, c := range ref.Centers {
		for d, v := range c {
			maxDiff = math.Max(maxDiff, math.Abs(res.Centers[k*p+d]-v))
		}
	}
	if maxDiff > 1e-9 {
		t.Errorf("centres differ by up to %g", maxDiff)
	}
	if rel := math.Abs(res.Inertia-ref.Inertia) / ref.Inertia; rel > 1e-9 {
		t.Errorf("inertia %g, scikit-learn %g", res.Inertia, ref.Inertia)
	}
	t.Logf("%d patches, %d iterations, inertia %.6f (scikit-learn %.6f), centres within %.2g", len(res.Labels), res.Iterations, res.Inertia, ref.Inertia, maxDiff)

	cb := &Codebook{Version: FormatVersion, Name: "test", SampleRateHz: 160, PatchSamples: p, Normalisation: PatchZScore, Codewords: ref.Centers}
	test := runPatches(t, "S001R02.edf", ref)
	if n := len(test) / p; n != ref.TestPatches {
		t.Fatalf("%d test patches, scikit-learn had %d", n, ref.TestPatches)
	}
	q, err := NewQuantizer(cb)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ref.TestPatches {
		if tok, _, _ := encode1(q, test[i*p:(i+1)*p]); tok != ref.TestLabels[i] {
			t.Fatalf("test patch %d: token %d, scikit-learn predict %d", i, tok, ref.TestLabels[i])
		}
	}
}

// The streaming tokenizer, fed a recording in 8-sample frames, emits what encoding each channel's
// patches offline gives, stamps the patch ends, and allocates nothing per frame.
func TestStreamingEqualsOffline(t *testing.T) {
	ref := loadReference(t)
	rec, err := edf.Read(shareddata.Path(t, filepath.Join("physionet_eegmmidb_S001", "S001R02.edf")))
	if err != nil {
		t.Fatal(err)
	}
	p := ref.PatchSamples
	cb := &Codebook{Version: FormatVersion, Name: "test", SampleRateHz: rec.Info.SampleRateHz, PatchSamples: p, Normalisation: PatchZScore, Codewords: ref.Centers}
	q, err := NewQuantizer(cb)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := q.NewTokenizer(rec.Info)
	if err != nil {
		t.Fatal(err)
	}
	nch, n := len(rec.Data), rec.NumSamples()
	frame := make([]float32, 8*nch)
	patches := 0
	emit := func(tok *streams.Tokens) error {
		if tok.WindowEndSample != int64((patches+1)*p) {
			t.Fatalf("patch %d ends at %d", patches, tok.WindowEndSample)
		}
		start := patches * p
		for _, c := range []int{0, 7, 40, 63} {
			x := make([]float64, p)
			for i := range x {
				x[i] = float64(float32(rec.Data[c][start+i]))
			}
			want, mean, std := encode1(q, x)
			if int(tok.Tokens[c]) != want || tok.Offsets[c] != float32(mean) || tok.Scales[c] != float32(std) {
				t.Fatalf("patch %d channel %d: token %d (%g, %g), offline %d (%g, %g)", patches, c, tok.Tokens[c], tok.Offsets[c], tok.Scales[c], want, mean, std)
			}
		}
		patches++
		return nil
	}
	for s := 0; s+8 <= n; s += 8 {
		for i := range 8 {
			for c := range nch {
				frame[i*nch+c] = float32(rec.Data[c][s+i])
			}
		}
		if err := tk.Push(frame, 8, 0, emit); err != nil {
			t.Fatal(err)
		}
	}
	if patches != n/p {
		t.Fatalf("%d patches, want %d", patches, n/p)
	}
	noop := func(*streams.Tokens) error { return nil }
	if a := testing.AllocsPerRun(200, func() { _ = tk.Push(frame, 8, 0, noop) }); a != 0 {
		t.Fatalf("Push allocates %v times per frame", a)
	}
	if _, err := New(cb, streams.StreamInfo{StreamID: "x", SampleRateHz: 250, Channels: rec.Info.Channels}); err == nil {
		t.Fatal("a 250 Hz stream accepted by a 160 Hz codebook")
	}
}

// encode1 encodes one patch with a one-stage quantizer.
func encode1(q *Quantizer, x []float64) (tok int, mean, std float64) {
	var tokens [1]uint16
	mean, std, _ = q.EncodePatch(x, tokens[:], make([]float64, 2*len(x)))
	return int(tokens[0]), mean, std
}
