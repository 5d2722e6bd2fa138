package cliutil

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// ExitError carries an exit code and a one-line message out of a command.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// Usagef is a usage error: exit status 2.
func Usagef(format string, args ...any) error {
	return &ExitError{Code: 2, Msg: fmt.Sprintf(format, args...)}
}

// Run runs app and returns the exit status: 0 on success, the ExitError's
// code, or 1. Every failure prints exactly one line, "prog: reason", to
// stderr.
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
	return 1
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
// flag errors and missing required flags are one line and exit 2.
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
