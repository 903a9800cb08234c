package openbci

import (
	"bytes"
	"testing"
)

// Any byte stream, in any chunking: the framer never panics, returns only well-framed packets that
// re-encode to the bytes they came from, and never holds more than one packet's worth undecided.
func FuzzFramer(f *testing.F) {
	p := Packet{Counter: 7, Footer: 0xC0}
	good := AppendPacket(nil, &p)
	f.Add(good, uint8(5))
	f.Add(append(append([]byte{0xA0, 0xA0, 0xC0}, good...), good[:20]...), uint8(1))
	f.Add(bytes.Repeat([]byte{0xA0}, 100), uint8(33))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		step := int(chunk)%64 + 1
		var fr Framer
		for off := 0; off < len(data); off += step {
			fr.Write(data[off:min(off+step, len(data))])
			for {
				p, ok := fr.Next()
				if !ok {
					break
				}
				b := AppendPacket(nil, &p)
				if !bytes.Contains(data, b) {
					t.Fatalf("packet % x not in the input", b)
				}
			}
			if len(fr.buf) > 2*PacketSize && bytes.IndexByte(fr.buf, headerByte) >= 0 && bytes.IndexByte(fr.buf, headerByte) < len(fr.buf)-PacketSize {
				t.Fatalf("framer holds %d bytes undecided", len(fr.buf))
			}
		}
	})
}

// Any notification: the Ganglion decoder never panics and reports at most two samples.
func FuzzGanglionDecode(f *testing.F) {
	enc := GanglionEncoder{}
	f.Add(enc.Encode([4]int32{1, 2, 3, 4}), uint8(2))
	f.Add(enc.Encode([4]int32{5, 6, 7, 8}, [4]int32{-9, 10, 11, 12}), uint8(2))
	f.Add([]byte("\xcb4521Z"), uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, fw uint8) {
		d := GanglionDecoder{Firmware: 2 + int(fw%2)}
		for range 2 {
			r, err := d.Decode(b)
			if err == nil && (r.N < 0 || r.N > 2 || r.Lost < 0) {
				t.Fatalf("result %+v", r)
			}
		}
	})
}
