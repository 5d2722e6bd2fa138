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

	"github.com/edgetuf/edgetuf/internal/interrupt"
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

// ExitError carries an exit code and a one-line message out of a command,
// and the error it reports, if any (for its code in a JSON failure).
type ExitError struct {
	Code int
	Msg  string
	Err  error
}

func (e *ExitError) Error() string { return e.Msg }
func (e *ExitError) Unwrap() error { return e.Err }

// Usagef is a usage error: exit status 64 (ExitUsage).
func Usagef(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Msg: fmt.Sprintf(format, args...)}
}

// SignalContext returns a context that ends at the first SIGINT or
// SIGTERM, with an *interrupt.Error as its cause (which the device
// library reports as INTERRUPTED), and received, which says which of them
// arrived (nil if none). After the first signal the default action is
// restored, so a second one terminates the process at once. stop releases
// the signals.
func SignalContext(parent context.Context) (ctx context.Context, received func() os.Signal, stop func()) {
	ctx, cancelCause := context.WithCancelCause(parent)
	cancel := func() { cancelCause(nil) }
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
			cancelCause(&interrupt.Error{Signal: s})
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
// reason", to stderr, and with --json a JSON failure on stdout
// (jsonerr.go). Flags may follow positional arguments (args.go). Without
// arguments it prints the help to stderr and exits 64. A crash is not
// recovered: the runtime exits 2.
func Run(prog string, app *cli.App, args []string, stderr io.Writer) int {
	if len(args) == 1 {
		app.Writer = stderr
		if err := app.Run([]string{args[0], "--help"}); err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", prog, OneLine(err))
		}
		fmt.Fprintf(stderr, "%s: expected a command (see %s --help)\n", prog, prog)
		return ExitUsage
	}
	p := permute(app, args)
	if app.Metadata == nil {
		app.Metadata = map[string]any{}
	}
	app.Metadata[metaJSON] = p.json
	err := app.Run(p.args)
	if stop, ok := app.Metadata[metaStop].(func()); ok {
		stop()
	}
	if err == nil {
		return 0
	}
	status, msg := ExitFailure, OneLine(err)
	var ee *ExitError
	if errors.As(err, &ee) {
		status, msg = ee.Code, OneLine(errors.New(ee.Msg))
	}
	if p.json {
		if jerr := writeJSONError(app.Writer, err, status, msg); jerr != nil {
			fmt.Fprintf(stderr, "%s: printing the JSON error: %v\n", prog, jerr)
		}
	}
	if msg != "" {
		fmt.Fprintf(stderr, "%s: %s\n", prog, msg)
	}
	return status
}

// GroupHelp is the action of a command group run without a subcommand:
// its help on stderr, and a usage error (exit 64) saying what is missing.
func GroupHelp(c *cli.Context, format string, args ...any) error {
	w := c.App.Writer
	c.App.Writer = c.App.ErrWriter
	defer func() { c.App.Writer = w }()
	cli.ShowSubcommandHelp(c)
	return Usagef(format, args...)
}

// Group sets up a command made of subcommands (cmd.Subcommands): run
// without one, it shows its help on stderr and is a usage error (exit
// 64), as are an unknown one and a flag error.
func Group(prog string, cmd *cli.Command) *cli.Command {
	var names []string
	for _, c := range cmd.Subcommands {
		names = append(names, c.Name)
	}
	choice, name := strings.Join(names, " or "), cmd.Name
	cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return Usagef("%s: %s (see %s %s --help)", name, OneLine(err), prog, name)
	}
	cmd.Action = func(c *cli.Context) error {
		if c.Args().Present() {
			return Usagef("%s: unknown command %q: %s (see %s %s --help)", name, c.Args().First(), choice, prog, name)
		}
		return GroupHelp(c, "%s: expected a command: %s (see %s %s --help)", name, choice, prog, name)
	}
	return cmd
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
