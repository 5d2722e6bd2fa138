package main

import (
	"fmt"
	"time"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/deltafiles"
	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

func deltaCommand() *cli.Command {
	return cliutil.Group("mrepo", &cli.Command{
		Name:      "delta",
		Usage:     "create or apply a binary patch between two versions of a file",
		UsageText: "mrepo delta create [--json] OLD NEW PATCH\nmrepo delta apply [--json] [--max-duration D] OLD PATCH OUT",
		Description: `The patch algorithm that add-target --delta-from uses, on plain files: to
measure what a patch would save on a pair of models, to benchmark, or to
rebuild a file by hand. Neither command needs a repository or keys.

Patches name the length and SHA-256 of the file they apply to and of the
file they rebuild; apply checks both and writes nothing unless the result
is exactly the file the patch was made for.`,
		Subcommands: []*cli.Command{deltaCreateCommand(), deltaApplyCommand()},
	})
}

// deltaSubcommand sets up a subcommand of `mrepo delta` that takes the
// positional arguments args names.
func deltaSubcommand(cmd *cli.Command, args ...string) *cli.Command {
	return cliutil.Subcommand("mrepo", "delta", nil, args, cmd)
}

func deltaCreateCommand() *cli.Command {
	return deltaSubcommand(&cli.Command{
		Name:      "create",
		Usage:     "write a patch that rebuilds NEW from OLD",
		UsageText: "mrepo delta create [--json] [--old-manifest FILE --new-manifest FILE] [--no-containers] [--fast-apply] OLD NEW PATCH",
		Description: `Computes a patch that rebuilds the file NEW from the file OLD and writes it
to PATCH, atomically (a temporary file next to PATCH, fsynced, then renamed):
PATCH is either the complete patch or left as it was. Neither file is read
into memory whole. Prints the sizes, the patch's share of NEW and the time
taken; --json prints them with the patch's statistics.

add-target --delta-from publishes a patch only when it saves at least 30% of
the file's bytes (--delta-min-saving); the percentage printed here tells
whether it would.

Model containers (safetensors, GGUF, ONNX, TFLite) are recognized and their
tensors paired by name, so a release whose exporter reordered them codes
like one that changed them in place. TF.js weight shards are described by
model.json: the one next to each file, or --old-manifest/--new-manifest.

Files under 16 MiB may be coded with an adaptive model that makes retrained
weights several percent smaller but applies at about 3-4 MB/s; --fast-apply
turns it off (add-target --delta-fast-apply), for devices short of CPU.`,
		Flags: []cli.Flag{jsonFlag,
			&cli.StringFlag{Name: "old-manifest", Usage: "TF.js model.json `FILE` that describes OLD, a weight shard"},
			&cli.StringFlag{Name: "new-manifest", Usage: "TF.js model.json `FILE` that describes NEW, a weight shard"},
			&cli.BoolFlag{Name: "no-containers", Usage: "diff as plain bytes: do not read or pair model tensors"},
			&cli.BoolFlag{Name: "fast-apply", Usage: "no adaptive coding: a patch that applies at hundreds of MB/s, perhaps a few percent larger"},
		},
		Action: func(c *cli.Context) error {
			if c.IsSet("old-manifest") != c.IsSet("new-manifest") {
				return cliutil.Usagef("delta create: --old-manifest and --new-manifest go together")
			}
			a := c.Args()
			res, err := deltafiles.Create(afero.NewOsFs(), a.Get(0), a.Get(1), a.Get(2), deltafiles.CreateOptions{Progress: cliutil.ProgressFor(c),
				OldManifest: c.String("old-manifest"), NewManifest: c.String("new-manifest"), NoContainers: c.Bool("no-containers"), FastApply: c.Bool("fast-apply")})
			if err != nil {
				return fmt.Errorf("delta create: %w", err)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			report.DeltaCreated(c.App.Writer, res)
			if line := res.TensorLine(); line != "" {
				fmt.Fprintln(c.App.Writer, line)
			}
			return nil
		},
	}, "OLD", "NEW", "PATCH")
}

func deltaApplyCommand() *cli.Command {
	return deltaSubcommand(&cli.Command{
		Name:      "apply",
		Usage:     "rebuild a file from OLD and PATCH into OUT",
		UsageText: "mrepo delta apply [--json] [--max-duration D] [--max-patch-ratio R] OLD PATCH OUT",
		Description: `Applies PATCH (made by delta create, or published by add-target --delta-from)
to the file OLD and writes the result to OUT. First checks that OLD has the
length and SHA-256 the patch was made from, and refuses a patch larger than
the file it rebuilds (--max-patch-ratio); then rebuilds the file and checks
its length and SHA-256 against the patch. OUT is written atomically and only
when every check passed; on any error it is left as it was (not created).`,
		Flags: []cli.Flag{jsonFlag,
			&cli.StringFlag{Name: "max-duration", Usage: "give up after `DURATION` (e.g. 30s, 5m; default: no limit)"},
			&cli.Float64Flag{Name: "max-patch-ratio", Usage: "refuse a patch larger than `R` times the file it rebuilds (default 1)"},
		},
		Action: func(c *cli.Context) error {
			opts := deltafiles.ApplyOptions{Progress: cliutil.ProgressFor(c)}
			if c.IsSet("max-duration") {
				d, err := duration.Parse(c.String("max-duration"))
				if err != nil {
					return cliutil.Usagef("delta apply: --max-duration: %v", err)
				}
				if d <= 0 {
					return cliutil.Usagef("delta apply: --max-duration must be positive")
				}
				opts.MaxDuration = time.Duration(d)
			}
			if c.IsSet("max-patch-ratio") {
				r := c.Float64("max-patch-ratio")
				if !(r > 0) {
					return cliutil.Usagef("delta apply: --max-patch-ratio must be positive")
				}
				opts.MaxPatchRatio = r
			}
			a := c.Args()
			res, err := deltafiles.Apply(afero.NewOsFs(), a.Get(0), a.Get(1), a.Get(2), opts)
			if err != nil {
				return fmt.Errorf("delta apply: %w", err)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			report.DeltaApplied(c.App.Writer, res)
			return nil
		},
	}, "OLD", "PATCH", "OUT")
}
