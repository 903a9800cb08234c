package openbci

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/ble"
	"github.com/neurostream/neurostream/streams"
)

// GanglionConfig describes a Ganglion and how to stream it. Zero values take the defaults in brackets.
type GanglionConfig struct {
	Address      string        // MAC address or advertised-name prefix [the first Ganglion found]
	StreamID     string        // [ganglion-1]
	Channels     []string      // electrode names of inputs 1-4 [GanglionChannels]
	Firmware     int           // 2 or 3 [2]
	FrameSamples int           // [8]
	Timeout      time.Duration // no notification for this long: the board stopped answering [3s]
}

func (c *GanglionConfig) defaults() error {
	if c.StreamID == "" {
		c.StreamID = "ganglion-1"
	}
	if len(c.Channels) == 0 {
		c.Channels = append([]string(nil), GanglionChannels...)
	}
	if len(c.Channels) != 4 {
		return fmt.Errorf("ganglion: %d channel names for 4 channels", len(c.Channels))
	}
	if c.Firmware == 0 {
		c.Firmware = 2
	}
	if c.Firmware != 2 && c.Firmware != 3 {
		return fmt.Errorf("ganglion: firmware %d: want 2 or 3", c.Firmware)
	}
	if c.FrameSamples == 0 {
		c.FrameSamples = 8
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Second
	}
	return nil
}

// GanglionInfo describes the stream a Ganglion with cfg produces.
func GanglionInfo(cfg GanglionConfig) (streams.StreamInfo, error) {
	if err := cfg.defaults(); err != nil {
		return streams.StreamInfo{}, err
	}
	return streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: cfg.StreamID, Device: "OpenBCI Ganglion",
		SampleRateHz: GanglionRateHz, Channels: EEGChannels(cfg.Channels)}, nil
}

// Ganglion streams a board over Bluetooth LE.
type Ganglion struct {
	cfg   GanglionConfig
	info  streams.StreamInfo
	link  ble.Link
	inbox *ble.Inbox
	dec   GanglionDecoder
	queue *acquisition.SampleQueue
	idx   int64
	row   []float32
}

// OpenGanglion finds the board with connect (ble.Connect for the host's adapter) and starts it.
func OpenGanglion(ctx context.Context, cfg GanglionConfig, connect ble.Connector) (*Ganglion, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	link, err := connect(ctx, ble.Target{Service: GanglionService, Match: cfg.Address, NamePrefix: "Ganglion"})
	if err != nil {
		return nil, fmt.Errorf("ganglion: %w", err)
	}
	g, err := NewGanglion(link, cfg)
	if err != nil {
		link.Close()
		return nil, err
	}
	return g, nil
}

// NewGanglion streams a board on a connected link: it subscribes to the data characteristic and
// sends 'b'.
func NewGanglion(link ble.Link, cfg GanglionConfig) (*Ganglion, error) {
	info, err := GanglionInfo(cfg)
	if err != nil {
		return nil, err
	}
	cfg.defaults()
	q, err := acquisition.NewSampleQueue(cfg.StreamID, 4, GanglionRateHz, cfg.FrameSamples)
	if err != nil {
		return nil, err
	}
	g := &Ganglion{cfg: cfg, info: info, link: link, inbox: ble.NewInbox(1024), queue: q, row: make([]float32, 4),
		dec: GanglionDecoder{Firmware: cfg.Firmware}}
	if err := link.Subscribe(GanglionNotifyChar, g.inbox.Handler(0)); err != nil {
		return nil, fmt.Errorf("ganglion: subscribe: %w", err)
	}
	if err := link.Write(GanglionWriteChar, []byte{'b'}); err != nil {
		return nil, fmt.Errorf("ganglion: start streaming: %w", err)
	}
	return g, nil
}

// Info describes the stream.
func (g *Ganglion) Info() streams.StreamInfo { return g.info }

// LiveStats reports lost samples, malformed notifications and the clock estimate.
func (g *Ganglion) LiveStats() acquisition.LiveStats {
	s := g.queue.Stats()
	s.RejectedPackets = g.dec.Rejected() + g.inbox.Dropped()
	return s
}

// Impedance returns the latest impedance readings (channels 1-4, reference) as the board reports them.
func (g *Ganglion) Impedance() [5]int { return g.dec.Impedance }

// Next fills f with the next frame.
func (g *Ganglion) Next(ctx context.Context, f *streams.Frame) error {
	for !g.queue.Ready() {
		n, err := g.inbox.Next(ctx, g.cfg.Timeout)
		if errors.Is(err, ble.ErrSilent) {
			return fmt.Errorf("ganglion %s: no data for %v: the board stopped answering (battery, range, or another program connected)", g.cfg.StreamID, g.cfg.Timeout)
		}
		if err != nil {
			return err
		}
		r, err := g.dec.Decode(n.Data)
		if err != nil {
			continue // counted by the decoder
		}
		g.idx += int64(r.Lost)
		for s := range r.N {
			for c, v := range r.Samples[s] {
				g.row[c] = float32(v)
			}
			g.queue.Push(g.idx, g.row, n.ArrivalNs)
			g.idx++
		}
	}
	g.queue.Pop(f)
	return nil
}

// Close stops streaming and disconnects.
func (g *Ganglion) Close() error {
	g.link.Write(GanglionWriteChar, []byte{'s'})
	return g.link.Close()
}
