package streams

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
)

// Reconnection defaults: the first retry comes quickly (a restarted broker is usually back within a
// second), later ones back off to a few seconds so that a long outage costs little.
const (
	defaultMinBackoff = 50 * time.Millisecond
	defaultMaxBackoff = time.Second
	// unknownTopicPatience is how long a topic may stay unknown before that is taken as a real
	// error: a restarted broker needs a moment to load its topics, auto-creation a moment to finish.
	unknownTopicPatience = 30 * time.Second
)

// Outages makes a process's producers and consumers ride out broker outages: an operation that fails
// with a transient error (connection refused or reset, leader moved, broker loading) is retried with
// capped exponential backoff until it succeeds or its context ends. Each outage is logged once when it
// starts and once when it ends, per operation, and reported to OnDown/OnUp (the process's metrics).
// Errors that retrying cannot fix (authentication, TLS, a topic that stays unknown, a message too
// large) are returned at once. One Outages is shared by every client of a process through Config.
type Outages struct {
	Log        *slog.Logger
	MinBackoff time.Duration // first retry delay (default 50 ms)
	MaxBackoff time.Duration // cap on the delay between retries (default 1 s)
	// OnDown is called when an operation starts failing, OnUp when it succeeds again after an
	// outage of the given length.
	OnDown func(op string)
	OnUp   func(op string, outage time.Duration)

	mu   sync.Mutex
	down map[string]time.Time // operations in an outage, since when
}

// NewOutages returns an Outages that logs to log.
func NewOutages(log *slog.Logger) *Outages { return &Outages{Log: log} }

func (o *Outages) logger() *slog.Logger {
	if o == nil || o.Log == nil {
		return slog.Default()
	}
	return o.Log
}

// Retry runs f until it returns nil or an error that is not transient, or ctx ends (then ctx's error
// is returned). op names the operation in logs and metrics ("publish", "fetch neurostream.raw").
func (o *Outages) Retry(ctx context.Context, op string, f func(context.Context) error) error {
	minB, maxB := defaultMinBackoff, defaultMaxBackoff
	if o != nil && o.MinBackoff > 0 {
		minB = o.MinBackoff
	}
	if o != nil && o.MaxBackoff > 0 {
		maxB = o.MaxBackoff
	}
	backoff := minB
	var unknownSince time.Time
	for {
		err := f(ctx)
		if err == nil {
			o.Up(op)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !Transient(err) {
			if errors.Is(err, kafka.SASLAuthenticationFailed) {
				return fmt.Errorf("%w: the broker refused these credentials (check kafka.sasl: mechanism, username, password or password_env)", err)
			}
			return err
		}
		if errors.Is(err, kafka.UnknownTopicOrPartition) {
			if unknownSince.IsZero() {
				unknownSince = time.Now()
			} else if time.Since(unknownSince) > unknownTopicPatience {
				return fmt.Errorf("%w (still unknown after %v: create the topic, or check --namespace)", err, unknownTopicPatience)
			}
		} else {
			unknownSince = time.Time{}
		}
		o.Down(op, err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, maxB)
	}
}

// Down records that op failed with a transient error; the first failure of an outage is logged.
func (o *Outages) Down(op string, err error) {
	if o == nil {
		slog.Default().Warn("Kafka unreachable, retrying", "op", op, "err", err)
		return
	}
	o.mu.Lock()
	if o.down == nil {
		o.down = make(map[string]time.Time)
	}
	_, already := o.down[op]
	if !already {
		o.down[op] = time.Now()
	}
	o.mu.Unlock()
	if already {
		return
	}
	o.logger().Warn("Kafka unreachable, retrying with backoff until it is back (logged once per outage)", "op", op, "err", err)
	if o.OnDown != nil {
		o.OnDown(op)
	}
}

// Up records that op succeeded; if it was in an outage, the outage's end is logged.
func (o *Outages) Up(op string) {
	if o == nil {
		return
	}
	o.mu.Lock()
	since, was := o.down[op]
	if was {
		delete(o.down, op)
	}
	o.mu.Unlock()
	if !was {
		return
	}
	d := time.Since(since)
	o.logger().Info("Kafka reachable again", "op", op, "outage", d.Round(time.Millisecond))
	if o.OnUp != nil {
		o.OnUp(op, d)
	}
}

// InOutage reports whether any operation is currently failing.
func (o *Outages) InOutage() bool {
	if o == nil {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.down) > 0
}

// Transient reports whether err may go away by itself: the broker is down, restarting or moving a
// partition's leadership. Authentication and TLS failures, unknown SASL mechanisms, oversized
// messages and context cancellation are not transient.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && !isNetTimeout(err) {
		return false
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		switch ke {
		case kafka.SASLAuthenticationFailed, kafka.UnsupportedSASLMechanism, kafka.IllegalSASLState,
			kafka.TopicAuthorizationFailed, kafka.GroupAuthorizationFailed, kafka.ClusterAuthorizationFailed,
			kafka.MessageSizeTooLarge, kafka.RecordListTooLarge, kafka.InvalidTopic:
			return false
		}
		return ke.Temporary() || ke == kafka.RebalanceInProgress || ke == kafka.UnknownMemberId || ke == kafka.IllegalGeneration
	}
	var (
		unknownCA x509.UnknownAuthorityError
		badCert   x509.CertificateInvalidError
		badHost   x509.HostnameError
		recHeader tls.RecordHeaderError
		certErr   *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &badCert) || errors.As(err, &badHost) || errors.As(err, &recHeader) || errors.As(err, &certErr) {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
