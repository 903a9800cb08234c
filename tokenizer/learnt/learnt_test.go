package learnt

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/decoders/onnx"
	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/tokenizer"
)

const modelsDir = "../../configs/models/"

const codebookPath = modelsDir + "tokenizer-vq-eeg.json"

type fixture struct {
	Patches      string      `json:"patches_float32_le_base64"`
	PatchSamples int         `json:"patch_samples"`
	Latents      [][]float32 `json:"latents"`
	Tokens       []int       `json:"tokens"`
}

func testRuntime(t *testing.T) *onnx.Runtime {
	rt, err := onnx.NewRuntime(onnx.Config{})
	if errors.Is(err, onnx.ErrLibraryNotFound) {
		t.Skipf("ONNX Runtime not installed: run tools/install-onnxruntime.sh (%v)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// learntModels are the learnt tokenizers tools/models/train_tokenizer_vq.py makes, each with a stream
// it must take and one of the other modality it must refuse.
var learntModels = []struct {
	name           string
	accept, refuse streams.StreamInfo
}{
	{"tokenizer-vq-eeg",
		streams.StreamInfo{StreamID: "s", SampleRateHz: 160, Channels: []streams.Channel{{Name: "Cz", Type: streams.ChannelEEG}, {Name: "Pz", Type: streams.ChannelEEG}}},
		streams.StreamInfo{StreamID: "m", SampleRateHz: 160, Channels: []streams.Channel{{Name: "MEG 0111", Type: streams.ChannelMEGMag}}}},
	{"tokenizer-vq-meg",
		streams.StreamInfo{StreamID: "m", SampleRateHz: 1000, Channels: []streams.Channel{{Name: "MEG 0111", Type: streams.ChannelMEGMag}, {Name: "MEG 2643", Type: streams.ChannelMEGGrad}}},
		streams.StreamInfo{StreamID: "s", SampleRateHz: 1000, Channels: []streams.Channel{{Name: "Cz", Type: streams.ChannelEEG}, {Name: "Pz", Type: streams.ChannelEEG}}}},
}

// The ONNX encoder run from Go gives PyTorch's latent vectors (within 1e-5) on held-out patches (EEG
// and MEG), and the nearest-code search in Go picks PyTorch's tokens; the streaming tokenizer uses it
// too, and refuses a stream of the other modality.
func TestEncoderParityWithPyTorch(t *testing.T) {
	rt := testRuntime(t)
	for _, lm := range learntModels {
		t.Run(lm.name, func(t *testing.T) {
			b, err := os.ReadFile("../testdata/" + lm.name + ".fixture.json")
			if err != nil {
				t.Fatal(err)
			}
			var fx fixture
			if err := json.Unmarshal(b, &fx); err != nil {
				t.Fatal(err)
			}
			raw, err := base64.StdEncoding.DecodeString(fx.Patches)
			if err != nil {
				t.Fatal(err)
			}
			q, enc, err := Open(rt, modelsDir+lm.name+".json")
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			p := fx.PatchSamples
			if q.Codebook().PatchSamples != p || len(raw) != 4*p*len(fx.Tokens) {
				t.Fatalf("fixture of %d bytes, %d-sample patches; codebook patches %d", len(raw), p, q.Codebook().PatchSamples)
			}
			z := make([]float64, p)
			lat := make([]float64, enc.LatentSize())
			tok := make([]uint16, 1)
			maxDiff := 0.0
			for i, want := range fx.Tokens {
				for j := range z {
					z[j] = float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(i*p+j):])))
				}
				if err := enc.EncodePatch(z, lat); err != nil {
					t.Fatal(err)
				}
				for j, v := range fx.Latents[i] {
					maxDiff = math.Max(maxDiff, math.Abs(lat[j]-float64(v)))
				}
				if err := q.Encode(z, tok); err != nil {
					t.Fatal(err)
				}
				if int(tok[0]) != want {
					t.Errorf("patch %d: token %d, PyTorch %d", i, tok[0], want)
				}
			}
			t.Logf("%d held-out patches: latents within %.2g of PyTorch, tokens equal", len(fx.Tokens), maxDiff)
			if maxDiff > 1e-5 {
				t.Fatalf("latents differ from PyTorch by %g (> 1e-5)", maxDiff)
			}

			// Streaming: a stream of the codebook's modality is tokenized one token per channel patch,
			// which detokenizes to the decoded codewords.
			tk, err := q.NewTokenizer(lm.accept)
			if err != nil {
				t.Fatal(err)
			}
			frame := make([]float32, 2*p)
			for i := range frame {
				frame[i] = float32(1e-5 * math.Sin(float64(i)/3))
			}
			var out []float32
			n := 0
			if err := tk.Push(frame, p, 0, func(tt *streams.Tokens) error {
				n++
				var err error
				out, err = q.Detokenize(tt, out, make([]float64, p))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if n != 1 || len(out) != 2*p {
				t.Fatalf("%d messages, %d samples", n, len(out))
			}
			// With side_bits each patch's mean and scale go as 4-bit codes over the ranges the script
			// learnt per channel type; for a signal inside each type's ranges the reconstruction stays
			// within half a quantiser step of the float32 one.
			sig := make([]float32, 2*p)
			for i := range p {
				for c, ch := range lm.accept.Channels {
					r := q.Codebook().SideRangeOf(ch.Type.String())
					if r == nil {
						t.Fatalf("%s has no side range for %s channels", lm.name, ch.Type)
					}
					scale := math.Exp((r.LogScaleLo + r.LogScaleHi) / 2) // mid-range, offset half the range's
					sig[i*2+c] = float32(scale * (0.5*r.OffsetMaxZ + math.Sqrt2*math.Sin(float64(i)/3+float64(c))))
				}
			}
			detok := func(bits int) ([]float32, *streams.Tokens) {
				tk, err := q.NewTokenizer(lm.accept)
				if err != nil {
					t.Fatal(err)
				}
				if err := tk.SetSideBits(bits); err != nil {
					t.Fatalf("side_bits %d: %v", bits, err)
				}
				var out []float32
				var msg streams.Tokens
				if err := tk.Push(sig, p, 0, func(tt *streams.Tokens) error {
					msg = *tt
					var err error
					out, err = q.Detokenize(tt, nil, make([]float64, p))
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return out, &msg
			}
			exact, _ := detok(0)
			relErr := func(coded []float32, c int) float64 {
				var diff, ref float64
				for i := range p {
					d := float64(coded[i*2+c] - exact[i*2+c])
					diff, ref = diff+d*d, ref+float64(exact[i*2+c])*float64(exact[i*2+c])
				}
				return math.Sqrt(diff / ref)
			}
			for _, bits := range []int{4, 8} {
				coded, msg := detok(bits)
				if msg.SideBits != bits || len(msg.ScaleCodes) != 2 || len(msg.Offsets) != 0 {
					t.Fatalf("side_bits %d: message with %d side bits, %d scale codes, %d float offsets", bits, msg.SideBits, len(msg.ScaleCodes), len(msg.Offsets))
				}
				for c := range lm.accept.Channels {
					// Half a quantiser step of the scale (range / 2^bits in ln) and of the offset
					// (2 x max|mean/scale| / 2^bits scales), relative to this signal's RMS (at least a scale).
					r := q.Codebook().SideRangeOf(lm.accept.Channels[c].Type.String())
					steps := float64(int(1) << bits)
					bound := math.Exp((r.LogScaleHi-r.LogScaleLo)/steps/2) - 1 + r.OffsetMaxZ/steps
					t.Logf("channel %d (%s): %d-bit side information off the float32 reconstruction by %.3f (RMS, relative; bound %.3f)",
						c, lm.accept.Channels[c].Type, bits, relErr(coded, c), bound)
					if e := relErr(coded, c); !(e <= 1.1*bound) {
						t.Errorf("channel %d: %d-bit side information off by %.3f, more than half a step (%.3f)", c, bits, e, bound)
					}
				}
			}

			// Refused: the other modality, and the right modality at another rate.
			if _, err := q.NewTokenizer(lm.refuse); err == nil || !strings.Contains(err.Error(), "modality") {
				t.Fatalf("%s took a stream of channel types %v: %v", lm.name, lm.refuse.Channels, err)
			}
			slow := lm.accept
			slow.SampleRateHz /= 2
			if _, err := q.NewTokenizer(slow); err == nil || !strings.Contains(err.Error(), "Hz") {
				t.Fatalf("%s took a stream at %g Hz: %v", lm.name, slow.SampleRateHz, err)
			}
		})
	}
}

// An encoder is refused with a codebook of another modality, and one whose contract names none: a
// codebook and encoder from different trainings would otherwise tokenize without complaint.
func TestEncoderModalityMustMatchCodebook(t *testing.T) {
	rt := testRuntime(t)
	dir := t.TempDir()
	abs, err := filepath.Abs(modelsDir + "tokenizer-vq-eeg.onnx")
	if err != nil {
		t.Fatal(err)
	}
	var book map[string]any
	b, err := os.ReadFile(modelsDir + "tokenizer-vq-eeg.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &book); err != nil {
		t.Fatal(err)
	}
	book["encoder"] = abs
	book["channel_types"] = []string{"mag", "grad"}
	path := filepath.Join(dir, "relabelled.json")
	b, _ = json.Marshal(book)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = Open(rt, path)
	if err == nil || !strings.Contains(err.Error(), "learnt on channel types eeg, the codebook on mag+grad") {
		t.Fatalf("an EEG encoder with an MEG codebook: %v", err)
	}
	if err := sameModality(nil, []string{"eeg"}); err == nil || !strings.Contains(err.Error(), "names no channel types") {
		t.Fatalf("a contract without channel types: %v", err)
	}
	if err := sameModality([]string{"grad", "mag"}, []string{"mag", "grad"}); err != nil {
		t.Fatalf("the same types in another order: %v", err)
	}
}

// Without its encoder a learnt codebook still detokenizes (the decoder's patch per code) but refuses
// to tokenize, saying what it needs; tokens made with the encoder detokenize the same either way.
func TestLearntCodebookDecodesWithoutEncoder(t *testing.T) {
	cb, err := tokenizer.Load(codebookPath)
	if err != nil {
		t.Fatal(err)
	}
	q, err := tokenizer.NewQuantizer(cb)
	if err != nil {
		t.Fatal(err)
	}
	info := streams.StreamInfo{StreamID: "s", SampleRateHz: 160, Channels: []streams.Channel{{Name: "Cz", Type: streams.ChannelEEG}}}
	if _, err := q.NewTokenizer(info); err == nil || !strings.Contains(err.Error(), "ONNX encoder") {
		t.Fatalf("tokenizing without the encoder: %v", err)
	}
	p := cb.PatchSamples
	tk := &streams.Tokens{StreamID: "s", Codebook: cb.Name, CodebookVersion: cb.Fingerprint(), PatchSamples: p, Stages: 1,
		Tokens: []uint16{7}, Offsets: []float32{1e-6}, Scales: []float32{2e-6}, ChannelKeys: []string{"eeg:Cz"}}
	out, err := q.Detokenize(tk, nil, make([]float64, p))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if want := float32(float64(float32(1e-6)) + float64(float32(2e-6))*cb.Codewords[7][i]); v != want {
			t.Fatalf("sample %d: %g, want %g", i, v, want)
		}
	}
}
