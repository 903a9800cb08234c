package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
)

// The demo serves the live view by default and prints its URL; the page and the stream list answer
// there, with the demo's stream live. The embedded broker listens where --broker-addr says.
func TestDemoServesLiveView(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, []string{"--broker-addr", "127.0.0.1:0", "--view-addr", "127.0.0.1:0", "--metrics-addr", "off", "--namespace", "demo-view"}, &out)
	}()
	urlRE := regexp.MustCompile(`live view: (http://127\.0\.0\.1:\d+/)`)
	deadline := time.Now().Add(2 * time.Minute)
	var url string
	for url == "" {
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("demo ended: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo printed no live view URL:\n%s", out.String())
		}
	}
	if !regexp.MustCompile(`broker 127\.0\.0\.1:\d+`).MatchString(out.String()) || strings.Contains(out.String(), "broker 127.0.0.1:9092") {
		t.Errorf("demo's broker is not on a free port as --broker-addr 127.0.0.1:0 asked:\n%s", out.String())
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	page := new(bytes.Buffer)
	_, _ = page.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(page.String(), "neurostream live view") {
		t.Fatalf("%s serves %q, not the live view", url, page.String()[:min(200, page.Len())])
	}
	for {
		var list []struct {
			ID   string `json:"id"`
			Live bool   `json:"live"`
		}
		if resp, err := http.Get(url + "api/streams"); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
		}
		if len(list) == 1 && list[0].ID == "synthetic-1" && list[0].Live {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the view does not list the demo's stream as live: %+v", list)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A malformed view address is an error at start; only a taken port falls back to a free one, on the
// host asked for (never on every interface).
func TestViewAddressFallsBackOnlyWhenTaken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := newLogger(io.Discard, false)
	for _, addr := range []string{"nonsense", "127.0.0.1:notaport", "999.1.1.1:80"} {
		if url, err := startView(ctx, streams.Config{}, addr, 30, true, log); err == nil {
			t.Errorf("startView(%q) served %s, want an error", addr, url)
		}
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if _, err := startView(ctx, streams.Config{}, taken.Addr().String(), 30, false, log); err == nil {
		t.Fatal("a taken address without fallback: want an error")
	}
	url, err := startView(ctx, startBroker(t, "view-fallback"), taken.Addr().String(), 30, true, log)
	if err != nil {
		t.Fatalf("a taken address with fallback: %v", err)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") || strings.Contains(url, taken.Addr().String()) {
		t.Fatalf("fallback URL %s: want another port on 127.0.0.1", url)
	}
}
