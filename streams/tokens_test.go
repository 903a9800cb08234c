package streams

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// The hand encoder writes what encoding/json would, and reads back exactly, without allocating.
func TestTokensJSON(t *testing.T) {
	tok := &Tokens{StreamID: `s"1`, Tokenizer: "kmeans-256", PatchEndSample: 1 << 40, PatchSamples: 32,
		Tokens: []uint16{0, 65535, 7}, Offsets: []float32{-1.5e-5, 0, 3}, Scales: []float32{2.25e-6, 1, float32(math.Pi)}, AcquiredAtNs: 42}
	b := tok.AppendJSON(nil)
	want, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	var a, w map[string]any
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(a, w) {
		t.Fatalf("hand JSON %s\nencoding/json %s", b, want)
	}
	back, err := UnmarshalTokens(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, tok) {
		t.Fatalf("read back %+v, want %+v", back, tok)
	}
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = tok.AppendJSON(buf[:0]) }); n != 0 {
		t.Fatalf("AppendJSON allocates %v times", n)
	}
	if _, err := UnmarshalTokens([]byte(`{"tokens":[1,2],"offsets":[0],"scales":[1,1]}`)); err == nil {
		t.Fatal("mismatched arrays accepted")
	}
}
