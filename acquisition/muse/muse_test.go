package muse

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestPacketRoundTripAndScale(t *testing.T) {
	p := Packet{Seq: 0xBEEF}
	for i := range p.Samples {
		p.Samples[i] = uint16(i*341) & 0xFFF
	}
	b := AppendPacket(nil, &p)
	if len(b) != NotificationBytes || b[0] != 0xBE || b[1] != 0xEF {
		t.Fatalf("% x", b)
	}
	// By hand: samples 0 and 1 (0x000, 0x155) pack into 00 01 55.
	if b[2] != 0x00 || b[3] != 0x01 || b[4] != 0x55 {
		t.Fatalf("first 3 sample bytes % x", b[2:5])
	}
	got, err := ParsePacket(b)
	if err != nil || got != p {
		t.Fatalf("round trip %+v %v", got, err)
	}
	// µV = (v − 0x800) × 125/256: 0x800 is 0, 0xFFF is +999.5 µV, 0 is −1000 µV.
	if Volts(0x800) != 0 || math.Abs(Volts(0xFFF)-999.51171875e-6) > 1e-15 || math.Abs(Volts(0)+1000e-6) > 1e-15 {
		t.Fatalf("scale: %g %g %g", Volts(0x800), Volts(0xFFF), Volts(0))
	}
	if _, err := ParsePacket(b[:19]); err == nil {
		t.Fatal("19 bytes accepted")
	}
	if c := Command("p21"); string(c) != "\x04p21\n" {
		t.Fatalf("command % x", c)
	}
}

// Notifications of four electrodes, interleaved out of order now and then, with whole sequence
// numbers lost (also across the 16-bit wrap) and single electrodes' notifications lost: every
// sample that arrived comes out in place, lost sequences are counted, held channels reported.
func TestAssemblerGapsAndWrap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const seqs = 400
	start := uint16(65536 - 150) // wraps after 150 sequences
	raw := make([][4][SamplesPerPacket]uint16, seqs)
	for k := range raw {
		for c := range 4 {
			for s := range SamplesPerPacket {
				raw[k][c][s] = uint16(0x800 + rng.IntN(400) - 200)
			}
		}
	}
	lostSeq := map[int]bool{20: true, 149: true, 150: true, 151: true, 300: true}
	lostOne := map[int]int{40: 2, 220: 0} // sequence -> electrode whose notification is lost
	type note struct {
		ch int
		b  []byte
	}
	var notes []note
	for k := range seqs {
		if lostSeq[k] {
			continue
		}
		for c := range 4 {
			if e, ok := lostOne[k]; ok && e == c {
				continue
			}
			p := Packet{Seq: start + uint16(k), Samples: raw[k][c]}
			notes = append(notes, note{c, AppendPacket(nil, &p)})
		}
	}
	// Swap some neighbours: BLE notifications of different characteristics may interleave.
	for i := 10; i+1 < len(notes); i += 29 {
		notes[i], notes[i+1] = notes[i+1], notes[i]
	}
	a := NewAssembler(4)
	var blocks []Block
	for _, n := range notes {
		out, err := a.Add(n.ch, n.b)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, out...)
	}
	wantLost := int64(0)
	last := blocks[len(blocks)-1].Index/SamplesPerPacket - int64(start)
	for k := range lostSeq {
		if int64(k) < last {
			wantLost += SamplesPerPacket
		}
	}
	if a.Lost() != wantLost {
		t.Fatalf("lost %d samples, want %d", a.Lost(), wantLost)
	}
	for _, b := range blocks {
		if len(b.Missing) > 0 {
			t.Logf("block seq %d missing %v", b.Index/SamplesPerPacket-int64(start), b.Missing)
		}
	}
	if a.Partial() != 2*SamplesPerPacket {
		t.Fatalf("partial %d samples, want %d", a.Partial(), 2*SamplesPerPacket)
	}
	prev := int64(-1)
	for _, b := range blocks {
		k := int(b.Index/SamplesPerPacket - int64(start))
		if b.Index <= prev {
			t.Fatalf("block %d out of order after %d", b.Index, prev)
		}
		prev = b.Index
		for s := range SamplesPerPacket {
			for c := range 4 {
				if e, ok := lostOne[k]; ok && e == c {
					continue
				}
				if got, want := b.Samples[s][c], Volts(raw[k][c][s]); got != want {
					t.Fatalf("seq %d sample %d ch %d: %g, want %g", k, s, c, got, want)
				}
			}
		}
		if e, ok := lostOne[k]; ok && (len(b.Missing) != 1 || b.Missing[0] != e) {
			t.Fatalf("seq %d: missing %v, want [%d]", k, b.Missing, e)
		}
	}
	if len(blocks) < seqs-len(lostSeq)-window {
		t.Fatalf("%d blocks from %d sequences", len(blocks), seqs-len(lostSeq))
	}
	if _, err := a.Add(4, notes[0].b); err == nil {
		t.Fatal("channel 4 of 4 accepted")
	}
}
