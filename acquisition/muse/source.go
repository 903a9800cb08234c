package muse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/ble"
	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/streams"
)

// Config describes a headband and how to stream it. Zero values take the defaults in brackets.
type Config struct {
	Address      string        // MAC address or advertised-name prefix [the first Muse found]
	StreamID     string        // [muse-1]
	FrameSamples int           // [12: one notification per channel]
	Timeout      time.Duration // no notification for this long: the headband stopped answering [3s]
}

func (c *Config) defaults() {
	if c.StreamID == "" {
		c.StreamID = "muse-1"
	}
	if c.FrameSamples == 0 {
		c.FrameSamples = SamplesPerPacket
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Second
	}
}

// Info describes the stream: TP9, AF7, AF8, TP10 in volts at their 10-10 positions, 256 Hz.
func Info(cfg Config) streams.StreamInfo {
	cfg.defaults()
	info := streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: cfg.StreamID, Device: "Interaxon Muse", SampleRateHz: RateHz}
	for _, n := range Channels {
		ch := streams.Channel{Name: n, Type: streams.ChannelEEG, Unit: "V"}
		if pos, err := synthetic.Position(n); err == nil {
			ch.Position, ch.HasPosition = pos, true
		}
		info.Channels = append(info.Channels, ch)
	}
	return info
}

// Source streams a headband over Bluetooth LE.
type Source struct {
	cfg   Config
	info  streams.StreamInfo
	link  ble.Link
	inbox *ble.Inbox
	asm   *Assembler
	queue *acquisition.SampleQueue
	row   []float32
	bad   int64
}

// Open finds the headband with connect (ble.Connect for the host's adapter) and starts it.
func Open(ctx context.Context, cfg Config, connect ble.Connector) (*Source, error) {
	link, err := connect(ctx, ble.Target{Service: Service, Match: cfg.Address, NamePrefix: "Muse"})
	if err != nil {
		return nil, fmt.Errorf("muse: %w", err)
	}
	s, err := New(link, cfg)
	if err != nil {
		link.Close()
		return nil, err
	}
	return s, nil
}

// New streams a headband on a connected link: it subscribes to the four EEG characteristics and
// sends halt, preset p21 (EEG without AUX), start and resume, as Interaxon's apps do.
func New(link ble.Link, cfg Config) (*Source, error) {
	cfg.defaults()
	q, err := acquisition.NewSampleQueue(cfg.StreamID, len(Channels), RateHz, cfg.FrameSamples)
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, info: Info(cfg), link: link, inbox: ble.NewInbox(4096), asm: NewAssembler(len(Channels)), queue: q,
		row: make([]float32, len(Channels))}
	for i, c := range EEGChars {
		if err := link.Subscribe(c, s.inbox.Handler(i)); err != nil {
			return nil, fmt.Errorf("muse: subscribe %s: %w", Channels[i], err)
		}
	}
	for _, cmd := range []string{"h", "p21", "s", "d"} {
		if err := link.Write(ControlChar, Command(cmd)); err != nil {
			return nil, fmt.Errorf("muse: command %q: %w", cmd, err)
		}
	}
	return s, nil
}

// Info describes the stream.
func (s *Source) Info() streams.StreamInfo { return s.info }

// LiveStats reports lost samples (whole or partial notifications), malformed ones and the clock.
func (s *Source) LiveStats() acquisition.LiveStats {
	st := s.queue.Stats()
	st.RejectedPackets = s.bad + s.inbox.Dropped()
	return st
}

// Next fills f with the next frame.
func (s *Source) Next(ctx context.Context, f *streams.Frame) error {
	for !s.queue.Ready() {
		n, err := s.inbox.Next(ctx, s.cfg.Timeout)
		if errors.Is(err, ble.ErrSilent) {
			return fmt.Errorf("muse %s: no data for %v: the headband stopped answering (battery, range, or another program connected)", s.cfg.StreamID, s.cfg.Timeout)
		}
		if err != nil {
			return err
		}
		blocks, err := s.asm.Add(n.Char, n.Data)
		if err != nil {
			s.bad++
			continue
		}
		for _, b := range blocks {
			for k, smp := range b.Samples {
				for c, v := range smp {
					s.row[c] = float32(v)
				}
				// A block's twelve samples were taken 1/256 s apart; the notification's arrival
				// dates its last one.
				at := n.ArrivalNs - int64(SamplesPerPacket-1-k)*1e9/RateHz
				if len(b.Missing) > 0 {
					s.queue.PushPartial(b.Index+int64(k), s.row, at)
				} else {
					s.queue.Push(b.Index+int64(k), s.row, at)
				}
			}
		}
	}
	s.queue.Pop(f)
	return nil
}

// Close halts the stream and disconnects.
func (s *Source) Close() error {
	s.link.Write(ControlChar, Command("h"))
	return s.link.Close()
}
