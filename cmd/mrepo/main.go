// Command mrepo creates, publishes to, checks and serves a TUF repository
// of machine-learning models. See `mrepo --help` and docs/.
package main

import (
	"io"
	"os"
	"runtime/debug"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/urfave/cli/v2"
)

// publishesOneModel are the commands that publish a change to one model,
// reading only its hash bins.
var publishesOneModel = map[string]bool{"add-target": true, "grant": true, "rollout": true, "revoke": true, "unrevoke": true, "policy": true}

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes mrepo and returns its exit code: 0 on success, 1 on
// failure, 64 on a usage error. 2 is never returned: it is how the Go
// runtime exits on a crash. Every failure prints one line to stderr.
func run(args []string, stdout, stderr io.Writer) int {
	return cliutil.Run("mrepo", cliutil.AddLogFlags("mrepo", cliutil.WithVersion(newApp(stdout, stderr), features...)), args, stderr)
}

// testHook, when set, runs before every command. Only this package's
// tests set it (to provoke a crash in the real command path); the shipped
// binary never does.
var testHook func()

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
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

Delta updates: add-target --delta-from VERSION also publishes patches from
that version; mrepo delta create|apply runs the patch algorithm on files.

Rollout control: mrepo rollout set|halt stages a version to a share of the
devices, mrepo revoke takes it away from every device (mrepo unrevoke lifts
that), mrepo policy set|clear sets when devices may download it; each is a
signed change (docs/rollout.md).

Model teams: mrepo delegate gives a team's key a model namespace (a
delegated targets role); the team publishes with add-target --role ROLE.

Passphrases for private keys come from --passphrase-file, the
MREPO_PASSPHRASE environment variable, or a terminal prompt.`,
		Writer:         stdout,
		ErrWriter:      stderr,
		OnUsageError:   cliutil.OnUsageError("mrepo"),
		ExitErrHandler: func(*cli.Context, error) {},
		Before: func(c *cli.Context) error {
			if testHook != nil {
				testHook()
			}
			cmd := c.Args().First()
			if publishesOneModel[cmd] && os.Getenv("GOGC") == "" {
				// Reading hash bins leaves about five times their size in short-lived
				// garbage (go-tuf decodes each role twice and re-encodes it to check a
				// signature) over a live set of about 15 MB at 1,000 models x 100
				// versions: collecting four times as often keeps add-target within
				// 64 MiB for 0.05-0.1 s of CPU (docs/design.md section 11).
				debug.SetGCPercent(25)
			}
			if cmd != "serve" && cmd != "keyserver" && (cmd != "telemetry" || c.Args().Get(1) != "serve") { // they shut down gracefully
				cliutil.ExitOnSignal(c) // "mrepo: interrupted", 130 or 143
			}
			return nil
		},
		Commands: []*cli.Command{
			initCommand(),
			addTargetCommand(),
			grantCommand(),
			rolloutCommand(),
			revokeCommand(),
			unrevokeCommand(),
			policyCommand(),
			timestampCommand(),
			snapshotCommand(),
			targetsCommand(),
			statusCommand(),
			verifyCommand(),
			serveCommand(),
			keyserverCommand(),
			deltaCommand(),
			delegateCommand(),
			binsCommand(),
			keygenCommand(),
			rotateCommand(),
			stageCommand(),
			signCommand(),
			mergeSignaturesCommand(),
			publishStagedCommand(),
			keyRefCommand(),
			telemetryCommand(),
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return cliutil.Usagef("unknown command %q (see mrepo --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
	}
	addScratchFlag(app.Commands)
	return app
}
