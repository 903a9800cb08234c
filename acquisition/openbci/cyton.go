package openbci

import (
	"fmt"
	"math"
)

// Cyton packet layout: header, sample counter, 8 channels of 24-bit big-endian two's complement,
// 6 aux bytes (three 16-bit accelerometer axes when the footer is 0xC0), footer 0xC0-0xC6.
const (
	PacketSize  = 33
	headerByte  = 0xA0
	footerFirst = 0xC0
	footerLast  = 0xC6
	// FooterAccel marks aux bytes holding accelerometer axes X, Y, Z.
	FooterAccel = 0xC0
)

// VrefVolts is the ADS1299's reference voltage; a count is VrefVolts / (2^23 - 1) / gain volts.
const VrefVolts = 4.5

// AccelGPerCount is the LIS3DH accelerometer's scale in the Cyton's default ±4 g range.
const AccelGPerCount = 0.002 / 16

// StandardGravity converts g to m/s².
const StandardGravity = 9.80665

// Gains the ADS1299 offers, and the digit the channel-settings command takes for each.
var gainCodes = map[int]byte{1: '0', 2: '1', 4: '2', 6: '3', 8: '4', 12: '5', 24: '6'}

// VoltsPerCount is the scale of a 24-bit sample at the given programmable gain.
func VoltsPerCount(gain int) float64 { return VrefVolts / float64(1<<23-1) / float64(gain) }

// CheckGain reports whether the ADS1299 has gain g.
func CheckGain(g int) error {
	if _, ok := gainCodes[g]; !ok {
		return fmt.Errorf("gain %d: the ADS1299 offers 1, 2, 4, 6, 8, 12 or 24", g)
	}
	return nil
}

// Packet is one decoded Cyton packet.
type Packet struct {
	Counter  uint8
	Channels [8]int32 // raw counts, sign-extended
	Aux      [6]byte
	Footer   byte
}

// ParsePacket decodes a 33-byte packet; ok is false when the header or footer is wrong.
func ParsePacket(b []byte) (p Packet, ok bool) {
	if len(b) < PacketSize || b[0] != headerByte || b[32] < footerFirst || b[32] > footerLast {
		return p, false
	}
	p.Counter = b[1]
	for c := range p.Channels {
		o := 2 + 3*c
		v := int32(b[o])<<16 | int32(b[o+1])<<8 | int32(b[o+2])
		p.Channels[c] = v << 8 >> 8 // sign-extend 24 bits
	}
	copy(p.Aux[:], b[26:32])
	p.Footer = b[32]
	return p, true
}

// Accel returns the accelerometer reading in g when the packet carries one: the board sends a new
// reading with every tenth packet or so and zeros in between.
func (p *Packet) Accel() (xyz [3]float64, ok bool) {
	if p.Footer != FooterAccel {
		return xyz, false
	}
	for i := range xyz {
		v := int16(uint16(p.Aux[2*i])<<8 | uint16(p.Aux[2*i+1]))
		xyz[i] = float64(v) * AccelGPerCount
		ok = ok || v != 0
	}
	return xyz, ok
}

// AppendPacket appends p's 33 bytes to dst: what a simulated board sends.
func AppendPacket(dst []byte, p *Packet) []byte {
	dst = append(dst, headerByte, p.Counter)
	for _, v := range p.Channels {
		dst = append(dst, byte(v>>16), byte(v>>8), byte(v))
	}
	dst = append(dst, p.Aux[:]...)
	f := p.Footer
	if f < footerFirst || f > footerLast {
		f = FooterAccel
	}
	return append(dst, f)
}

// Quantize converts volts to the nearest 24-bit count at the gain, clipped to the ADC's range.
func Quantize(volts float64, gain int) int32 {
	c := math.Round(volts / VoltsPerCount(gain))
	return int32(max(-(1 << 23), min(1<<23-1, c)))
}

// Framer finds Cyton packets in a byte stream: it skips garbage until a header, checks the footer
// 32 bytes on, and when a packet's framing is broken resynchronises on the next header byte. A
// candidate found after garbage must also be followed by a header (when the next byte has already
// arrived), so a 0xA0 inside a packet's payload is not taken for a packet. The protocol has no
// checksum: a packet whose header and footer survive but whose payload is damaged cannot be told.
type Framer struct {
	buf      []byte
	inSync   bool
	rejected int64 // candidates with a header but a broken footer
	skipped  int64 // bytes discarded
}

// Write adds bytes read from the port.
func (fr *Framer) Write(b []byte) { fr.buf = append(fr.buf, b...) }

// Next returns the next complete packet, or ok false when more bytes are needed.
func (fr *Framer) Next() (p Packet, ok bool) {
	start := 0
	defer func() {
		if start > 0 {
			fr.buf = fr.buf[:copy(fr.buf, fr.buf[start:])]
		}
	}()
	for {
		i := start
		for i < len(fr.buf) && fr.buf[i] != headerByte {
			i++
		}
		if i > start {
			fr.skipped += int64(i - start)
			fr.inSync = false
			start = i
		}
		if len(fr.buf)-start < PacketSize {
			return p, false
		}
		b := fr.buf[start : start+PacketSize]
		p, ok = ParsePacket(b)
		if ok && !fr.inSync && len(fr.buf)-start > PacketSize && fr.buf[start+PacketSize] != headerByte {
			ok = false
		}
		if !ok {
			fr.rejected++
			fr.skipped++
			fr.inSync = false
			start++
			continue
		}
		fr.inSync = true
		start += PacketSize
		return p, true
	}
}

// Rejected counts header bytes that did not start a well-framed packet; Skipped counts all bytes
// discarded while resynchronising.
func (fr *Framer) Rejected() int64 { return fr.rejected }

// Skipped counts bytes discarded.
func (fr *Framer) Skipped() int64 { return fr.skipped }
