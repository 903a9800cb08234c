package muse

import "testing"

// Any sequence of notifications on any channels: the assembler never panics, blocks come out in
// increasing order, and counts never go negative.
func FuzzAssembler(f *testing.F) {
	p := Packet{Seq: 65535}
	f.Add(AppendPacket(nil, &p), []byte{0, 1, 2, 3, 0})
	f.Add(make([]byte, 40), []byte{3, 3, 3})
	f.Fuzz(func(t *testing.T, stream []byte, chans []byte) {
		a := NewAssembler(4)
		last := int64(-1 << 62)
		for i, ch := range chans {
			lo := (i * 20) % max(len(stream), 1)
			note := stream[lo:min(lo+20, len(stream))]
			blocks, _ := a.Add(int(ch%5), note)
			for _, b := range blocks {
				if b.Index <= last {
					t.Fatalf("block %d after %d", b.Index, last)
				}
				last = b.Index
			}
		}
		if a.Lost() < 0 || a.Partial() < 0 || a.Late() < 0 {
			t.Fatalf("counts %d %d %d", a.Lost(), a.Partial(), a.Late())
		}
	})
}
