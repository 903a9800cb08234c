package openbci

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestGanglionBits(t *testing.T) {
	b := make([]byte, 19)
	for _, n := range []int{18, 19} {
		for _, v := range []int32{0, 1, 2, -2, -3, 1000, -1000, 1<<(n-1) - 1, -(1 << (n - 1)) - 1} {
			for _, off := range []int{0, 5, 7 * n} {
				putGanglionBits(b, off, n, v)
				if got := ganglionBits(b, off, n); got != v {
					t.Fatalf("%d bits at %d: wrote %d, read %d", n, off, v, got)
				}
			}
		}
	}
	// By hand: 18 bits all ones read as -(0) - 2 = -2 (the firmware's encoding), 0b01 as 1.
	all := []byte{0xFF, 0xFF, 0xC0}
	if got := ganglionBits(all, 0, 18); got != -2 {
		t.Fatalf("all ones: %d", got)
	}
	if got := ganglionBits([]byte{0, 0, 0x40}, 0, 18); got != 1 {
		t.Fatalf("0...01: %d", got)
	}
}

// ganglionSignal is 4 channels of EEG-like counts (random walk).
func ganglionSignal(n int) [][4]int32 {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][4]int32, n)
	var v [4]float64
	for i := range out {
		for c := range v {
			v[c] += rng.NormFloat64() * 3000
			out[i][c] = int32(math.Round(v[c]))
		}
	}
	return out
}

// Firmware 2: an uncompressed sample, then 18-bit (or 19-bit) deltas two samples a notification;
// the decoder rebuilds every sample (within the one count the encoding cannot carry) and counts
// the samples of notifications that never arrived, across the id's wrap from 100 to 1.
func TestGanglionFirmware2(t *testing.T) {
	for _, bits19 := range []bool{false, true} {
		sig := ganglionSignal(1 + 2*450)
		enc := GanglionEncoder{Bits19: bits19}
		var dec GanglionDecoder
		var got [][4]float64
		skip := map[int]bool{30: true, 99: true, 100: true, 101: true, 250: true} // notification indices (0 = raw)
		lostWant := 0
		for k := 0; 1+2*(k-1) < len(sig); k++ {
			var note []byte
			if k == 0 {
				note = enc.Encode(sig[0])
			} else {
				note = enc.Encode(sig[2*k-1], sig[2*k])
			}
			if skip[k] {
				lostWant += 2
				continue
			}
			r, err := dec.Decode(note)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.Samples[:r.N]...)
		}
		if dec.Lost() != int64(lostWant) {
			t.Fatalf("19-bit %v: lost %d samples, want %d", bits19, dec.Lost(), lostWant)
		}
		// Before the first loss the samples are exact within a count.
		for i := range 1 + 2*29 {
			for c := range 4 {
				if e := math.Abs(got[i][c]/ganglionVoltsPerCnt - float64(sig[i][c])); e > 1.01 {
					t.Fatalf("19-bit %v: sample %d channel %d off by %.2f counts", bits19, i, c, e)
				}
			}
		}
	}
}

// Firmware 3 sends absolute values: losses cost only the lost samples.
func TestGanglionFirmware3AndImpedance(t *testing.T) {
	dec := GanglionDecoder{Firmware: 3}
	sig := ganglionSignal(400)
	id := 0
	lost := 0
	for k := 0; 2*k+1 < len(sig); k++ {
		b := make([]byte, 20)
		b[0] = byte(id)
		id = (id + 1) % 100
		for s := range 2 {
			for c := range 4 {
				putGanglionBits(b[1:], (4*s+c)*18, 18, top18(sig[2*k+s][c]))
			}
		}
		b[19] = 50 // accelerometer byte
		if k%37 == 5 {
			lost += 2
			continue
		}
		r, err := dec.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for s := range 2 {
			for c := range 4 {
				want := float64(top18(sig[2*k+s][c])<<6) * ganglionVoltsPerCnt
				if math.Abs(r.Samples[s][c]-want) > 1e-15 {
					t.Fatalf("packet %d sample %d ch %d: %g, want %g", k, s, c, r.Samples[s][c], want)
				}
			}
		}
	}
	if dec.Lost() != int64(lost) {
		t.Fatalf("lost %d, want %d", dec.Lost(), lost)
	}
	if dec.Accel != [3]float64{0.8, 0.8, -0.8} {
		t.Fatalf("accel %v", dec.Accel)
	}
	r, err := dec.Decode([]byte("\xcb4521Z"))
	if err != nil || r.ImpedanceChannel != 3 || dec.Impedance[2] != 4521 {
		t.Fatalf("impedance: %+v %v %v", r, err, dec.Impedance)
	}
	for _, bad := range [][]byte{{0xcb, '4', 'x'}, {0xcb, 'Z'}, {0xcc}, {250, 1, 2}, make([]byte, 7)} {
		if _, err := dec.Decode(bad); err == nil {
			t.Errorf("accepted % x", bad)
		}
	}
}

// top18 is the 18 bits firmware 3 keeps of a 24-bit count (-1 has no encoding: -2).
func top18(v int32) int32 {
	if v>>6 == -1 {
		return -2
	}
	return v >> 6
}
