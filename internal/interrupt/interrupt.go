// Package interrupt is the cause a command's context is cancelled with
// when the process receives SIGINT or SIGTERM (cliutil.SignalContext).
// The device library maps it to the code INTERRUPTED (client's
// CANCELLED is any other cancellation by the caller), whatever wraps it:
// a transfer cut short reports the context's cause.
package interrupt

import (
	"context"
	"errors"
	"os"
	"syscall"
)

// Error says which signal stopped the work.
type Error struct{ Signal os.Signal }

func (e *Error) Error() string {
	switch e.Signal {
	case os.Interrupt:
		return "interrupted by SIGINT"
	case syscall.SIGTERM:
		return "interrupted by SIGTERM"
	}
	return "interrupted by " + e.Signal.String()
}

// Of returns the *Error in err's chain, if any.
func Of(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Cause returns the *Error that ended ctx, if a signal ended it.
func Cause(ctx context.Context) (*Error, bool) {
	if ctx.Err() == nil {
		return nil, false
	}
	return Of(context.Cause(ctx))
}
