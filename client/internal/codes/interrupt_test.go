package codes

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/edgetuf/edgetuf/internal/interrupt"
)

// TestInterruptedIsNotCancelled: a context ended by a signal (its cause an
// interrupt.Error, as cliutil.SignalContext cancels it) stops work with
// INTERRUPTED, also when the cause arrives wrapped (as net/http wraps a
// transfer cut short); any other cancellation is CANCELLED. Both are
// stops, neither counts as a failure.
func TestInterruptedIsNotCancelled(t *testing.T) {
	t.Parallel()
	sig, cancelSig := context.WithCancelCause(context.Background())
	cancelSig(&interrupt.Error{Signal: syscall.SIGTERM})
	plain, cancel := context.WithCancel(context.Background())
	cancel()
	if got := StopCode(sig); got != Interrupted {
		t.Errorf("StopCode(signal) = %s", got)
	}
	if got := StopCode(plain); got != Cancelled {
		t.Errorf("StopCode(cancel) = %s", got)
	}
	if got := StopCode(context.Background()); got != Cancelled {
		t.Errorf("StopCode(live context) = %s", got)
	}
	wrapped := &url.Error{Op: "Get", URL: "http://127.0.0.1/x", Err: fmt.Errorf("reading body: %w", context.Cause(sig))}
	if got := Classify(wrapped); got != Interrupted {
		t.Errorf("Classify(%v) = %s, want INTERRUPTED (not NETWORK)", wrapped, got)
	}
	if got := Classify(&url.Error{Op: "Get", URL: "u", Err: context.Canceled}); got != Network {
		t.Errorf("Classify(plain cancel in a url.Error) = %s", got)
	}
	if !IsStop(Interrupted) || !IsStop(Cancelled) || IsStop(Network) || IsStop(Busy) {
		t.Error("IsStop")
	}
	if got := (&interrupt.Error{Signal: os.Interrupt}).Error(); got != "interrupted by SIGINT" {
		t.Errorf("message %q", got)
	}
	if got := Errorf(Busy, nil, "x").ErrorCode(); got != "BUSY" {
		t.Errorf("ErrorCode %q", got)
	}
}
