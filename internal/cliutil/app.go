package cliutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/urfave/cli/v2"
)

// The exit statuses of mrepo and mclient. Every ExitError carries one of
// them (TestExitStatusesAreDocumented checks the code base).
const (
	// ExitFailure: the command failed (mclient prints the error code).
	ExitFailure = 1
	// ExitCrash is never returned: it is the status the Go runtime exits
	// with when the program crashes (an unrecovered panic, a fatal runtime
	// error). Documented as "internal error, please report"; usage errors
	// therefore do not use it.
	ExitCrash = 2
	// ExitUsage: a usage error (sysexits.h EX_USAGE): unknown command or
	// option, missing or invalid option or argument.
	ExitUsage = 64
	// ExitTempFail: the command did not run now and should be run again
	// later (sysexits.h EX_TEMPFAIL): mclient update deferred (DEFERRED_*)
	// or refused by its backoff (BACKOFF).
	ExitTempFail = 75
	// ExitSIGINT and ExitSIGTERM: the command was stopped gracefully by
	// SIGINT or SIGTERM (128 + the signal number, as a shell reports a
	// process killed by it).
	ExitSIGINT  = 128 + int(syscall.SIGINT)
	ExitSIGTERM = 128 + int(syscall.SIGTERM)
)

// ExitError carries an exit code and a one-line message out of a command.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// Usagef is a usage error: exit status 64 (ExitUsage).
func Usagef(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Msg: fmt.Sprintf(format, args...)}
}

// SignalContext returns a context that ends at the first SIGINT or
// SIGTERM, and received, which says which of them arrived (nil if none):
// signal.NotifyContext does not tell. After the first signal the default
// action is restored, so a second one terminates the process at once.
// stop releases the signals.
func SignalContext(parent context.Context) (ctx context.Context, received func() os.Signal, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	var mu sync.Mutex
	var got os.Signal
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			mu.Lock()
			got = s
			mu.Unlock()
			signal.Stop(ch)
			cancel()
		case <-done:
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			cancel()
		})
	}
	received = func() os.Signal {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	return ctx, received, stop
}

// SignalStatus is the exit status of a command stopped by sig: ExitSIGINT,
// ExitSIGTERM, or ExitFailure for another signal.
func SignalStatus(sig os.Signal) int {
	switch sig {
	case os.Interrupt:
		return ExitSIGINT
	case syscall.SIGTERM:
		return ExitSIGTERM
	}
	return ExitFailure
}

// Run runs app and returns the exit status: 0 on success, the ExitError's
// code, or 1 (ExitFailure). Every failure prints exactly one line, "prog:
// reason", to stderr. A crash is not recovered: the runtime exits 2.
func Run(prog string, app *cli.App, args []string, stderr io.Writer) int {
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Msg != "" {
			fmt.Fprintf(stderr, "%s: %s\n", prog, OneLine(errors.New(ee.Msg)))
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "%s: %s\n", prog, OneLine(err))
	return ExitFailure
}

// OnUsageError turns urfave/cli's flag errors into one-line usage errors.
func OnUsageError(prog string) cli.OnUsageErrorFunc {
	return func(c *cli.Context, err error, _ bool) error {
		name := prog
		if c != nil && c.Command != nil && c.Command.Name != "" && c.Command.Name != prog {
			name += " " + c.Command.Name
		}
		msg := OneLine(err)
		if sub := strings.TrimPrefix(name, prog); sub != "" {
			msg = strings.TrimSpace(sub) + ": " + msg
		}
		return Usagef("%s (see %s --help)", msg, name)
	}
}

// Command sets up a subcommand the way every command of ours behaves:
// flag errors and missing required flags are one line and exit 64.
func Command(prog string, required []string, cmd *cli.Command) *cli.Command {
	cmd.OnUsageError = OnUsageError(prog)
	before := cmd.Before
	cmd.Before = func(c *cli.Context) error {
		for _, name := range required {
			if c.String(name) == "" {
				return Usagef("%s: --%s is required (see %s %s --help)", cmd.Name, name, prog, cmd.Name)
			}
		}
		if before != nil {
			return before(c)
		}
		return nil
	}
	return cmd
}

// NoArgs refuses positional arguments.
func NoArgs(prog string, c *cli.Context) error {
	if c.Args().Len() > 0 {
		return Usagef("%s: unexpected argument %q (see %s %s --help)", c.Command.Name, c.Args().First(), prog, c.Command.Name)
	}
	return nil
}
