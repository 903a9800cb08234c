package view

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/neurostream/neurostream/streams"
)

//go:embed static
var static embed.FS

// DefaultAddr is where the view listens unless told otherwise: this machine only.
const DefaultAddr = "127.0.0.1:9470"

// stalledAfter is how long a stream may go without a frame before the list calls it stalled.
const stalledAfter = 2 * time.Second

// Config configures a Server.
type Config struct {
	Kafka streams.Config
	// Addr is the listen address (DefaultAddr if empty; host:0 picks a free port).
	Addr string
	// HistorySec is how many seconds of signal are kept per watched stream: the longest time span a
	// viewer can choose, and what a new viewer sees at once [30].
	HistorySec float64
	Log        *slog.Logger
}

// Server serves the page and the WebSocket, and runs the Kafka readers behind them.
type Server struct {
	cfg     Config
	topics  streams.Topics
	log     *slog.Logger
	outages *streams.Outages // the Kafka config's, else the view's own

	mu    sync.Mutex
	infos map[string]*streams.StreamInfo // by stream-info key ("raw/<id>", "clean/<id>")
	hubs  map[string]*hub                // by the same key
}

// New checks cfg and returns a server; Serve starts it.
func New(cfg Config) (*Server, error) {
	if err := cfg.Kafka.Validate(); err != nil {
		return nil, err
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.HistorySec <= 0 {
		cfg.HistorySec = 30
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	out := cfg.Kafka.Outages
	if out == nil {
		out = streams.NewOutages(cfg.Log)
	}
	return &Server{cfg: cfg, topics: cfg.Kafka.Topics(), log: cfg.Log, outages: out,
		infos: map[string]*streams.StreamInfo{}, hubs: map[string]*hub{}}, nil
}

// Serve starts the Kafka readers and the HTTP server, and returns the page's URL once listening.
// Everything stops when ctx ends.
func (s *Server) Serve(ctx context.Context) (string, error) {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return "", fmt.Errorf("view: listen on %s: %w (give another host:port, or 127.0.0.1:0 for a free port)", s.cfg.Addr, err)
	}
	if err := s.startFeeds(ctx); err != nil {
		ln.Close()
		return "", err
	}
	srv := &http.Server{Handler: s.Handler(ctx), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("view server stopped", "err", err)
		}
	}()
	return "http://" + ln.Addr().String() + "/", nil
}

// Handler serves the page (/), the stream list as JSON (/api/streams) and the data (/ws).
func (s *Server) Handler(ctx context.Context) http.Handler {
	mux := http.NewServeMux()
	page, _ := fs.Sub(static, "static")
	mux.Handle("/", http.FileServer(http.FS(page)))
	mux.HandleFunc("/api/streams", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.List())
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return // Accept has answered the request
		}
		s.serveViewer(ctx, c)
	})
	return mux
}

// StreamEntry is one line of the stream list.
type StreamEntry struct {
	ID         string   `json:"id"`
	Device     string   `json:"device"`
	Channels   int      `json:"channels"`
	RateHz     float64  `json:"rate_hz"`
	Topics     []string `json:"topics"` // "raw", "clean", "detokenized": where its frames are
	Live       bool     `json:"live"`
	LastAgeSec float64  `json:"last_age_sec"` // since the last frame; -1 if none seen
	Frames     uint64   `json:"frames"`
	Gaps       uint64   `json:"gaps"` // frames missing (sequence gaps) on the raw topic, else clean
	Duplicates uint64   `json:"duplicates"`
	Viewers    int      `json:"viewers"`
}

// List returns every stream described on the stream-info topic, with the counters of its frames.
func (s *Server) List() []StreamEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	byID := map[string]*StreamEntry{}
	now := time.Now()
	for key, info := range s.infos {
		kind, id, _ := strings.Cut(key, "/")
		e := byID[id]
		if e == nil {
			e = &StreamEntry{ID: id, Device: info.Device, Channels: len(info.Channels), RateHz: info.SampleRateHz, LastAgeSec: -1}
			byID[id] = e
		}
		e.Topics = append(e.Topics, kind)
		if h := s.hubs[key]; h != nil {
			st := h.stats()
			if kind == "raw" || e.Frames == 0 {
				e.Frames, e.Gaps, e.Duplicates = st.frames, st.gaps, st.dups
			}
			if !st.last.IsZero() {
				age := now.Sub(st.last).Seconds()
				if e.LastAgeSec < 0 || age < e.LastAgeSec {
					e.LastAgeSec = age
				}
			}
			e.Viewers += st.viewers
		}
		e.Live = e.LastAgeSec >= 0 && e.LastAgeSec < stalledAfter.Seconds()
	}
	out := make([]StreamEntry, 0, len(byID))
	for _, e := range byID {
		sort.Strings(e.Topics)
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// info returns the description published under key, or nil.
func (s *Server) info(key string) *streams.StreamInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.infos[key]
}

// hub returns the hub of key, creating it.
func (s *Server) hub(key string) *hub {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hubs[key]
	if h == nil {
		h = newHub(key, s.cfg.HistorySec)
		s.hubs[key] = h
	}
	return h
}

// existingHub returns the hub of key or nil.
func (s *Server) existingHub(key string) *hub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hubs[key]
}
