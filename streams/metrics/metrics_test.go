package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Rejections and Kafka errors are exported as 0 from the start: a dashboard shows 0, not "no data".
func TestErrorCountersStartAtZero(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := New().Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`neurostream_rejected_total{reason="invalid-frame"} 0`, `neurostream_kafka_errors_total{op="publish-frames"} 0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
