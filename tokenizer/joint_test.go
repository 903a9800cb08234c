package tokenizer

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neurostream/neurostream/streams"
)

// jointData makes channel-major recordings whose nch channels mix three low-pass sources (as EEG
// channels share their sources), plus a little noise of their own.
func jointData(rng *rand.Rand, nch, n, recs int) [][][]float64 {
	mix := make([][3]float64, nch)
	for c := range mix {
		for s := range mix[c] {
			mix[c][s] = rng.NormFloat64()
		}
	}
	var out [][][]float64
	for range recs {
		rec := make([][]float64, nch)
		for c := range rec {
			rec[c] = make([]float64, n)
		}
		var src [3]float64
		for i := range n {
			for s := range src {
				src[s] = 0.95*src[s] + rng.NormFloat64()
			}
			for c := range rec {
				rec[c][i] = 1e-5 * (mix[c][0]*src[0] + mix[c][1]*src[1] + mix[c][2]*src[2] + 0.05*rng.NormFloat64())
			}
		}
		out = append(out, rec)
	}
	return out
}

func jointKeys(nch int) []string {
	keys := make([]string, nch)
	for c := range keys {
		keys[c] = "eeg:C" + string(rune('a'+c))
	}
	return keys
}

// codeAll codes every block of the recordings, returning the bytes spent and the mean correlation
// of each channel's reconstruction from the decoded blocks.
func codeAll(t *testing.T, c *JointCodec, recs [][][]float64) (int, float64) {
	t.Helper()
	total, rsum, rn := 0, 0.0, 0
	for _, rec := range recs {
		recon, bytes, _, err := c.RoundTrip(rec)
		if err != nil {
			t.Fatal(err)
		}
		total += bytes
		for ch := range recon {
			rsum += pearson(rec[ch][:len(recon[ch])], recon[ch])
			rn++
		}
	}
	return total, rsum / float64(rn)
}

func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx, my = mx+x[i], my+y[i]
	}
	mx, my = mx/float64(len(x)), my/float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

// On held-out data a fine step reconstructs every channel almost exactly (the transforms invert),
// coarser steps spend fewer bytes for less correlation, and a codec saved and loaded codes the same
// bytes.
func TestJointCodecTradesBytesForCorrelation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const nch = 8
	recs := jointData(rng, nch, 4000, 3)
	train, test := recs[:2], recs[2:]
	c, err := TrainJoint("test", train, jointKeys(nch), 160, [2]float64{1, 40}, 32, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	fineBytes, fineR := codeAll(t, c, test)
	if fineR < 0.999 {
		t.Fatalf("step 0.2: r %g: the transform does not invert", fineR)
	}
	prevBytes, prevR := fineBytes, fineR
	for _, step := range []float64{0.5, 1, 3} {
		cs, err := c.WithStep(train, step)
		if err != nil {
			t.Fatal(err)
		}
		b, r := codeAll(t, cs, test)
		t.Logf("step %g: %d bytes (%.1f bits/s/ch), r %.4f", step, b, float64(8*b)/(4000/160.0)/nch, r)
		if !(b < prevBytes && r < prevR) {
			t.Fatalf("step %g: %d bytes, r %g; finer step: %d bytes, r %g", step, b, r, prevBytes, prevR)
		}
		prevBytes, prevR = b, r
	}

	path := filepath.Join(t.TempDir(), "joint.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadJoint(path)
	if err != nil {
		t.Fatal(err)
	}
	block := make([][]float64, nch)
	for ch := range block {
		block[ch] = test[0][ch][:32]
	}
	a, _ := c.EncodeBlock(nil, block, nil)
	b, _ := back.EncodeBlock(nil, block, nil)
	if !bytes.Equal(a, b) {
		t.Fatal("the loaded codec codes a block differently")
	}
	if c.Fingerprint() != back.Fingerprint() {
		t.Fatalf("version %08x saved, %08x loaded", c.Fingerprint(), back.Fingerprint())
	}
	if other, _ := c.WithStep(train, 0.3); other.Fingerprint() == c.Fingerprint() {
		t.Fatal("another step, the same version")
	}
}

// Bad input gets an error saying what was wrong: no or flat training data, a bad step, a block of
// the wrong shape or with a NaN, a corrupt message, a damaged codec file.
func TestJointCodecBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	recs := jointData(rng, 4, 640, 1)
	keys := jointKeys(4)
	for name, f := range map[string]func() error{
		"no data": func() error { _, err := TrainJoint("x", nil, keys, 160, [2]float64{}, 32, 1); return err },
		"flat": func() error {
			_, err := TrainJoint("x", [][][]float64{make([][]float64, 4)}, keys, 160, [2]float64{}, 32, 1)
			return err
		},
		"step 0":    func() error { _, err := TrainJoint("x", recs, keys, 160, [2]float64{}, 32, 0); return err },
		"wrong nch": func() error { _, err := TrainJoint("x", recs, keys[:3], 160, [2]float64{}, 32, 1); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := TrainJoint("x", recs, keys, 160, [2]float64{}, 32, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EncodeBlock(nil, make([][]float64, 3), nil); err == nil || !strings.Contains(err.Error(), "montage has 4") {
		t.Errorf("3-channel block: %v", err)
	}
	block := [][]float64{make([]float64, 32), make([]float64, 32), make([]float64, 32), make([]float64, 32)}
	block[2][5] = math.NaN()
	if _, err := c.EncodeBlock(nil, block, nil); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Errorf("NaN sample: %v", err)
	}
	block[2][5] = 0
	msg, err := c.EncodeBlock(nil, block, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DecodeBlock(msg[:4], block); err == nil {
		t.Error("a 4-byte message decoded")
	}
	path := filepath.Join(t.TempDir(), "joint.json")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, bytes.Replace(b, []byte(`"block_samples":32`), []byte(`"block_samples":16`), 1), 0o644)
	if _, err := LoadJoint(bad); err == nil || !strings.Contains(err.Error(), "level histograms") {
		t.Errorf("damaged file: %v", err)
	}
}

// Streaming: a stream pushed frame by frame through the joint tokenizer gives, block by block, the
// bytes the codec gives offline, and its messages detokenize to the offline reconstruction. Extra
// channels are left out; a stream lacking a montage channel or at another rate is refused, and
// messages of another codec are refused by the detokenizer.
func TestJointTokenizerStreamsAsOffline(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const nch, n = 6, 32
	recs := jointData(rng, nch, 3200, 2)
	keys := jointKeys(nch)
	c, err := TrainJoint("stream-test", recs[:1], keys, 160, [2]float64{1, 40}, n, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	// The stream has the montage's channels in another order, and a stim channel first.
	info := streams.StreamInfo{StreamID: "s", SampleRateHz: 160, Channels: []streams.Channel{{Name: "STI", Type: streams.ChannelStim}}}
	order := []int{3, 0, 5, 1, 4, 2}
	for _, ch := range order {
		info.Channels = append(info.Channels, streams.Channel{Name: keys[ch][len("eeg:"):], Type: streams.ChannelEEG})
	}
	tk, err := c.NewTokenizer(info)
	if err != nil {
		t.Fatal(err)
	}
	test := recs[1]
	width := len(info.Channels)
	var msgs [][]byte
	var ends []int64
	const frame = 10
	for s := 0; s+frame <= len(test[0]); s += frame {
		samples := make([]float32, frame*width)
		for i := range frame {
			for j, ch := range order {
				samples[i*width+1+j] = float32(test[ch][s+i])
			}
		}
		if err := tk.Push(samples, frame, 0, func(tt *streams.Tokens) error {
			msgs = append(msgs, append([]byte(nil), tt.Coded...))
			ends = append(ends, tt.WindowEndSample)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(msgs) != 3200/n {
		t.Fatalf("%d messages for %d blocks", len(msgs), 3200/n)
	}
	det := c.NewDetokenizer()
	block, want := make([][]float64, nch), make([][]float64, nch)
	for ch := range want {
		want[ch] = make([]float64, n)
	}
	var got []float32
	for b, msg := range msgs {
		for ch := range block {
			block[ch] = make([]float64, n)
			for i := range n { // what the stream carried: float32 samples
				block[ch][i] = float64(float32(test[ch][b*n+i]))
			}
		}
		offline, err := c.EncodeBlock(nil, block, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(offline, msg) || ends[b] != int64((b+1)*n) {
			t.Fatalf("block %d (ending at %d): streamed bytes differ from offline", b, ends[b])
		}
		if err := c.DecodeBlock(offline, want); err != nil {
			t.Fatal(err)
		}
		tt := &streams.Tokens{StreamID: "s", Codebook: c.Name, CodebookVersion: c.Fingerprint(), PatchSamples: n, ChannelKeys: keys, Coded: msg}
		if got, err = det.Detokenize(tt, got); err != nil {
			t.Fatal(err)
		}
		for ch := range nch {
			for i := range n {
				if got[i*nch+ch] != float32(want[ch][i]) {
					t.Fatalf("block %d channel %d sample %d: detokenized %g, offline %g", b, ch, i, got[i*nch+ch], want[ch][i])
				}
			}
		}
	}

	lacking := info
	lacking.Channels = info.Channels[:4]
	if _, err := c.NewTokenizer(lacking); err == nil || !strings.Contains(err.Error(), "lacks 3 of the montage's 6") {
		t.Errorf("a stream lacking channels: %v", err)
	}
	slow := info
	slow.SampleRateHz = 250
	if _, err := c.NewTokenizer(slow); err == nil || !strings.Contains(err.Error(), "250 Hz") {
		t.Errorf("a stream at 250 Hz: %v", err)
	}
	other, _ := c.WithStep(recs[:1], 2)
	tt := &streams.Tokens{StreamID: "s", Codebook: c.Name, CodebookVersion: other.Fingerprint(), PatchSamples: n, ChannelKeys: keys, Coded: msgs[0]}
	if _, err := det.Detokenize(tt, nil); err == nil || !strings.Contains(err.Error(), "the codec that made them") {
		t.Errorf("another codec's block: %v", err)
	}
}

// A joint tokenizer stopped mid-block and restored from its snapshot goes on to code exactly the
// blocks an uninterrupted one codes.
func TestJointTokenizerStateResumes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const nch = 4
	recs := jointData(rng, nch, 640, 2)
	keys := jointKeys(nch)
	c, err := TrainJoint("state", recs[:1], keys, 160, [2]float64{}, 32, 1)
	if err != nil {
		t.Fatal(err)
	}
	info := streams.StreamInfo{StreamID: "s", SampleRateHz: 160}
	for _, k := range keys {
		info.Channels = append(info.Channels, streams.Channel{Name: k[len("eeg:"):], Type: streams.ChannelEEG})
	}
	samples := make([]float32, 640*nch)
	for i := range 640 {
		for ch := range nch {
			samples[i*nch+ch] = float32(recs[1][ch][i])
		}
	}
	collect := func(out *[][]byte) func(*streams.Tokens) error {
		return func(tt *streams.Tokens) error { *out = append(*out, append([]byte(nil), tt.Coded...)); return nil }
	}
	var whole, resumed [][]byte
	a, _ := c.NewTokenizer(info)
	if err := a.Push(samples, 640, 0, collect(&whole)); err != nil {
		t.Fatal(err)
	}
	b, _ := c.NewTokenizer(info)
	const cut = 100 // 3 blocks and 4 samples
	if err := b.Push(samples[:cut*nch], cut, 0, collect(&resumed)); err != nil {
		t.Fatal(err)
	}
	snap := b.AppendState(nil)
	r, _ := c.NewTokenizer(info)
	if rest, err := r.RestoreState(snap); err != nil || len(rest) != 0 {
		t.Fatalf("restore: %v (%d bytes left)", err, len(rest))
	}
	if err := r.Push(samples[cut*nch:], 640-cut, 0, collect(&resumed)); err != nil {
		t.Fatal(err)
	}
	if len(resumed) != len(whole) {
		t.Fatalf("%d blocks resumed, %d whole", len(resumed), len(whole))
	}
	for i := range whole {
		if !bytes.Equal(whole[i], resumed[i]) {
			t.Fatalf("block %d differs after the restore", i)
		}
	}
	if _, err := r.RestoreState(snap[:len(snap)-3]); err == nil {
		t.Error("a cut snapshot restored")
	}
}
