package view

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/neurostream/neurostream/streams"
)

// startFeeds creates the namespace's topics if needed (the view may start before any source) and
// starts the readers: stream-info from its start, every partition of the frame, prediction and
// feature topics from their end (the view shows what happens from now on).
func (s *Server) startFeeds(ctx context.Context) error {
	kc := s.cfg.Kafka
	if err := streams.EnsureTopics(ctx, kc, s.topics, 0, 1); err != nil {
		return fmt.Errorf("view: %w", err)
	}
	d, err := kc.Dialer()
	if err != nil {
		return err
	}
	s.follow(ctx, d, s.topics.StreamInfo, 0, kafka.FirstOffset, s.onStreamInfo)
	feeds := []struct {
		topic  string
		handle func(kafka.Message)
	}{
		{s.topics.Raw, func(m kafka.Message) { s.onFrame("raw", m) }},
		{s.topics.Clean, func(m kafka.Message) { s.onFrame("clean", m) }},
		{s.topics.Detokenized, func(m kafka.Message) { s.onFrame("detokenized", m) }},
		{s.topics.Predictions, s.onPrediction},
		{s.topics.Features, s.onFeatures},
	}
	for _, f := range feeds {
		parts, err := partitions(ctx, d, kc.Brokers, f.topic)
		if err != nil {
			return fmt.Errorf("view: %w", err)
		}
		for _, p := range parts {
			s.follow(ctx, d, f.topic, p, kafka.LastOffset, f.handle)
		}
	}
	return nil
}

// partitions lists a topic's partition ids.
func partitions(ctx context.Context, d *kafka.Dialer, brokers []string, topic string) ([]int, error) {
	var last error
	for _, b := range brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err != nil {
			last = err
			continue
		}
		ps, err := conn.ReadPartitions(topic)
		conn.Close()
		if err != nil {
			last = err
			continue
		}
		var ids []int
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		return ids, nil
	}
	return nil, fmt.Errorf("partitions of %s: %w", topic, last)
}

// follow reads one partition from offset until ctx ends, passing every message to handle.
//
// A broker outage does not end the reading: the reader is made again once the partition answers,
// after the last message handled, or at the partition's end if the restarted broker holds less than
// that (a broker killed with kill -9 loses its unsynced tail; a reader waiting past the end would see
// nothing until the partition grew back to its old length). The outage is logged once for all the
// view's partitions, not once per partition.
func (s *Server) follow(ctx context.Context, d *kafka.Dialer, topic string, partition int, offset int64, handle func(kafka.Message)) {
	op := "view " + s.cfg.Kafka.Namespace
	go func() {
		next := offset
		backoff := 50 * time.Millisecond
		for {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.cfg.Kafka.Brokers, Topic: topic, Partition: partition, Dialer: d,
				MinBytes: 1, MaxBytes: 16 << 20, MaxWait: time.Second, ReadBackoffMin: 10 * time.Millisecond, ReadBackoffMax: 200 * time.Millisecond})
			err := r.SetOffset(next)
			for err == nil {
				var m kafka.Message
				if m, err = r.ReadMessage(ctx); err == nil {
					next, backoff = m.Offset+1, 50*time.Millisecond
					handle(m)
				}
			}
			r.Close()
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			s.outages.Down(op, fmt.Errorf("%s[%d]: %w", topic, partition, err))
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, time.Second)
				first, last, err := partitionBounds(ctx, d, s.cfg.Kafka.Brokers, topic, partition)
				if err != nil {
					continue
				}
				if next >= 0 {
					next = min(max(next, first), last)
				}
				break
			}
			s.outages.Up(op)
		}
	}()
}

// partitionBounds returns a partition's first and next offsets, asked of its leader.
func partitionBounds(ctx context.Context, d *kafka.Dialer, brokers []string, topic string, partition int) (first, last int64, err error) {
	for _, b := range brokers {
		var conn *kafka.Conn
		if conn, err = d.DialLeader(ctx, "tcp", b, topic, partition); err != nil {
			continue
		}
		first, last, err = conn.ReadOffsets()
		conn.Close()
		if err == nil {
			return first, last, nil
		}
	}
	return 0, 0, err
}

func (s *Server) onStreamInfo(m kafka.Message) {
	info, err := streams.UnmarshalStreamInfo(m.Value)
	if err != nil {
		s.log.Warn("view: skipping undecodable stream info", "key", string(m.Key), "err", err)
		return
	}
	key := string(m.Key)
	s.mu.Lock()
	s.infos[key] = info
	h := s.hubs[key]
	s.mu.Unlock()
	if h != nil {
		h.setInfo(info)
	}
}

func (s *Server) onFrame(kind string, m kafka.Message) {
	key := streams.StreamInfoKey(kind, string(m.Key))
	h := s.hub(key)
	if h.needInfo() {
		if info := s.info(key); info != nil {
			h.setInfo(info)
		}
	}
	h.onFrame(m.Value, time.Now())
}

func (s *Server) onPrediction(m kafka.Message) {
	var p streams.Prediction
	if err := json.Unmarshal(m.Value, &p); err != nil || p.StreamID == "" {
		return
	}
	p.Embedding = nil // large and meaningless on a screen
	b, err := json.Marshal(struct {
		T string `json:"t"`
		*streams.Prediction
	}{"prediction", &p})
	if err != nil {
		return
	}
	s.toWatchers(p.StreamID, b)
}

func (s *Server) onFeatures(m kafka.Message) {
	fv, err := streams.UnmarshalFeatures(m.Value)
	if err != nil {
		return
	}
	b, err := json.Marshal(struct {
		T         string    `json:"t"`
		StreamID  string    `json:"stream_id"`
		EndSample int64     `json:"window_end_sample"`
		Names     []string  `json:"names"`
		Values    []float64 `json:"values"`
	}{"features", fv.StreamID, fv.WindowEndSample, fv.Names, fv.Values})
	if err != nil {
		return
	}
	s.toWatchers(fv.StreamID, b)
}

// toWatchers sends a text message to everyone watching the stream, on either frame topic.
func (s *Server) toWatchers(id string, msg []byte) {
	for _, kind := range []string{"raw", "clean", "detokenized"} {
		if h := s.existingHub(streams.StreamInfoKey(kind, id)); h != nil {
			h.broadcastText(msg)
		}
	}
}

// peekSeq reads a frame's sequence number without decoding its samples (stream id and seq come first).
func peekSeq(b []byte) (uint64, bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
		if num == 2 && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			return v, n >= 0
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return 0, false
		}
		b = b[n:]
	}
	return 0, false
}
