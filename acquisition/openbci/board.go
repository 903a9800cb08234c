package openbci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/neurostream/neurostream/acquisition"
	"github.com/neurostream/neurostream/acquisition/serialport"
	"github.com/neurostream/neurostream/acquisition/synthetic"
	"github.com/neurostream/neurostream/streams"
)

// Default electrode names: OpenBCI's and BrainFlow's for the Cyton's inputs N1P-N8P, then the
// Daisy's.
var (
	CytonChannels = []string{"Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"}
	DaisyChannels = []string{"F7", "F8", "F3", "F4", "T7", "T8", "P3", "P4"}
)

// Daisy channel numbers in the channel-settings command (channels 9-16).
const daisyChannelKeys = "QWERTYUI"

// CytonConfig describes a Cyton board and how to stream it. Zero values take the defaults in brackets.
type CytonConfig struct {
	Port     string   `yaml:"port"`      // serial device, e.g. /dev/ttyUSB0 (required to open a board)
	StreamID string   `yaml:"stream_id"` // [cyton-1]
	Daisy    bool     `yaml:"daisy"`     // a Daisy module is attached: 16 channels at 125 Hz
	Gain     int      `yaml:"gain"`      // ADS1299 gain for every channel [24]
	Channels []string `yaml:"channels"`  // electrode names in input order [CytonChannels, DaisyChannels]
	// Accel adds the accelerometer's three axes (m/s², the last reading held between updates).
	Accel        bool          `yaml:"accel"`
	FrameSamples int           `yaml:"frame_samples"` // [8]
	Timeout      time.Duration `yaml:"timeout"`       // no byte for this long: the board stopped answering [3s]
	// Configure sends the reset ('v') and channel-settings commands before streaming [true on real
	// ports]; a board already set up (or a simulation without a command parser) can skip them.
	SkipReset bool `yaml:"skip_reset"`
}

func (c *CytonConfig) defaults() error {
	if c.StreamID == "" {
		c.StreamID = "cyton-1"
	}
	if c.Gain == 0 {
		c.Gain = 24
	}
	if err := CheckGain(c.Gain); err != nil {
		return fmt.Errorf("cyton: %w", err)
	}
	want := 8
	if c.Daisy {
		want = 16
	}
	if len(c.Channels) == 0 {
		c.Channels = append([]string(nil), CytonChannels...)
		if c.Daisy {
			c.Channels = append(c.Channels, DaisyChannels...)
		}
	}
	if len(c.Channels) != want {
		return fmt.Errorf("cyton: %d channel names for %d channels", len(c.Channels), want)
	}
	if c.FrameSamples == 0 {
		c.FrameSamples = 8
	}
	if c.FrameSamples < 1 || c.FrameSamples > 4096 {
		return fmt.Errorf("cyton: frame size %d samples out of range [1, 4096]", c.FrameSamples)
	}
	if c.Timeout == 0 {
		c.Timeout = 3 * time.Second
	}
	return nil
}

// CytonInfo describes the stream a board with cfg produces: EEG channels in volts with 10-10
// positions where the names have one, then the accelerometer axes if asked for.
func CytonInfo(cfg CytonConfig) (streams.StreamInfo, error) {
	if err := cfg.defaults(); err != nil {
		return streams.StreamInfo{}, err
	}
	rate, dev := 250.0, "OpenBCI Cyton"
	if cfg.Daisy {
		rate, dev = 125, "OpenBCI Cyton+Daisy"
	}
	info := streams.StreamInfo{SchemaVersion: streams.SchemaVersion, StreamID: cfg.StreamID, Device: dev, SampleRateHz: rate}
	info.Channels = EEGChannels(cfg.Channels)
	if cfg.Accel {
		info.Channels = append(info.Channels, AccelChannels()...)
	}
	return info, nil
}

// EEGChannels describes EEG electrodes in volts, positioned where the name is a 10-10 one.
func EEGChannels(names []string) []streams.Channel {
	out := make([]streams.Channel, len(names))
	for i, n := range names {
		out[i] = streams.Channel{Name: n, Type: streams.ChannelEEG, Unit: "V"}
		if pos, err := synthetic.Position(n); err == nil {
			out[i].Position, out[i].HasPosition = pos, true
		}
	}
	return out
}

// AccelChannels describes the three accelerometer axes.
func AccelChannels() []streams.Channel {
	return []streams.Channel{
		{Name: "AccelX", Type: streams.ChannelMisc, Unit: "m/s^2"},
		{Name: "AccelY", Type: streams.ChannelMisc, Unit: "m/s^2"},
		{Name: "AccelZ", Type: streams.ChannelMisc, Unit: "m/s^2"},
	}
}

// Cyton streams a board. Not safe for concurrent use; Close from another goroutine ends Next.
type Cyton struct {
	cfg    CytonConfig
	info   streams.StreamInfo
	port   io.ReadWriteCloser
	framer Framer
	queue  *acquisition.SampleQueue
	scale  float64
	rbuf   []byte
	row    []float32
	accel  [3]float32
	// Packet index: the counter unwrapped across its 256 wrap.
	started   bool
	lastCount uint8
	packetIdx int64
	dups      int64
	// Daisy: the half-sample waiting for its other half.
	halfIdx  int64 // sample index of the pending half, -1 when none
	halfSeen [2]bool
	chunks   chan chunk
	bufs     sync.Pool // read buffers, reused so that streaming does not allocate per read
}

// chunk is what one read of the port returned, stamped on arrival: the reader runs on its own so
// that arrival times stay true however late the consumer calls Next (the clock fit depends on them).
type chunk struct {
	b   []byte
	buf *[]byte // returned to the pool once framed
	at  int64
	err error
}

// deadliner is what *os.File offers for reads that must not block forever.
type deadliner interface{ SetReadDeadline(time.Time) error }

// OpenCyton opens the board on cfg.Port and starts streaming.
func OpenCyton(ctx context.Context, cfg CytonConfig) (*Cyton, error) {
	if cfg.Port == "" {
		return nil, errors.New("cyton: no serial port: pass --port (e.g. /dev/ttyUSB0, the OpenBCI dongle)")
	}
	port, err := serialport.Open(cfg.Port, 115200)
	if err != nil {
		return nil, fmt.Errorf("cyton: %w", err)
	}
	c, err := NewCyton(ctx, port, cfg)
	if err != nil {
		port.Close()
		return nil, err
	}
	return c, nil
}

// NewCyton streams a board on an open port (a serial device, a pseudo-terminal of a simulated
// board): it stops any stream in progress, resets the board and waits for its "$$$" prompt (unless
// cfg.SkipReset), sets the gain of every channel if it is not 24, and sends 'b' to start.
func NewCyton(ctx context.Context, port io.ReadWriteCloser, cfg CytonConfig) (*Cyton, error) {
	info, err := CytonInfo(cfg)
	if err != nil {
		return nil, err
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	q, err := acquisition.NewSampleQueue(cfg.StreamID, len(info.Channels), info.SampleRateHz, cfg.FrameSamples)
	if err != nil {
		return nil, err
	}
	c := &Cyton{cfg: cfg, info: info, port: port, queue: q, scale: VoltsPerCount(cfg.Gain),
		rbuf: make([]byte, 4096), row: make([]float32, len(info.Channels)), halfIdx: -1}
	if !cfg.SkipReset {
		if err := c.reset(ctx); err != nil {
			return nil, err
		}
	}
	if cfg.Gain != 24 {
		for ch := range len(cfg.Channels) {
			key := byte('1' + ch)
			if ch >= 8 {
				key = daisyChannelKeys[ch-8]
			}
			// x CHANNEL POWER_DOWN GAIN INPUT_TYPE BIAS SRB2 SRB1 X: on, gain, normal input, in bias, SRB2 on.
			cmd := []byte{'x', key, '0', gainCodes[cfg.Gain], '0', '1', '1', '0', 'X'}
			if _, err := port.Write(cmd); err != nil {
				return nil, fmt.Errorf("cyton: set gain: %w", err)
			}
		}
	}
	if _, err := port.Write([]byte{'b'}); err != nil {
		return nil, fmt.Errorf("cyton: start streaming: %w", err)
	}
	if d, ok := port.(deadliner); ok {
		d.SetReadDeadline(time.Time{})
	}
	c.chunks = make(chan chunk, 4096)
	c.bufs.New = func() any { b := make([]byte, 1024); return &b }
	go c.readLoop()
	return c, nil
}

// readLoop reads the port until it fails or is closed.
func (c *Cyton) readLoop() {
	for {
		buf := c.bufs.Get().(*[]byte)
		n, err := c.port.Read(*buf)
		if n > 0 {
			c.chunks <- chunk{b: (*buf)[:n], buf: buf, at: time.Now().UnixNano()}
		} else {
			c.bufs.Put(buf)
		}
		if err != nil {
			c.chunks <- chunk{err: err}
			close(c.chunks)
			return
		}
	}
}

// reset stops streaming and soft-resets the board, waiting for the "$$$" that ends its banner.
func (c *Cyton) reset(ctx context.Context) error {
	if _, err := c.port.Write([]byte{'s', 'v'}); err != nil {
		return fmt.Errorf("cyton: reset: %w", err)
	}
	deadline := time.Now().Add(c.cfg.Timeout)
	var got []byte
	for !bytes.Contains(got, []byte("$$$")) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cyton: the board did not answer the reset within %v (got %q): is it switched on (PC position), the dongle's switch on GPIO6, and the port right?",
				c.cfg.Timeout, tail(got, 80))
		}
		n, err := c.read(200 * time.Millisecond)
		got = append(got, c.rbuf[:n]...)
		if err != nil {
			return fmt.Errorf("cyton: reset: %w", err)
		}
	}
	if bytes.Contains(bytes.ToLower(got), []byte("daisy")) != c.cfg.Daisy && bytes.Contains(got, []byte("OpenBCI")) {
		return fmt.Errorf("cyton: the board's banner %q %s a Daisy module, but --daisy is %v", strings.TrimSpace(string(tail(got, 200))),
			map[bool]string{true: "reports", false: "does not report"}[!c.cfg.Daisy], c.cfg.Daisy)
	}
	return nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// read reads what the port has within wait; a timeout is not an error (n == 0).
func (c *Cyton) read(wait time.Duration) (int, error) {
	if d, ok := c.port.(deadliner); ok {
		d.SetReadDeadline(time.Now().Add(wait))
	}
	n, err := c.port.Read(c.rbuf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = nil
	}
	return n, err
}

// Info describes the stream.
func (c *Cyton) Info() streams.StreamInfo { return c.info }

// LiveStats reports lost samples, broken packets and the clock estimate.
func (c *Cyton) LiveStats() acquisition.LiveStats {
	s := c.queue.Stats()
	s.RejectedPackets, s.SkippedBytes = c.framer.Rejected(), c.framer.Skipped()
	return s
}

// Next fills f with the next frame, reading the port as needed. A board silent for cfg.Timeout is
// an error that says so.
func (c *Cyton) Next(ctx context.Context, f *streams.Frame) error {
	var timer *time.Timer
	for !c.queue.Ready() {
		var ch chunk
		var ok bool
		select {
		case ch, ok = <-c.chunks:
		default:
			if timer == nil {
				timer = time.NewTimer(c.cfg.Timeout)
				defer timer.Stop()
			} else {
				timer.Reset(c.cfg.Timeout)
			}
			select {
			case ch, ok = <-c.chunks:
			case <-timer.C:
				return fmt.Errorf("cyton %s: no data for %v: the board stopped answering (battery, radio range, or the dongle unplugged)", c.cfg.StreamID, c.cfg.Timeout)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !ok {
			return fmt.Errorf("cyton %s: the port is closed", c.cfg.StreamID)
		}
		if ch.err != nil {
			return fmt.Errorf("cyton %s: read: %w", c.cfg.StreamID, ch.err)
		}
		c.framer.Write(ch.b)
		c.bufs.Put(ch.buf)
		for {
			p, ok := c.framer.Next()
			if !ok {
				break
			}
			c.packet(&p, ch.at)
		}
	}
	c.queue.Pop(f)
	return nil
}

// packet unwraps the sample counter and queues the packet's channels.
func (c *Cyton) packet(p *Packet, arrivalNs int64) {
	if !c.started {
		if c.cfg.Daisy && p.Counter&1 == 1 {
			return // a Daisy stream starts with the even half of a sample
		}
		c.started, c.packetIdx = true, int64(p.Counter)
	} else {
		d := int64(p.Counter - c.lastCount) // mod 256
		if d == 0 {
			c.dups++
			return
		}
		c.packetIdx += d
	}
	c.lastCount = p.Counter
	if xyz, ok := p.Accel(); ok {
		for i, g := range xyz {
			c.accel[i] = float32(g * StandardGravity)
		}
	}
	if !c.cfg.Daisy {
		for i, v := range p.Channels {
			c.row[i] = float32(float64(v) * c.scale)
		}
		c.withAccel(8)
		c.queue.Push(c.packetIdx, c.row, arrivalNs)
		return
	}
	// Daisy: an even counter carries channels 9-16 and opens a sample, the next odd one channels
	// 1-8 and completes it. A half whose partner was lost is filled with the last values.
	s, half := c.packetIdx>>1, int(c.packetIdx&1)
	if c.halfIdx >= 0 && s != c.halfIdx {
		c.flushHalf(arrivalNs)
	}
	c.halfIdx = s
	c.halfSeen[half] = true
	off := 8
	if half == 1 {
		off = 0
	}
	for i, v := range p.Channels {
		c.row[off+i] = float32(float64(v) * c.scale)
	}
	if half == 1 {
		c.flushHalf(arrivalNs)
	}
}

// flushHalf queues the pending Daisy sample; a sample missing one half counts as lost but keeps the
// half that arrived (the other channels hold their last values).
func (c *Cyton) flushHalf(arrivalNs int64) {
	c.withAccel(16)
	if c.halfSeen[0] && c.halfSeen[1] {
		c.queue.Push(c.halfIdx, c.row, arrivalNs)
	} else {
		c.queue.PushPartial(c.halfIdx, c.row, arrivalNs)
	}
	c.halfIdx, c.halfSeen = -1, [2]bool{}
}

func (c *Cyton) withAccel(at int) {
	if c.cfg.Accel {
		copy(c.row[at:], c.accel[:])
	}
}

// Close stops the stream ('s') and closes the port.
func (c *Cyton) Close() error {
	c.port.Write([]byte{'s'})
	return c.port.Close()
}
