package streams

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

// AppendPredictionJSON writes what json.Marshal writes, read back the same way.
func TestAppendPredictionJSONMatchesEncodingJSON(t *testing.T) {
	cases := []*Prediction{
		{StreamID: "s1", Decoder: "alpha"},
		{StreamID: "bench-001", Decoder: "alpha", WindowEndSourceNs: -5, WindowEndSample: 1 << 40, Label: "eyes-closed",
			Scores: []Score{{"eyes-open", 0.1}, {"eyes-closed", 0.9}}, AcquiredAtNs: 1764892800123456789, PublishedAtNs: 1764892800124456789, LatencyNs: 1000000},
		{StreamID: "quote\"back\\slash\nnew<>&\x01\u2028é\xff", Decoder: "d", TopK: []Ranked{{"a", 1e-300}, {"b", -2.5e21}},
			Embedding: []float32{0, -1.5, 3.4028235e38, 1e-45, 0.1}},
	}
	for _, p := range cases {
		got, err := AppendPredictionJSON(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(got) {
			t.Fatalf("not JSON: %s", got)
		}
		var a, b Prediction
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("read back differently:\n ours %s\n json %s", got, want)
		}
		var ma, mb map[string]any
		_ = json.Unmarshal(got, &ma)
		_ = json.Unmarshal(want, &mb)
		if !reflect.DeepEqual(ma, mb) {
			t.Errorf("fields differ:\n ours %s\n json %s", got, want)
		}
	}
	if _, err := AppendPredictionJSON(nil, &Prediction{Scores: []Score{{"x", math.NaN()}}}); err == nil {
		t.Error("a NaN score was written as JSON")
	}
}

func BenchmarkHotPathAppendPredictionJSON(b *testing.B) {
	p := &Prediction{StreamID: "bench-001", Decoder: "alpha", Label: "eyes-closed", WindowEndSample: 500,
		Scores: []Score{{"eyes-open", 0.2}, {"eyes-closed", 0.8}}, AcquiredAtNs: 1764892800123456789}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.WindowEndSample = int64(i)
		buf, _ = AppendPredictionJSON(buf[:0], p)
	}
}
