// Command mrepo creates, publishes to, checks and serves a TUF repository
// of machine-learning models. See `mrepo --help` and docs/.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/urfave/cli/v2"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// run executes mrepo and returns its exit code: 0 on success, 1 on
// failure, 2 on a usage error. Every failure prints one line to stderr.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "mrepo: %s\n", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "mrepo: %s\n", cliutil.OneLine(err))
	return 1
}

func usageError(c *cli.Context, err error, _ bool) error {
	name := "mrepo"
	if c != nil && c.Command != nil && c.Command.Name != "" && c.Command.Name != "mrepo" {
		name += " " + c.Command.Name
	}
	msg := cliutil.OneLine(err)
	if sub := strings.TrimPrefix(name, "mrepo"); sub != "" {
		msg = strings.TrimSpace(sub) + ": " + msg
	}
	return &exitError{code: 2, msg: fmt.Sprintf("%s (see %s --help)", msg, name)}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:  "mrepo",
		Usage: "sign and publish machine-learning models as a TUF repository",
		Description: `mrepo maintains a TUF (The Update Framework) repository of model bundles.
A bundle is a directory with a manifest.json and payload files; each
published version becomes signed targets under models/<model_id>/<version>/.

Typical life of a repository:
  mrepo init --repo /srv/models --keys ~/keys --root-keys 3 --root-threshold 2
  mrepo add-target --repo /srv/models --keys ~/keys ./bundle   (from CI)
  mrepo timestamp --repo /srv/models --keys ~/keys             (from cron)
  mrepo verify --repo /srv/models --root pinned-root.json      (release gate)
  mrepo serve --repo /srv/models --addr 127.0.0.1:8080         (or a CDN)

Passphrases for private keys come from --passphrase-file, the
MREPO_PASSPHRASE environment variable, or a terminal prompt.`,
		Writer:         stdout,
		ErrWriter:      stderr,
		OnUsageError:   usageError,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			initCommand(),
			addTargetCommand(),
			timestampCommand(),
			snapshotCommand(),
			targetsCommand(),
			statusCommand(),
			verifyCommand(),
			serveCommand(),
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return &exitError{code: 2, msg: fmt.Sprintf("unknown command %q (see mrepo --help)", c.Args().First())}
			}
			return cli.ShowAppHelp(c)
		},
	}
}
