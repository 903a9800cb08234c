package pipeline

import (
	"log/slog"
	"sync"
	"time"
)

// rateLimitedLog writes a warning at most once per interval per key (a stream id), saying how many
// were held back since: a stream sending garbage at its frame rate must not flood the log, and one
// stream's noise must not hide another's first warning.
type rateLimitedLog struct {
	out      *slog.Logger
	interval time.Duration

	mu   sync.Mutex
	keys map[string]*logKey
}

type logKey struct {
	last       time.Time
	suppressed int
}

// maxLogKeys bounds the keys remembered: made-up stream ids must not grow the map without end.
const maxLogKeys = 4096

func newRateLimitedLog(log *slog.Logger, interval time.Duration) *rateLimitedLog {
	return &rateLimitedLog{out: log, interval: interval, keys: make(map[string]*logKey)}
}

// log writes msg with args as a warning unless key was logged less than an interval ago.
func (r *rateLimitedLog) log(key, msg string, args ...any) {
	now := time.Now()
	r.mu.Lock()
	k := r.keys[key]
	if k != nil && now.Sub(k.last) < r.interval {
		k.suppressed++
		r.mu.Unlock()
		return
	}
	if k == nil {
		if len(r.keys) >= maxLogKeys {
			for key, old := range r.keys {
				if now.Sub(old.last) >= r.interval {
					delete(r.keys, key)
				}
			}
			if len(r.keys) >= maxLogKeys {
				r.mu.Unlock()
				return
			}
		}
		k = new(logKey)
		r.keys[key] = k
	}
	suppressed := k.suppressed
	k.last, k.suppressed = now, 0
	r.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "similar_since_last_log", suppressed)
	}
	r.out.Warn(msg, args...)
}
