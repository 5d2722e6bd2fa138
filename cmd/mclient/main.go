// Command mclient keeps the ML models of a device up to date from a TUF
// repository. It wraps package client; see `mclient --help` and docs/.
package main

import (
	"io"
	"os"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/directio"
	"github.com/urfave/cli/v2"
)

func main() {
	// One P more than CPUs: a patch's direct writes then never idle a
	// CPU that decoding and hashing could use (directio.AddSpareProc).
	directio.AddSpareProc()
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes mclient and returns its exit code: 0 on success, 1 on
// failure, 64 on a usage error (1 for every failure of `mclient tuf`, as
// the TUF conformance protocol requires), 130 or 143 when SIGINT or
// SIGTERM stopped `mclient update`. 2 is never returned: it is how the Go
// runtime exits on a crash. Every failure prints one line to stderr.
func run(args []string, stdout, stderr io.Writer) int {
	return cliutil.Run("mclient", cliutil.AddLogFlags("mclient", cliutil.WithVersion(newApp(stdout, stderr), features...)), args, stderr)
}

// testHook, when set, runs before every command. Only this package's
// tests set it (to provoke a crash in the real command path); the shipped
// binary never does, and nothing outside the tests can set it.
var testHook func()

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:  "mclient",
		Usage: "securely update the ML models of a device from a TUF repository",
		Description: `mclient trusts only a root pinned in the device image. Each update refreshes
the signed TUF metadata, picks the newest model version that is compatible
with this device and allowed by policy (using signed metadata only), streams
its files into staging while hashing them, verifies them, installs the
version in its own directory, switches one pointer file atomically, runs a
health check, and switches back if it fails.

  mclient init --state /var/lib/models --root root.json --repo-url https://models.example.com
  mclient update --state /var/lib/models --model-id detector --app-version 2.3.0 \
      --runtime tflite@2.14.1 --health-check /usr/bin/model-selftest
  mclient status --state /var/lib/models --json

Failures print "mclient: CODE: reason" on stderr; docs/error-codes.md lists
the codes.`,
		Writer:         stdout,
		ErrWriter:      stderr,
		OnUsageError:   cliutil.OnUsageError("mclient"),
		ExitErrHandler: func(*cli.Context, error) {},
		Before: func(*cli.Context) error {
			if testHook != nil {
				testHook()
			}
			return nil
		},
		Commands: []*cli.Command{
			initCommand(),
			updateCommand(),
			statusCommand(),
			verifyCommand(),
			rollbackCommand(),
			configCommand(),
			deviceKeyCommand(),
			fleetKeyCommand(),
			tufCommand(),
			reportCommand(),
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return cliutil.Usagef("unknown command %q (see mclient --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
}
