package acquisition

import (
	"context"
	"time"
)

// Pacer releases frames at the pace of their source clock, as a device would deliver them: the
// frame ending endSec seconds after the stream's start is released at start + endSec/Speed on the
// wall clock. Pacing to the start avoids the drift that sleeping a frame's duration each time adds
// up to.
type Pacer struct {
	Speed float64 // 1 = real time, 2 = twice as fast; <= 0 never waits
	start time.Time
	sleep Sleeper
}

// Wait blocks until the frame ending at endSec is due, or ctx ends.
func (p *Pacer) Wait(ctx context.Context, endSec float64) error {
	if p.Speed <= 0 {
		return nil
	}
	if p.start.IsZero() {
		p.start = time.Now()
	}
	return p.sleep.Sleep(ctx, time.Until(p.start.Add(time.Duration(endSec/p.Speed*1e9))))
}

// Sleeper waits on one reused timer, so that a source waiting before every frame does not
// allocate a timer per frame.
type Sleeper struct{ timer *time.Timer }

// Sleep blocks for d (not at all if d <= 0) or until ctx ends, and then returns ctx's error.
func (s *Sleeper) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		s.timer.Stop()
		return ctx.Err()
	case <-s.timer.C:
		return nil
	}
}
