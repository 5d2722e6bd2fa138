// The fleet telemetry commands live in package telemetrycmd; here they
// get mrepo's shared --repo and --keys flags and helpers.

package main

import (
	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/telemetrycmd"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

func telemetryRepo() telemetrycmd.Repo {
	return telemetrycmd.Repo{RepoFlag: repoFlag, KeysFlag: keysFlag, PassFlag: passFlag, Write: withRepo, Result: writeResult,
		Keys: func(c *cli.Context) keys.Keyring { return keyDir(c) },
		Read: func(c *cli.Context, fn func(afero.Fs, string) error) error { return readRepo(c, false, fn) }}
}

func telemetryCommand() *cli.Command {
	return telemetrycmd.Group(telemetrycmd.ServeCommand(), telemetrycmd.SamplingCommand(telemetryRepo()))
}
