package transport

import (
	"context"
	"time"
)

// AfterFunc starts a timer that calls f once d has passed, like
// time.AfterFunc. Every limit that ends stalled or overlong work (the
// stall watchdog, the metadata timeout, the run's time limit) starts its
// timer through one, so that the package's tests can fire those timers
// when they choose (export_test.go) instead of waiting for real time: no
// test depends on how fast the machine is.
type AfterFunc func(d time.Duration, f func()) StopResetter

// StopResetter is the part of *time.Timer the limits use.
type StopResetter interface {
	Stop() bool
	Reset(d time.Duration) bool
}

func RealAfter(d time.Duration, f func()) StopResetter { return time.AfterFunc(d, f) }

// WithTimeoutCause is context.WithTimeoutCause on the timers of after.
func WithTimeoutCause(ctx context.Context, after AfterFunc, d time.Duration, cause error) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := after(d, func() { cancel(cause) })
	return ctx, func() {
		t.Stop()
		cancel(nil)
	}
}
