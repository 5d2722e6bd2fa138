// --repo DIR or URL: a local directory is used in place under its writer
// lock; a URL (s3://, gs://, azblob://, file://) is reached through
// package repostore, each write in sessions retried on conflict with
// other publishers (docs/design.md section 6).

package main

import (
	"encoding/json"
	"fmt"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/repostore"
	"github.com/edgetuf/edgetuf/storage"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

var scratchFlag = &cli.StringFlag{Name: "scratch", Usage: "with --repo URL: local `DIR` for a session's files before they are uploaded (default: a new temporary directory)"}

// addScratchFlag gives every command that takes --repo the --scratch
// flag.
func addScratchFlag(cmds []*cli.Command) {
	for _, cmd := range cmds {
		for _, f := range cmd.Flags {
			if f == repoFlag {
				cmd.Flags = append(cmd.Flags, scratchFlag)
				break
			}
		}
		addScratchFlag(cmd.Subcommands)
	}
}

func repoIsURL(c *cli.Context) bool { return storage.IsURL(c.String(repoFlag.Name)) }

// openBackend opens the backend --repo names.
func openBackend(c *cli.Context) (storage.Backend, error) {
	return storage.Open(c.Context, c.String(repoFlag.Name))
}

// withRepo runs fn, a command's change to the repository, on --repo and
// returns how many attempts it took. A URL runs in repostore.Run
// sessions (fn runs again after a conflict, which is reported on
// stderr); kr, when not nil, re-signs timestamp.json if another
// publisher replaced it after this one's snapshot.
func withRepo(c *cli.Context, kr keys.Keyring, fn func(r *repo.Repository) error) (int, error) {
	if !repoIsURL(c) {
		r, err := openRepo(c)
		if err != nil {
			return 0, err
		}
		return 1, fn(r)
	}
	return publish(c, kr, func(fs afero.Fs, dir string) error {
		r, err := repo.Open(fs, dir)
		if err != nil {
			return err
		}
		return fn(r)
	})
}

// publish runs op on the repository at the URL --repo in repostore.Run
// sessions, as withRepo does, and returns the attempts it took.
func publish(c *cli.Context, kr keys.Keyring, op func(fs afero.Fs, dir string) error) (int, error) {
	b, err := openBackend(c)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	o := repostore.RunOptions{Scratch: c.String(scratchFlag.Name), OnRetry: func(attempt, attempts int, _ error) {
		fmt.Fprintf(c.App.ErrWriter, "mrepo: conflict with another publisher, retrying (%d/%d)\n", attempt, attempts)
	}}
	if kr != nil {
		o.Timestamp = func(fs afero.Fs, dir string) error {
			r, err := repo.Open(fs, dir)
			if err == nil {
				_, err = r.Timestamp(kr)
			}
			return err
		}
	}
	res, err := repostore.Run(c.Context, b, o, op)
	if res == nil {
		return 0, err
	}
	return res.Attempts, err
}

// readRepo runs fn, a read-only command, on the repository --repo names:
// a directory on the OS filesystem, a URL in a session never committed
// (live: nothing cached, for mrepo serve).
func readRepo(c *cli.Context, live bool, fn func(fs afero.Fs, dir string) error) error {
	if !repoIsURL(c) {
		return fn(afero.NewOsFs(), c.String(repoFlag.Name))
	}
	b, err := openBackend(c)
	if err != nil {
		return err
	}
	defer b.Close()
	begin := repostore.Begin
	if live {
		begin = repostore.BeginLive
	}
	s, err := begin(c.Context, b, c.String(scratchFlag.Name))
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Describe(fn(s.Fs(), s.Dir()))
}

// writeResult prints a command's JSON result; with --repo URL it gains
// "attempts", the sessions the change took.
func writeResult(c *cli.Context, v any, attempts int) error {
	if !repoIsURL(c) {
		return cliutil.WriteJSON(c.App.Writer, v)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(data) < 2 || data[0] != '{' {
		return cliutil.WriteJSON(c.App.Writer, v)
	}
	sep := ","
	if string(data) == "{}" {
		sep = ""
	}
	data = append(data[:len(data)-1], fmt.Sprintf(`%s"attempts":%d}`, sep, attempts)...)
	return cliutil.WriteJSON(c.App.Writer, json.RawMessage(data))
}
