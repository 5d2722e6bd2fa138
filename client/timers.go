package client

import (
	"context"
	"time"
)

// afterFunc starts a timer that calls f once d has passed, like
// time.AfterFunc. Every limit that ends stalled or overlong work (the
// stall watchdog, the metadata timeout, the run's time limit) starts its
// timer through one, so that the package's tests can fire those timers
// when they choose (export_test.go) instead of waiting for real time: no
// test depends on how fast the machine is.
type afterFunc func(d time.Duration, f func()) stopResetter

// stopResetter is the part of *time.Timer the limits use.
type stopResetter interface {
	Stop() bool
	Reset(d time.Duration) bool
}

func realAfter(d time.Duration, f func()) stopResetter { return time.AfterFunc(d, f) }

// withTimeoutCause is context.WithTimeoutCause on the timers of after.
func withTimeoutCause(ctx context.Context, after afterFunc, d time.Duration, cause error) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := after(d, func() { cancel(cause) })
	return ctx, func() {
		t.Stop()
		cancel(nil)
	}
}
