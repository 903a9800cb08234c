package acquisition

import (
	"context"
	"time"
)

// Pacer releases frames at the pace of their source clock, as a device would deliver them: the
// frame ending endSec seconds after the stream's start is released at start + endSec/Speed on the
// wall clock. Pacing to the start avoids the drift that sleeping a frame's duration each time adds
// up to. One timer is reused, so waiting does not allocate per frame.
type Pacer struct {
	Speed float64 // 1 = real time, 2 = twice as fast; <= 0 never waits
	start time.Time
	timer *time.Timer
}

// Wait blocks until the frame ending at endSec is due, or ctx ends.
func (p *Pacer) Wait(ctx context.Context, endSec float64) error {
	if p.Speed <= 0 {
		return nil
	}
	if p.start.IsZero() {
		p.start = time.Now()
	}
	wait := time.Until(p.start.Add(time.Duration(endSec / p.Speed * 1e9)))
	if wait <= 0 {
		return nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(wait)
	} else {
		p.timer.Reset(wait)
	}
	select {
	case <-ctx.Done():
		p.timer.Stop()
		return ctx.Err()
	case <-p.timer.C:
		return nil
	}
}
