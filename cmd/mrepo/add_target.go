package main

import (
	"fmt"
	"strings"

	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/controlflags"
	"github.com/edgetuf/edgetuf/cmd/mrepo/internal/report"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/urfave/cli/v2"
)

func addTargetCommand() *cli.Command {
	return command([]string{"repo", "keys"}, &cli.Command{
		Name:      "add-target",
		Usage:     "publish a model bundle as signed TUF targets",
		UsageText: "mrepo add-target --repo DIR --keys DIR [--encrypt --delivery fleet|device|keyserver [--fleet-recipient age1tag1... | --fleet-recipient-file FILE] [--content-passphrase-file FILE]] [--delta-from VERSION]... [--delta-min-saving FRACTION] [--rollout-percent P] [--policy-unmetered-above SIZE] [--policy-min-battery PERCENT] [--policy-network TYPE]... BUNDLE_DIR",
		Description: `BUNDLE_DIR holds manifest.json and the payload files. The manifest needs at
least model_id and a semantic version; see docs/manifest.md for every field.
Each payload file and the completed manifest (with SHA-256 and size of every
file and the build timestamp) become targets under
models/<model_id>/<version>/, and the compatibility fields are also signed
into the manifest target's custom metadata. Targets, snapshot and timestamp
are re-signed.

With --delta-from VERSION (repeatable, or comma-separated), each payload file
that the published VERSION of the same model also has gets a binary patch
that rebuilds it from VERSION's file, published as a signed target of its own
(models/<model_id>/<version>/deltas/<VERSION>/<file>) and listed in the
manifest target's signed custom metadata, so that a device holding VERSION
downloads only the patch. A patch is published only if it saves at least
--delta-min-saving of the file's bytes (default 0.30, i.e. 30%); each patch
is reported, published or skipped, with its size.

With --rollout-percent P, the version is published staged: only P% of the
devices take it (mrepo rollout set, with a random cohort salt; 100 is a full
release). --policy-unmetered-above SIZE, --policy-min-battery PERCENT and
--policy-network TYPE (repeatable) publish it with a download policy (mrepo
policy set). See docs/rollout.md.

With --encrypt --delivery fleet|device|keyserver, the version is published
encrypted under a new content key stored under --keys (passphrase from
--content-passphrase-file, $MREPO_CONTENT_PASSPHRASE or a prompt); delivery
fleet also publishes the envelope for --fleet-recipient. See docs/cli.md.

Refused, with nothing changed: a version that is already published or lower
than the newest published version of the model, a malformed manifest, a
file path that escapes the bundle (.., absolute, symlink), or a
--delta-from VERSION that is not an older published version of the model.`,
		Flags: append([]cli.Flag{repoFlag, keysFlag, passFlag, jsonFlag, addTargetRoleFlag,
			&cli.StringSliceFlag{Name: "delta-from", Usage: "also publish patches from the published `VERSION` of the model (repeatable)"},
			&cli.Float64Flag{Name: "delta-min-saving", Value: targetstore.DefaultDeltaMinSaving, Usage: "publish a patch only if it saves at least this `FRACTION` of the file's bytes (0 < FRACTION < 1)"},
			&cli.BoolFlag{Name: "delta-fast-apply", Usage: "patches that devices apply at hundreds of MB/s: no adaptive coding (a few percent larger on models under 16 MiB)"},
		}, append(controlflags.AddTargetFlags(), addTargetEncryptFlags()...)...),
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("add-target: expected exactly one BUNDLE_DIR argument (see mrepo add-target --help)")
			}
			opts := repo.AddOptions{Progress: cliutil.ProgressFor(c), Logger: cliutil.Logger(c), DeltaFrom: c.StringSlice("delta-from"), DeltaMinSaving: c.Float64("delta-min-saving"), DeltaFastApply: c.Bool("delta-fast-apply"), Role: c.String("role")}
			if s := opts.DeltaMinSaving; !(s > 0 && s < 1) {
				return cliutil.Usagef("add-target: --delta-min-saving %v: must be between 0 and 1 (exclusive), e.g. 0.3 for 30%%", s)
			}
			var err error
			if opts.Rollout, opts.Policy, err = controlflags.AddTarget(c); err != nil {
				return err
			}
			if err := addTargetEncrypt(c, &opts); err != nil {
				return err
			}
			for _, v := range opts.DeltaFrom {
				if _, err := targets.ParseVersion(v); err != nil {
					return cliutil.Usagef("add-target: --delta-from: %v", err)
				}
			}
			var res *repo.AddResult
			kd := keyDir(c)
			attempts, err := withRepo(c, kd, func(r *repo.Repository) (err error) {
				res, err = r.AddTarget(c.Args().First(), kd, opts)
				return err
			})
			if err != nil {
				return fmt.Errorf("add-target: %w", err)
			}
			warn(c, res.Warnings)
			if c.Bool("json") {
				return writeResult(c, res, attempts)
			}
			report.Added(c.App.Writer, res)
			if res.Rollout != nil || res.Policy != nil {
				fmt.Fprintf(c.App.Writer, "%s %s: %s\n", res.ModelID, res.Version, strings.Join(report.Controls(res.Rollout, nil, res.Policy), "; "))
			}
			return nil
		},
	})
}

// addTargetRoleFlag is add-target's --role.
var addTargetRoleFlag = &cli.StringFlag{Name: "role", Usage: "publish into the delegated role `ROLE`, signed with its keys (not the targets key)"}

// addTargetEncryptFlags are add-target's encryption flags.
func addTargetEncryptFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "encrypt", Usage: "publish the version encrypted under a new content key (needs --delivery)"},
		&cli.StringFlag{Name: "delivery", Usage: "how devices get the content key: `MODE` fleet, device or keyserver"},
		&cli.StringFlag{Name: "fleet-recipient", Usage: "the fleet key's `RECIPIENT` (age1tag1...; --delivery fleet)"},
		&cli.StringFlag{Name: "fleet-recipient-file", Usage: "read the fleet key's recipient from `FILE` (--delivery fleet)"},
		contentPassFlag,
	}
}

// addTargetEncrypt reads the encryption flags into opts. The content key
// store is opened (and its passphrase asked for) only when a key is
// needed: for --encrypt, or an encrypted --delta-from base.
func addTargetEncrypt(c *cli.Context, opts *repo.AddOptions) error {
	fleet, fleetFile := c.String("fleet-recipient"), c.String("fleet-recipient-file")
	switch {
	case !c.Bool("encrypt") && (c.IsSet("delivery") || fleet != "" || fleetFile != ""):
		return cliutil.Usagef("add-target: --delivery and --fleet-recipient need --encrypt")
	case !c.Bool("encrypt"):
		opts.ContentKeys = contentKeyStore(c, false)
		return nil
	case fleet != "" && fleetFile != "":
		return cliutil.Usagef("add-target: give --fleet-recipient or --fleet-recipient-file, not both")
	}
	enc := &repo.EncryptOptions{Delivery: c.String("delivery")}
	var err error
	switch {
	case fleet != "":
		if enc.FleetRecipient, err = modelcrypt.ParseRecipient(fleet); err != nil {
			return cliutil.Usagef("add-target: --fleet-recipient: %v", err)
		}
	case fleetFile != "":
		if enc.FleetRecipient, err = modelcrypt.ReadRecipientFile(fleetFile); err != nil {
			return fmt.Errorf("add-target: --fleet-recipient-file: %w", err)
		}
	}
	if err := enc.Check(); err != nil {
		return cliutil.Usagef("add-target: %v", err)
	}
	opts.Encrypt, opts.ContentKeys = enc, contentKeyStore(c, true)
	return nil
}
