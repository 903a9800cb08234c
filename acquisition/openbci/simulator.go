package openbci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// FaultKind is a transmission fault a Simulator injects.
type FaultKind int

const (
	FaultDrop      FaultKind = iota // the packet is never sent
	FaultGarbage                    // Bytes bytes of noise go out before the packet (nothing lost)
	FaultBadFooter                  // the footer byte is damaged
	FaultBadHeader                  // the header byte is damaged
	// FaultTruncate sends only the first Bytes bytes; the next packet follows at once. The damage is
	// detectable only if the byte that lands on the footer's place is no footer: with Bytes = 30,
	// 27, ... (32 - 3k) that is a channel's most significant byte, 0x00 or 0xFF for any EEG.
	FaultTruncate
)

// Fault damages one packet of a simulated stream.
type Fault struct {
	Packet int // index of the packet in the stream (0-based; its counter is Packet mod 256)
	Kind   FaultKind
	Bytes  int
}

// Loses reports whether the fault costs the packet.
func (f Fault) Loses() bool { return f.Kind != FaultGarbage }

// Simulator is a simulated Cyton (or Cyton + Daisy) board on the device side of a serial link (a
// pseudo-terminal's controller side in tests): it answers 'v' with the board's banner and "$$$",
// streams packets after 'b' and stops after 's'. The packets carry Data (channel-major, volts,
// 8 or 16 channels) quantised at Gain (or the gain a channel-settings command set), with the
// injected Faults.
type Simulator struct {
	Data   [][]float64
	Gain   int     // [24]
	Daisy  bool    // 16 channels: even packets carry 9-16, odd ones 1-8
	Rate   float64 // packets per second to pace at; 0: as fast as the link takes them
	Faults []Fault
	// Accel is sent in every tenth packet, as the board does (counts, X Y Z).
	Accel [3]int16
	gains [16]int

	mu     sync.Mutex
	sentNs []int64 // host time each packet went out, by packet index (0: not sent)
}

// SentAt returns the host time (Unix ns) at which each packet was written to the link, 0 for
// packets not sent: the ground truth a clock estimate is checked against.
func (s *Simulator) SentAt() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.sentNs...)
}

// settings applies a channel-settings command "x CH POWER GAIN INPUT BIAS SRB2 SRB1 X".
func (s *Simulator) settings(cmd []byte) {
	if len(cmd) != 9 || cmd[0] != 'x' || cmd[8] != 'X' {
		return
	}
	ch := int(cmd[1] - '1')
	if k := bytes.IndexByte([]byte(daisyChannelKeys), cmd[1]); k >= 0 {
		ch = 8 + k
	}
	for g, code := range gainCodes {
		if code == cmd[3] && ch >= 0 && ch < len(s.gains) {
			s.gains[ch] = g
		}
	}
}

// Packets is the number of packets the data makes.
func (s *Simulator) Packets() int {
	if len(s.Data) == 0 {
		return 0
	}
	if s.Daisy {
		return 2 * len(s.Data[0])
	}
	return len(s.Data[0])
}

// packet encodes packet i, each channel at the gain its last channel-settings command set.
func (s *Simulator) packet(dst []byte, i int) []byte {
	var p Packet
	p.Counter = uint8(i)
	sample, first := i, 0
	if s.Daisy {
		sample = i / 2
		if i%2 == 0 {
			first = 8
		}
	}
	for c := range p.Channels {
		p.Channels[c] = Quantize(s.Data[first+c][sample], s.gains[first+c])
	}
	p.Footer = FooterAccel
	if i%10 == 0 {
		for k, v := range s.Accel {
			p.Aux[2*k], p.Aux[2*k+1] = byte(uint16(v)>>8), byte(v)
		}
	}
	return AppendPacket(dst, &p)
}

// Serve runs the board on link until ctx ends or the link fails; after streaming all packets the
// board goes quiet (as one whose battery ran out).
func (s *Simulator) Serve(ctx context.Context, link io.ReadWriter) error {
	want := 8
	if s.Daisy {
		want = 16
	}
	if len(s.Data) != want {
		return fmt.Errorf("simulator: %d channels of data, want %d", len(s.Data), want)
	}
	cmds := make(chan byte, 64)
	go func() {
		b := make([]byte, 64)
		for {
			n, err := link.Read(b)
			for _, c := range b[:n] {
				select {
				case cmds <- c:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				close(cmds)
				return
			}
		}
	}()
	faults := map[int]Fault{}
	for _, f := range s.Faults {
		faults[f.Packet] = f
	}
	for c := range s.gains {
		s.gains[c] = s.Gain
		if s.Gain == 0 {
			s.gains[c] = 24
		}
	}
	streaming, i := false, 0
	var out, setting []byte
	start := time.Now()
	for {
		var cmd byte
		var ok bool
		if streaming && i < s.Packets() {
			select {
			case cmd, ok = <-cmds:
			default:
			}
		} else {
			select {
			case cmd, ok = <-cmds:
				if !ok {
					return nil
				}
			case <-ctx.Done():
				return nil
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if len(setting) > 0 || cmd == 'x' {
			if setting = append(setting, cmd); len(setting) == 9 {
				s.settings(setting)
				setting = setting[:0]
			}
			continue
		}
		switch cmd {
		case 'v':
			streaming = false
			banner := "OpenBCI V3 8-16 channel\nOn Board ADS1299 Device ID: 0x3E\n"
			if s.Daisy {
				banner += "On Daisy ADS1299 Device ID: 0x3E\n"
			}
			banner += "LIS3DH Device ID: 0x33\nFirmware: v3.1.2\n$$$"
			if _, err := link.Write([]byte(banner)); err != nil {
				return err
			}
		case 'b':
			streaming, start = true, time.Now()
			i = 0
		case 's':
			streaming = false
		}
		if !streaming || i >= s.Packets() {
			continue
		}
		// Send a burst: up to the packets due now (paced) or 16 at a time.
		end := i + 16
		if s.Rate > 0 {
			due := int(time.Since(start).Seconds() * s.Rate)
			if due <= i {
				time.Sleep(time.Millisecond)
				continue
			}
			end = due
		}
		out = out[:0]
		first := i
		for ; i < end && i < s.Packets(); i++ {
			f, faulty := faults[i]
			if !faulty {
				out = s.packet(out, i)
				continue
			}
			switch f.Kind {
			case FaultDrop:
			case FaultGarbage:
				for k := range f.Bytes {
					b := byte(37*k + 11)
					if b == headerByte {
						b++
					}
					out = append(out, b)
				}
				out = s.packet(out, i)
			case FaultBadFooter:
				out = s.packet(out, i)
				out[len(out)-1] = 0x5A
			case FaultBadHeader:
				out = s.packet(out, i)
				out[len(out)-PacketSize] = 0x5A
			case FaultTruncate:
				at := len(out)
				out = s.packet(out, i)[:at+min(f.Bytes, PacketSize-1)]
			}
		}
		now := time.Now().UnixNano()
		s.mu.Lock()
		for len(s.sentNs) < i {
			s.sentNs = append(s.sentNs, 0)
		}
		for k := first; k < i; k++ {
			if _, dropped := faults[k]; !dropped || faults[k].Kind == FaultGarbage {
				s.sentNs[k] = now
			}
		}
		s.mu.Unlock()
		if _, err := link.Write(out); err != nil {
			if errors.Is(err, io.ErrClosedPipe) {
				return nil
			}
			return err
		}
	}
}
