// Flags and helpers that several mrepo commands share: the repository and
// key directory flags, passphrases, usage checks, warnings. Text output
// is in package report (cmd/mrepo/internal/report).

package main

import (
	"fmt"
	"os"
	"time"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

var (
	repoFlag = &cli.StringFlag{Name: "repo", Usage: "repository `DIR` or URL: s3://BUCKET[/PREFIX], gs://, azblob://, file:///DIR (required)"}
	keysFlag = &cli.StringFlag{Name: "keys", Usage: "key `DIR` holding the encrypted private keys (required)"}
	passFlag = &cli.StringFlag{Name: "passphrase-file", Usage: "read key passphrases from the first line of `FILE` (default: $MREPO_PASSPHRASE, else a terminal prompt)"}
	jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}
)

const passphraseEnv = "MREPO_PASSPHRASE"

func keyDir(c *cli.Context) *keyDirectory {
	return newKeyDirectory(c.String(keysFlag.Name), passphraseSource(c))
}

func openRepo(c *cli.Context) (*repo.Repository, error) {
	r, err := repo.Open(afero.NewOsFs(), c.String(repoFlag.Name))
	if err != nil {
		return nil, err
	}
	// MREPO_LOCK_TIMEOUT: how long a writer waits for another one (the
	// default, a minute, suits cron next to CI; a pipeline that would
	// rather fail fast, or wait longer, sets it).
	if v, ok := os.LookupEnv("MREPO_LOCK_TIMEOUT"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return nil, cliutil.Usagef("%s: MREPO_LOCK_TIMEOUT=%q: want a duration such as 0s, 30s or 5m", c.Command.Name, v)
		}
		r.LockTimeout = d
	}
	return r, nil
}

func durationFlag(name, def, usage string) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Value: def, Usage: usage}
}

func parseDurationFlag(c *cli.Context, name string) (duration.Duration, error) {
	d, err := duration.Parse(c.String(name))
	if err != nil {
		return 0, cliutil.Usagef("%s: --%s: %v", c.Command.Name, name, err)
	}
	return duration.Duration(d), nil
}

func command(required []string, cmd *cli.Command) *cli.Command {
	return cliutil.Command("mrepo", required, cmd)
}

func needNoArgs(c *cli.Context) error { return cliutil.NoArgs("mrepo", c) }

var (
	roleFlag    = &cli.StringFlag{Name: "role", Usage: "`ROLE`: root, targets, snapshot or timestamp (required)"}
	optKeysFlag = &cli.StringFlag{Name: "keys", Usage: "key `DIR` holding the encrypted private keys to sign with"}
	stagedFlag  = &cli.StringFlag{Name: "staged", Usage: "a staged metadata `FILE` (a copy, e.g. on an air-gapped machine) instead of the repository's"}
)

// optKeyDir is the --keys directory, or nil when not given.
func optKeyDir(c *cli.Context) keys.Keyring {
	if c.String("keys") == "" {
		return nil
	}
	return keyDir(c)
}

func roleArg(c *cli.Context) (string, error) {
	role := c.String("role")
	if err := staged.CheckTopLevelRole(role); err != nil {
		return "", cliutil.Usagef("%s: --role: %v", c.Command.Name, err)
	}
	return role, nil
}

// maxStagedFile bounds a staged metadata file to merge (as mrepo bounds
// every metadata read).
const maxStagedFile = 32 << 20

// stagedTarget checks that exactly one of --repo and --staged is given.
func stagedTarget(c *cli.Context) error {
	if (c.String("repo") == "") == (c.String("staged") == "") {
		return cliutil.Usagef("%s: give exactly one of --repo DIR and --staged FILE (see mrepo %s --help)", c.Command.Name, c.Command.Name)
	}
	return nil
}

// warn prints a command's warnings to stderr, one line each (none with
// --quiet).
func warn(c *cli.Context, ws []string) {
	if cliutil.Quiet(c) {
		return
	}
	for _, w := range ws {
		fmt.Fprintf(c.App.ErrWriter, "mrepo: warning: %s\n", w)
	}
}
