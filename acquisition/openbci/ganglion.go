package openbci

import (
	"fmt"
	"strconv"
)

// Ganglion Bluetooth LE: 20-byte notifications on the notify characteristic. Byte 0 says what the
// rest is. Firmware 2 (the shipped one): 0 = one uncompressed sample (4 × 24-bit); 1-100 = two
// samples as 8 × 18-bit deltas from the previous sample (accelerometer byte 19); 101-200 = two
// samples as 8 × 19-bit deltas; 201-205 = an impedance reading ("123Z" in ASCII) of channel 1-4 or
// the reference. Firmware 3 sends absolute 18/19-bit values (the 24-bit sample's top bits) under
// ids 0-99 and 100-199. Samples are 200 Hz.
const (
	GanglionRateHz       = 200
	GanglionNotification = 20
	// GanglionService and its characteristics.
	GanglionService     = "0000fe84-0000-1000-8000-00805f9b34fb"
	GanglionNotifyChar  = "2d30c082-f39f-4ce6-923f-3484ea480596"
	GanglionWriteChar   = "2d30c083-f39f-4ce6-923f-3484ea480596"
	ganglionAccelG      = 0.016 // g per count of the accelerometer byte
	ganglionVoltsPerCnt = 1.2 / (8388607.0 * 1.5 * 51.0)
)

// GanglionChannels are the default electrode names of inputs 1-4.
var GanglionChannels = []string{"Fp1", "Fp2", "O1", "O2"}

// GanglionVoltsPerCount is the scale of a Ganglion count (MCP3912, gain 51, 1.2 V reference).
func GanglionVoltsPerCount() float64 { return ganglionVoltsPerCnt }

// GanglionDecoder turns notifications into samples. Not safe for concurrent use.
type GanglionDecoder struct {
	Firmware int // 2 (default) or 3

	last    [4]int32 // the latest sample, counts
	haveRaw bool     // firmware 2: deltas need an uncompressed sample first
	started bool
	lastID  byte
	// Accel holds the latest accelerometer reading, g (X, Y, Z).
	Accel [3]float64
	// Impedance holds the latest impedance readings as the board reports them (channels 1-4, reference).
	Impedance [5]int
	lost      int64
	dropped   int64 // deltas discarded while waiting for an uncompressed sample
	rejected  int64
}

// GanglionResult is what one notification carried.
type GanglionResult struct {
	Samples [2][4]float64 // volts
	N       int           // samples carried: 0, 1 or 2
	// Lost is how many samples the packet id says went missing before this packet.
	Lost int
	// Impedance is set when the notification was an impedance reading (channel 1-5, 5 = reference).
	ImpedanceChannel int
}

// Decode handles one notification.
func (d *GanglionDecoder) Decode(b []byte) (GanglionResult, error) {
	var r GanglionResult
	if len(b) < 2 {
		d.rejected++
		return r, fmt.Errorf("ganglion: %d-byte notification", len(b))
	}
	id := b[0]
	if id > 200 && id < 206 {
		end := 1
		for end < len(b) && end < 7 && b[end] != 'Z' {
			end++
		}
		v, err := strconv.Atoi(string(b[1:end]))
		if err != nil || end >= len(b) || b[end] != 'Z' {
			d.rejected++
			return r, fmt.Errorf("ganglion: impedance message % x is not digits followed by Z", b)
		}
		ch := int(id % 10)
		d.Impedance[ch-1] = v
		r.ImpedanceChannel = ch
		return r, nil
	}
	if id > 200 || len(b) != GanglionNotification {
		d.rejected++
		return r, fmt.Errorf("ganglion: unexpected notification id %d (%d bytes)", id, len(b))
	}
	if d.Firmware == 3 {
		return d.decode3(b)
	}
	return d.decode2(b)
}

// next returns the id that should follow prev in firmware 2 numbering.
func nextID2(prev byte) byte {
	switch {
	case prev == 0:
		return 1 // also 101 when 19-bit compression is on; checked by the caller
	case prev == 100:
		return 1
	case prev == 200:
		return 101
	}
	return prev + 1
}

func (d *GanglionDecoder) decode2(b []byte) (GanglionResult, error) {
	var r GanglionResult
	id := b[0]
	if id == 0 {
		for c := range 4 {
			o := 1 + 3*c
			v := int32(b[o])<<16 | int32(b[o+1])<<8 | int32(b[o+2])
			d.last[c] = v << 8 >> 8
		}
		d.haveRaw, d.started, d.lastID = true, true, 0
		r.N = 1
		r.Samples[0] = d.volts()
		return r, nil
	}
	if !d.haveRaw {
		d.dropped += 2
		return r, nil
	}
	if d.started {
		want := nextID2(d.lastID)
		if d.lastID == 0 && id > 100 {
			want = 101
		}
		if id != want {
			// Packets between lastID and id are gone: each held two samples. Ids cycle over 100.
			gap := (int(id) - int(want) + 100) % 100
			r.Lost = 2 * gap
			d.lost += int64(r.Lost)
		}
	}
	d.started, d.lastID = true, id
	bits := 18
	if id > 100 {
		bits = 19
	} else {
		d.accel(id, b[19])
	}
	var delta [8]int32
	for k := range delta {
		delta[k] = ganglionBits(b[1:], k*bits, bits)
	}
	for s := range 2 {
		for c := range 4 {
			d.last[c] -= delta[4*s+c]
		}
		r.Samples[s] = d.volts()
	}
	r.N = 2
	return r, nil
}

func (d *GanglionDecoder) decode3(b []byte) (GanglionResult, error) {
	var r GanglionResult
	id := b[0]
	if d.started {
		want := (int(d.lastID) + 1) % 100
		if d.lastID >= 100 {
			want = 100 + (int(d.lastID)-100+1)%100
		}
		if int(id) != want {
			gap := (int(id) - want + 100) % 100
			r.Lost = 2 * gap
			d.lost += int64(r.Lost)
		}
	}
	d.started, d.lastID = true, id
	bits, shift := 18, 6
	if id >= 100 {
		bits, shift = 19, 5
	} else {
		d.accel(id, b[19])
	}
	for s := range 2 {
		for c := range 4 {
			d.last[c] = ganglionBits(b[1:], (4*s+c)*bits, bits) << shift
		}
		r.Samples[s] = d.volts()
	}
	r.N = 2
	return r, nil
}

// accel takes the accelerometer byte: ids ending in 0, 1, 2 carry Z (inverted), Y, X.
func (d *GanglionDecoder) accel(id, v byte) {
	g := float64(int8(v)) * ganglionAccelG
	switch id % 10 {
	case 0:
		d.Accel[2] = -g
	case 1:
		d.Accel[1] = g
	case 2:
		d.Accel[0] = g
	}
}

func (d *GanglionDecoder) volts() [4]float64 {
	var v [4]float64
	for c, x := range d.last {
		v[c] = float64(x) * ganglionVoltsPerCnt
	}
	return v
}

// Lost counts samples the packet ids say went missing; Rejected counts malformed notifications.
func (d *GanglionDecoder) Lost() int64     { return d.lost }
func (d *GanglionDecoder) Rejected() int64 { return d.rejected }

// ganglionBits reads the n-bit big-endian field at bit offset off. As OpenBCI's decoders do, a
// negative field is read as -(its complement) - 2: the firmware's encoding.
func ganglionBits(b []byte, off, n int) int32 {
	var u uint32
	for i := range n {
		bit := off + i
		u = u<<1 | uint32(b[bit/8]>>(7-bit%8))&1
	}
	if u&(1<<(n-1)) != 0 {
		return -int32(^u&(1<<n-1)) - 2
	}
	return int32(u)
}

// putGanglionBits writes v as the n-bit field at bit offset off, inverting ganglionBits (for
// simulated boards and tests); v = -1 has no encoding.
func putGanglionBits(b []byte, off, n int, v int32) {
	var u uint32
	if v < 0 {
		u = ^uint32(-v-2) & (1<<n - 1)
	} else {
		u = uint32(v)
	}
	for i := range n {
		bit := off + i
		mask := byte(1) << (7 - bit%8)
		if u>>(n-1-i)&1 != 0 {
			b[bit/8] |= mask
		} else {
			b[bit/8] &^= mask
		}
	}
}

// GanglionEncoder makes firmware-2 notifications from samples in counts: what a simulated Ganglion
// sends. The first call sends the uncompressed packet.
type GanglionEncoder struct {
	last    [4]int32
	started bool
	id      byte
	Bits19  bool
}

// Encode returns the notification for one sample (the first) or two.
func (e *GanglionEncoder) Encode(samples ...[4]int32) []byte {
	b := make([]byte, GanglionNotification)
	if !e.started {
		e.started = true
		for c, v := range samples[0] {
			b[1+3*c], b[2+3*c], b[3+3*c] = byte(v>>16), byte(v>>8), byte(v)
		}
		e.last = samples[0]
		return b
	}
	bits := 18
	switch {
	case e.Bits19 && (e.id == 0 || e.id == 200):
		e.id = 101
	case e.Bits19:
		e.id++
	case e.id == 100:
		e.id = 1
	default:
		e.id++
	}
	if e.Bits19 {
		bits = 19
	}
	b[0] = e.id
	for s, smp := range samples[:2] {
		for c, v := range smp {
			d := e.last[c] - v
			if d == -1 {
				d = -2 // not encodable; the board's stream carries the same one-count error
			}
			putGanglionBits(b[1:], (4*s+c)*bits, bits, d)
			e.last[c] -= d
		}
	}
	return b
}
