// --repo DIR or URL and --scratch: the flags; what they mean is package
// repoloc's.

package main

import (
	"fmt"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/repoloc"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
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

// repoLoc is where --repo points.
func repoLoc(c *cli.Context) repoloc.Loc {
	return repoloc.Loc{Repo: c.String(repoFlag.Name), Scratch: c.String(scratchFlag.Name),
		OpenDir: func() (*repo.Repository, error) { return openRepo(c) },
		OnRetry: func(attempt, attempts int) {
			fmt.Fprintf(c.App.ErrWriter, "mrepo: conflict with another publisher, retrying (%d/%d)\n", attempt, attempts)
		}}
}

func repoIsURL(c *cli.Context) bool { return repoLoc(c).IsURL() }

// withRepo runs fn, a command's change to the repository, on --repo
// (repoloc.Loc.Write) and returns the attempts it took.
func withRepo(c *cli.Context, kr keys.Keyring, fn func(r *repo.Repository) error) (int, error) {
	return repoLoc(c).Write(c.Context, kr, fn)
}

// publish runs op on the repository at the URL --repo.
func publish(c *cli.Context, kr keys.Keyring, op func(fs afero.Fs, dir string) error) (int, error) {
	return repoLoc(c).Publish(c.Context, kr, op)
}

// readRepo runs fn, a read-only command, on --repo.
func readRepo(c *cli.Context, live bool, fn func(fs afero.Fs, dir string) error) error {
	return repoLoc(c).Read(c.Context, live, fn)
}

// writeResult prints a command's JSON result (with "attempts" on a URL).
func writeResult(c *cli.Context, v any, attempts int) error {
	res, err := repoLoc(c).Result(v, attempts)
	if err != nil {
		return err
	}
	return cliutil.WriteJSON(c.App.Writer, res)
}
