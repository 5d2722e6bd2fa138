package telemetrycmd

import (
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

// Repo is how the commands here reach --repo and --keys: package main's
// flags (the same values, so that every mrepo command reads them alike
// and gets --scratch with --repo) and its helpers.
type Repo struct {
	// RepoFlag, KeysFlag and PassFlag are mrepo's --repo, --keys and
	// --passphrase-file.
	RepoFlag, KeysFlag, PassFlag cli.Flag
	// Keys is the --keys directory as a keyring (passphrases from
	// --passphrase-file, $MREPO_PASSPHRASE or a prompt).
	Keys func(c *cli.Context) keys.Keyring
	// Write runs fn, a change, on --repo (a directory under its writer
	// lock, or an object-storage URL in retried sessions) and returns the
	// attempts it took.
	Write func(c *cli.Context, kr keys.Keyring, fn func(r *repo.Repository) error) (int, error)
	// Read runs fn, read-only, on --repo.
	Read func(c *cli.Context, fn func(fs afero.Fs, dir string) error) error
	// Result prints a command's JSON result (with "attempts" on a URL).
	Result func(c *cli.Context, v any, attempts int) error
}
