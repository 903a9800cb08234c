package dsp

import (
	"testing"
)

// TestWindowerWindows checks every window's content and end index against slices of the pushed
// stream, for steps shorter than, equal to and longer than the window and for odd push sizes.
func TestWindowerWindows(t *testing.T) {
	const nc, total = 3, 1000
	stream := make([]float32, nc*total)
	for i := range total {
		for c := range nc {
			stream[i*nc+c] = float32(i*10 + c)
		}
	}
	for _, tc := range []struct{ win, step, push int }{{64, 16, 7}, {50, 50, 50}, {20, 35, 3}, {100, 1, 1000}, {1, 1, 5}} {
		w, err := NewWindower(nc, tc.win, tc.step)
		if err != nil {
			t.Fatal(err)
		}
		var ends []int64
		for off := 0; off < len(stream); off += tc.push * nc {
			w.Push(stream[off:min(off+tc.push*nc, len(stream))], func(win [][]float64, end int64) {
				ends = append(ends, end)
				if len(win) != nc {
					t.Fatalf("%+v: %d channels in window", tc, len(win))
				}
				for c := range win {
					if len(win[c]) != tc.win {
						t.Fatalf("%+v: window of %d samples", tc, len(win[c]))
					}
					for i, v := range win[c] {
						s := int(end) - tc.win + i
						if want := float64(s*10 + c); v != want {
							t.Fatalf("%+v: window ending %d channel %d sample %d = %v, want %v", tc, end, c, i, v, want)
						}
					}
				}
			})
		}
		wantN := (total-tc.win)/tc.step + 1
		if len(ends) != wantN {
			t.Errorf("%+v: %d windows, want %d", tc, len(ends), wantN)
		}
		for i, e := range ends {
			if want := int64(tc.win + i*tc.step); e != want {
				t.Errorf("%+v: window %d ends at %d, want %d", tc, i, e, want)
				break
			}
		}
		w.Reset()
		n := 0
		w.Push(stream[:tc.win*nc], func(win [][]float64, end int64) {
			n++
			if end != int64(tc.win) || win[0][0] != 0 {
				t.Errorf("%+v: after Reset first window ends %d starting with %v", tc, end, win[0][0])
			}
		})
		if n != 1 {
			t.Errorf("%+v: %d windows after Reset and one window of samples", tc, n)
		}
	}
}

func TestWindowerBadInput(t *testing.T) {
	for _, a := range [][3]int{{0, 10, 1}, {2, 0, 1}, {2, 10, 0}, {-1, 10, 1}} {
		if _, err := NewWindower(a[0], a[1], a[2]); err == nil {
			t.Errorf("NewWindower%v accepted", a)
		}
	}
}

func TestWindowerNoAllocs(t *testing.T) {
	w, err := NewWindower(64, 500, 25)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 64*8)
	sink := 0.0
	fn := func(win [][]float64, end int64) { sink += win[0][0] }
	for range 200 {
		w.Push(x, fn)
	}
	if a := testing.AllocsPerRun(500, func() { w.Push(x, fn) }); a != 0 {
		t.Errorf("Push allocates %v per 8-sample frame block", a)
	}
	_ = sink
}
