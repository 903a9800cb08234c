// Package muse decodes the Interaxon Muse 2016, Muse 2 and Muse S EEG headbands' Bluetooth LE
// notifications: each electrode (TP9, AF7, AF8, TP10, and the optional AUX input) has its own
// characteristic, whose 20-byte notifications carry a 16-bit sequence number and twelve 12-bit
// samples at 256 Hz. An Assembler joins the electrodes' notifications of one sequence number into
// twelve 4-channel samples in volts (µV = (v - 0x800) × 125/256), counts whole notifications lost
// from the sequence numbers (which wrap at 65536), and holds a channel's last value where only its
// notification went missing. The formats are Interaxon's as muse-js and BrainFlow document them;
// tested on synthesised notifications only.
package muse

import (
	"encoding/binary"
	"fmt"
)

const (
	RateHz            = 256
	SamplesPerPacket  = 12
	NotificationBytes = 20
	// Service is the Muse's GATT service; the control characteristic takes commands.
	Service     = "0000fe8d-0000-1000-8000-00805f9b34fb"
	ControlChar = "273e0001-4c4d-454d-96be-f03bac821358"
)

// Channels are the electrodes in stream order, with their characteristics.
var (
	Channels = []string{"TP9", "AF7", "AF8", "TP10"}
	EEGChars = []string{
		"273e0003-4c4d-454d-96be-f03bac821358", // TP9
		"273e0004-4c4d-454d-96be-f03bac821358", // AF7
		"273e0005-4c4d-454d-96be-f03bac821358", // AF8
		"273e0006-4c4d-454d-96be-f03bac821358", // TP10
	}
)

// Command encodes a control command as the headband expects it: a length byte, the command, '\n'.
// Streaming starts with "h" (halt), "p21" (preset: EEG without AUX), "s" and "d" (resume data).
func Command(cmd string) []byte {
	b := make([]byte, 0, len(cmd)+2)
	b = append(b, byte(len(cmd)+1))
	b = append(b, cmd...)
	return append(b, '\n')
}

// VoltsPerCount is the scale of a 12-bit sample around its 0x800 midpoint.
const VoltsPerCount = 125.0 / 256 * 1e-6

// Packet is one electrode's notification.
type Packet struct {
	Seq     uint16
	Samples [SamplesPerPacket]uint16 // raw 12-bit values
}

// ParsePacket decodes a 20-byte EEG notification.
func ParsePacket(b []byte) (Packet, error) {
	var p Packet
	if len(b) != NotificationBytes {
		return p, fmt.Errorf("muse: %d-byte EEG notification, want %d", len(b), NotificationBytes)
	}
	p.Seq = binary.BigEndian.Uint16(b)
	d := b[2:]
	for i := 0; i < SamplesPerPacket; i += 2 {
		o := i / 2 * 3
		p.Samples[i] = uint16(d[o])<<4 | uint16(d[o+1])>>4
		p.Samples[i+1] = uint16(d[o+1]&0xF)<<8 | uint16(d[o+2])
	}
	return p, nil
}

// AppendPacket encodes p: what a simulated headband sends.
func AppendPacket(dst []byte, p *Packet) []byte {
	dst = binary.BigEndian.AppendUint16(dst, p.Seq)
	for i := 0; i < SamplesPerPacket; i += 2 {
		a, b := p.Samples[i]&0xFFF, p.Samples[i+1]&0xFFF
		dst = append(dst, byte(a>>4), byte(a<<4)|byte(b>>8), byte(b))
	}
	return dst
}

// Volts converts a raw sample.
func Volts(v uint16) float64 { return (float64(v) - 0x800) * VoltsPerCount }

// Block is twelve samples of every channel of one sequence number.
type Block struct {
	Index int64 // sample index of the first sample (sequence number unwrapped × 12)
	// Samples[s][c] in volts.
	Samples [SamplesPerPacket][]float64
	// Missing lists the channels whose notification did not arrive (their values are held).
	Missing []int
}

// Assembler joins per-electrode notifications into blocks. Not safe for concurrent use.
type Assembler struct {
	nch     int
	pending []pendingSeq // by increasing unwrapped sequence
	started bool
	lastSeq uint16
	unwrap  int64 // unwrapped value of lastSeq
	emitted int64 // next unwrapped sequence to emit
	hold    []float64
	lost    int64 // samples lost: whole sequence numbers missing
	partial int64 // samples with a channel missing
	late    int64 // notifications for sequences already emitted
}

type pendingSeq struct {
	seq  int64
	have []bool
	vals [SamplesPerPacket][]float64
}

// NewAssembler joins nch channels (4, or 5 with AUX).
func NewAssembler(nch int) *Assembler {
	return &Assembler{nch: nch, hold: make([]float64, nch)}
}

// window is how many sequence numbers may be pending at once before the oldest is emitted without
// the notifications it still lacks (counted in sequences heard of, not numbers: a gap of lost
// sequences does not push out one still being completed).
const window = 3

// Add takes channel ch's notification and returns the blocks it completes, in order.
func (a *Assembler) Add(ch int, b []byte) ([]Block, error) {
	if ch < 0 || ch >= a.nch {
		return nil, fmt.Errorf("muse: channel %d of %d", ch, a.nch)
	}
	p, err := ParsePacket(b)
	if err != nil {
		return nil, err
	}
	var seq int64
	if !a.started {
		a.started, a.unwrap, a.emitted = true, int64(p.Seq), int64(p.Seq)
		seq = a.unwrap
	} else {
		// Nearest unwrapping of the 16-bit counter to the last one seen.
		d := int64(int16(p.Seq - a.lastSeq))
		seq = a.unwrap + d
		if seq > a.unwrap {
			a.unwrap = seq
		}
	}
	if seq >= a.unwrap {
		a.lastSeq = p.Seq
	}
	if seq < a.emitted {
		a.late++
		return nil, nil
	}
	ps := a.slot(seq)
	for s, v := range p.Samples {
		ps.vals[s][ch] = Volts(v)
	}
	ps.have[ch] = true
	var out []Block
	for len(a.pending) > 0 && (complete(&a.pending[0]) || len(a.pending) > window) {
		out = append(out, a.emit())
	}
	return out, nil
}

func complete(p *pendingSeq) bool {
	for _, h := range p.have {
		if !h {
			return false
		}
	}
	return true
}

// slot returns the pending entry for seq, creating it in order.
func (a *Assembler) slot(seq int64) *pendingSeq {
	i := 0
	for i < len(a.pending) && a.pending[i].seq < seq {
		i++
	}
	if i < len(a.pending) && a.pending[i].seq == seq {
		return &a.pending[i]
	}
	ps := pendingSeq{seq: seq, have: make([]bool, a.nch)}
	for s := range ps.vals {
		ps.vals[s] = make([]float64, a.nch)
	}
	a.pending = append(a.pending, pendingSeq{})
	copy(a.pending[i+1:], a.pending[i:])
	a.pending[i] = ps
	return &a.pending[i]
}

// emit turns the oldest pending sequence into a block, counting the sequences skipped before it.
func (a *Assembler) emit() Block {
	ps := a.pending[0]
	a.pending = a.pending[1:]
	a.lost += (ps.seq - a.emitted) * SamplesPerPacket
	a.emitted = ps.seq + 1
	blk := Block{Index: ps.seq * SamplesPerPacket}
	for c, h := range ps.have {
		if !h {
			blk.Missing = append(blk.Missing, c)
		}
	}
	if len(blk.Missing) > 0 {
		a.partial += SamplesPerPacket
	}
	for s := range ps.vals {
		for c, h := range ps.have {
			if h {
				a.hold[c] = ps.vals[s][c]
			} else {
				ps.vals[s][c] = a.hold[c]
			}
		}
		blk.Samples[s] = ps.vals[s]
	}
	return blk
}

// Lost counts samples of sequence numbers that never arrived on any channel; Partial those where
// some channels' notification was missing (held values); Late notifications that came after their
// sequence had been emitted.
func (a *Assembler) Lost() int64    { return a.lost }
func (a *Assembler) Partial() int64 { return a.partial }
func (a *Assembler) Late() int64    { return a.late }
