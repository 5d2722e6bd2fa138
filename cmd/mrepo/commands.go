package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

var (
	repoFlag = &cli.StringFlag{Name: "repo", Usage: "repository `DIR` (required)"}
	keysFlag = &cli.StringFlag{Name: "keys", Usage: "key `DIR` holding the encrypted private keys (required)"}
	passFlag = &cli.StringFlag{Name: "passphrase-file", Usage: "read key passphrases from the first line of `FILE` (default: $MREPO_PASSPHRASE, else a terminal prompt)"}
	jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}
)

const passphraseEnv = "MREPO_PASSPHRASE"

func keyDir(c *cli.Context) *keys.Dir {
	pp := &cliutil.Passphrases{File: c.String(passFlag.Name), EnvVar: passphraseEnv, Stderr: c.App.ErrWriter}
	return &keys.Dir{FS: afero.NewOsFs(), Path: c.String(keysFlag.Name), Passphrase: pp.Get, PIN: pinPrompt}
}

func openRepo(c *cli.Context) (*repo.Repository, error) {
	return repo.Open(afero.NewOsFs(), c.String(repoFlag.Name))
}

func durationFlag(name, def, usage string) *cli.StringFlag {
	return &cli.StringFlag{Name: name, Value: def, Usage: usage}
}

func parseDurationFlag(c *cli.Context, name string) (repo.Duration, error) {
	d, err := repo.ParseDuration(c.String(name))
	if err != nil {
		return 0, cliutil.Usagef("%s: --%s: %v", c.Command.Name, name, err)
	}
	return repo.Duration(d), nil
}

func command(required []string, cmd *cli.Command) *cli.Command {
	return cliutil.Command("mrepo", required, cmd)
}

func needNoArgs(c *cli.Context) error { return cliutil.NoArgs("mrepo", c) }

func initCommand() *cli.Command {
	return command([]string{"repo", "keys"}, &cli.Command{
		Name:      "init",
		Usage:     "run the key ceremony and create a new repository",
		UsageText: "mrepo init --repo DIR --keys DIR [--root-keys N] [--root-threshold K] [--key-type ed25519|ecdsa-p256]",
		Description: `Generates N root keys (K of which must sign every new root) and one key each
for the targets, snapshot and timestamp roles, writes them encrypted into the
keys directory (mode 0600), and writes version 1 of every role's metadata with
consistent snapshots. Prints the root key IDs and the SHA-256 of
metadata/1.root.json: pin that file (or digest) into device images.

The online keys (targets, snapshot, timestamp) share one passphrase; each
root key gets its own when prompted on a terminal (with --passphrase-file or
MREPO_PASSPHRASE every key gets the same one). After the ceremony, move each
root-N.key to its holder's offline storage; see docs/key-ceremony.md.

Refuses to overwrite an existing repository or existing key files.`,
		Flags: []cli.Flag{
			repoFlag, keysFlag, passFlag,
			&cli.IntFlag{Name: "root-keys", Value: 1, Usage: "number of root keys to generate"},
			&cli.IntFlag{Name: "root-threshold", Value: 1, Usage: "number of root keys that must sign a root"},
			&cli.StringFlag{Name: "key-type", Value: string(keys.Ed25519), Usage: "key algorithm: ed25519 or ecdsa-p256"},
			durationFlag("root-expires", repo.FormatDuration(time.Duration(repo.DefaultExpiry.Root)), "root metadata lifetime"),
			durationFlag("targets-expires", repo.FormatDuration(time.Duration(repo.DefaultExpiry.Targets)), "targets metadata lifetime"),
			durationFlag("snapshot-expires", repo.FormatDuration(time.Duration(repo.DefaultExpiry.Snapshot)), "snapshot metadata lifetime"),
			durationFlag("timestamp-expires", repo.FormatDuration(time.Duration(repo.DefaultExpiry.Timestamp)), "timestamp metadata lifetime (bounds how long a freeze attack can last)"),
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			kt, err := keys.ParseType(c.String("key-type"))
			if err != nil {
				return cliutil.Usagef("init: --key-type: %v", err)
			}
			var exp repo.Expiry
			for _, f := range []struct {
				name string
				dst  *repo.Duration
			}{{"root-expires", &exp.Root}, {"targets-expires", &exp.Targets}, {"snapshot-expires", &exp.Snapshot}, {"timestamp-expires", &exp.Timestamp}} {
				if *f.dst, err = parseDurationFlag(c, f.name); err != nil {
					return err
				}
			}
			// Zero would mean "default" to repo.Init; on the command line an
			// explicit 0 is a mistake. Bad options are usage errors (exit 64).
			opts := repo.InitOptions{RootKeys: c.Int("root-keys"), RootThreshold: c.Int("root-threshold"), KeyType: kt, Expiry: &exp}
			if err := repo.ValidateInitOptions(opts); err != nil {
				return cliutil.Usagef("init: %v", err)
			}
			res, err := repo.Init(afero.NewOsFs(), c.String("repo"), keyDir(c), opts)
			if err != nil {
				return fmt.Errorf("init: %w", err)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "Created repository %s (root threshold %d of %d, %s keys)\n", res.Repository, res.RootThreshold, len(res.RootKeyIDs), kt)
			fmt.Fprintf(w, "Keys in %s:\n", c.String("keys"))
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, k := range res.Keys {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", k.Name, k.Role, k.KeyID)
			}
			tw.Flush()
			fmt.Fprintf(w, "Root key IDs: %s\n", strings.Join(res.RootKeyIDs, " "))
			fmt.Fprintf(w, "Pin this root in device images: %s\n", res.RootFile)
			fmt.Fprintf(w, "SHA-256 of 1.root.json: %s\n", res.RootSHA256)
			fmt.Fprintf(w, "Next: move the root-*.key files to offline storage, one per holder.\n")
			return nil
		},
	})
}

func addTargetCommand() *cli.Command {
	return command([]string{"repo", "keys"}, &cli.Command{
		Name:      "add-target",
		Usage:     "publish a model bundle as signed TUF targets",
		UsageText: "mrepo add-target --repo DIR --keys DIR [--delta-from VERSION]... [--delta-min-saving FRACTION] BUNDLE_DIR",
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

Refused, with nothing changed: a version that is already published or lower
than the newest published version of the model, a malformed manifest, a
file path that escapes the bundle (.., absolute, symlink), or a
--delta-from VERSION that is not an older published version of the model.`,
		Flags: []cli.Flag{repoFlag, keysFlag, passFlag, jsonFlag, addTargetRoleFlag,
			&cli.StringSliceFlag{Name: "delta-from", Usage: "also publish patches from the published `VERSION` of the model (repeatable)"},
			&cli.Float64Flag{Name: "delta-min-saving", Value: repo.DefaultDeltaMinSaving, Usage: "publish a patch only if it saves at least this `FRACTION` of the file's bytes (0 < FRACTION < 1)"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				msg := "add-target: expected exactly one BUNDLE_DIR argument (see mrepo add-target --help)"
				for _, a := range c.Args().Tail() {
					if strings.HasPrefix(a, "-") {
						msg = fmt.Sprintf("add-target: %s after BUNDLE_DIR: options go before it (see mrepo add-target --help)", a)
						break
					}
				}
				return cliutil.Usagef("%s", msg)
			}
			opts := repo.AddOptions{Progress: cliutil.Progress(c.App.ErrWriter), DeltaFrom: c.StringSlice("delta-from"), DeltaMinSaving: c.Float64("delta-min-saving"), Role: c.String("role")}
			if s := opts.DeltaMinSaving; !(s > 0 && s < 1) {
				return cliutil.Usagef("add-target: --delta-min-saving %v: must be between 0 and 1 (exclusive), e.g. 0.3 for 30%%", s)
			}
			for _, v := range opts.DeltaFrom {
				if _, err := targets.ParseVersion(v); err != nil {
					return cliutil.Usagef("add-target: --delta-from: %v", err)
				}
			}
			r, err := openRepo(c)
			if err != nil {
				return fmt.Errorf("add-target: %w", err)
			}
			res, err := r.AddTarget(c.Args().First(), keyDir(c), opts)
			if err != nil {
				return fmt.Errorf("add-target: %w", err)
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(c.App.ErrWriter, "mrepo: warning: %s\n", w)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			var total int64
			for _, t := range res.Targets {
				total += t.Length
				fmt.Fprintf(c.App.Writer, "  %s  %12d  %s\n", t.SHA256[:16], t.Length, t.Path)
			}
			for _, d := range res.Deltas {
				fmt.Fprintln(c.App.Writer, deltaLine(d))
			}
			fmt.Fprintln(c.App.Writer, publishedSummary(res, total)) // delegate.go
			return nil
		},
	})
}

func resignCommand(name, usage, desc string, fn func(*repo.Repository, keys.Keyring) (*repo.Versions, error)) *cli.Command {
	return command([]string{"repo", "keys"}, &cli.Command{
		Name:        name,
		Usage:       usage,
		UsageText:   fmt.Sprintf("mrepo %s --repo DIR --keys DIR", name),
		Description: desc,
		Flags:       []cli.Flag{repoFlag, keysFlag, passFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			r, err := openRepo(c)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			v, err := fn(r, keyDir(c))
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, v)
			}
			switch name { // say exactly what was re-signed
			case "timestamp":
				fmt.Fprintf(c.App.Writer, "Signed timestamp v%d (snapshot v%d)\n", v.Timestamp, v.Snapshot)
			case "snapshot":
				fmt.Fprintf(c.App.Writer, "Signed snapshot v%d, timestamp v%d\n", v.Snapshot, v.Timestamp)
			default:
				fmt.Fprintf(c.App.Writer, "Signed targets v%d, snapshot v%d, timestamp v%d\n", v.Targets, v.Snapshot, v.Timestamp)
			}
			return nil
		},
	})
}

func timestampCommand() *cli.Command {
	return resignCommand("timestamp", "re-sign the timestamp with a fresh expiry (run from cron)",
		`Writes a new timestamp version with the configured timestamp lifetime. Run it
well within that lifetime (for a 1-day timestamp, every few hours) so devices
never see an expired timestamp. Needs only the timestamp key.`,
		(*repo.Repository).Timestamp)
}

func snapshotCommand() *cli.Command {
	return resignCommand("snapshot", "re-sign the snapshot (and timestamp) with fresh expiries",
		`Writes a new snapshot version with the configured snapshot lifetime, then a
new timestamp pointing at it. Needs the snapshot and timestamp keys.`,
		(*repo.Repository).Snapshot)
}

func targetsCommand() *cli.Command {
	return withRoleResign(resignCommand("targets", "re-sign the targets metadata (and snapshot, timestamp) with fresh expiries",
		`Writes a new targets metadata version with the same targets and the
configured targets lifetime, then a new snapshot and timestamp. Publishing
does this too; run it from cron if the repository may go longer than the
targets lifetime without a publication. Needs the targets, snapshot and
timestamp keys.`,
		(*repo.Repository).Targets))
}

func statusCommand() *cli.Command {
	return command([]string{"repo"}, &cli.Command{
		Name:      "status",
		Usage:     "show roles, expiries, signatures and published models",
		UsageText: "mrepo status --repo DIR [--json] [--warn-within DURATION]",
		Description: `For each role: version, expiry, key IDs, threshold and whether its valid
signatures meet the threshold. Then every published model with its versions,
and warnings for roles that are expired, expire within the warning window, or
lack signatures. The default window is a quarter of each role's configured
lifetime. Exit status is 0 even with warnings; use verify as a gate.`,
		Flags: []cli.Flag{repoFlag, jsonFlag,
			&cli.StringFlag{Name: "warn-within", Usage: "warn about roles expiring within `DURATION` (e.g. 72h, 30d)"}},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			var opts repo.StatusOptions
			if c.IsSet("warn-within") {
				d, err := parseDurationFlag(c, "warn-within")
				if err != nil {
					return err
				}
				opts.WarnWithin = time.Duration(d)
			}
			r, err := openRepo(c)
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			st, err := r.Status(opts)
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, st)
			}
			w := c.App.Writer
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "ROLE\tVERSION\tEXPIRES\tIN\tSIGNATURES\tKEYS\n")
			for _, rs := range st.Roles {
				if rs.Pending { // a delegated role without metadata yet
					fmt.Fprintln(tw, pendingRow(rs))
					continue
				}
				ok := "ok"
				if !rs.ThresholdMet {
					ok = "NOT MET"
				}
				ids := make([]string, len(rs.KeyIDs))
				for i, id := range rs.KeyIDs {
					ids[i] = keys.ShortID(id)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d/%d %s\t%s\n", rs.Role, rs.Version, rs.Expires.UTC().Format(targets.TimeFormat),
					repo.FormatRemaining(rs.Expires.Sub(st.Now)), rs.ValidSignatures, rs.Threshold, ok, strings.Join(ids, ","))
			}
			tw.Flush()
			printDelegations(w, st) // delegate.go
			fmt.Fprintln(w)
			if len(st.Models) == 0 {
				fmt.Fprintln(w, "No models published.")
			}
			for _, m := range st.Models {
				fmt.Fprintf(w, "model %s: latest %s (versions: %s)\n", m.ModelID, m.Latest, strings.Join(m.Versions, ", "))
				if len(m.Roles) > 0 {
					fmt.Fprintf(w, "  signed by %s\n", strings.Join(m.Roles, ", "))
				}
				for _, d := range m.Deltas {
					fmt.Fprintf(w, "  deltas %s from %s: %d patches, %s\n", d.Version, d.Base, d.Patches, cliutil.HumanBytes(d.Bytes))
				}
			}
			for _, l := range stagedLines(st.Staged) {
				fmt.Fprintln(w, l)
			}
			for _, warn := range st.Warnings {
				fmt.Fprintf(w, "WARNING: %s\n", warn)
			}
			return nil
		},
	})
}

func verifyCommand() *cli.Command {
	return command([]string{"repo", "root"}, &cli.Command{
		Name:      "verify",
		Usage:     "verify the published repository from a trusted root (CI release gate)",
		UsageText: "mrepo verify --repo DIR --root FILE [--valid-for DURATION] [--json]",
		Description: `Starting only from the trusted root FILE (the one pinned in devices), checks
the repository exactly as a client would: the chain of root versions, every
role's signatures and threshold, timestamp/snapshot/targets versions, lengths
and hashes, delegations, expiry, and the length and SHA-256 of every target
file; then that each model's manifest agrees with its signed metadata; then
runs go-tuf's client over it as a second opinion. Needs no private keys.

With --valid-for, also fails if any role expires within that window (for
example --valid-for 72h before a long weekend).

Exit 0 only when everything holds; otherwise every problem is listed, one
per line, as CODE: where: what.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "repo", Usage: "repository `DIR` (its metadata/ and targets/) (required)"},
			&cli.StringFlag{Name: "root", Usage: "trusted root metadata `FILE` (required)"},
			&cli.StringFlag{Name: "valid-for", Usage: "fail if anything expires within `DURATION`"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			var opts repo.VerifyOptions
			if c.IsSet("valid-for") {
				d, err := parseDurationFlag(c, "valid-for")
				if err != nil {
					return err
				}
				opts.ValidFor = time.Duration(d)
			}
			rootBytes, err := readBounded(c.String("root"), maxStagedFile)
			if err != nil {
				return fmt.Errorf("verify: trusted root: %w", err)
			}
			dir := c.String("repo")
			if fi, err := os.Stat(filepath.Join(dir, repo.MetadataDir)); err != nil || !fi.IsDir() {
				return fmt.Errorf("verify: %s has no %s directory", dir, repo.MetadataDir)
			}
			rep := repo.Verify(afero.NewOsFs(), dir, rootBytes, opts)
			if c.Bool("json") {
				if err := cliutil.WriteJSON(c.App.Writer, rep); err != nil {
					return err
				}
			} else {
				for _, p := range rep.Problems {
					fmt.Fprintln(c.App.Writer, p.String())
				}
				if rep.OK() {
					var parts []string
					for _, r := range rep.Roles {
						parts = append(parts, fmt.Sprintf("%s v%d", r.Role, r.Version))
					}
					fmt.Fprintf(c.App.Writer, "OK: %s; %d targets verified (%s)\n", strings.Join(parts, ", "), rep.Targets, cliutil.HumanBytes(rep.TargetBytes))
				}
			}
			if !rep.OK() {
				return &cliutil.ExitError{Code: 1, Msg: fmt.Sprintf("verify: %d problem(s) found, first: %s", len(rep.Problems), rep.Problems[0].String())}
			}
			return nil
		},
	})
}

func serveCommand() *cli.Command {
	return command([]string{"repo"}, &cli.Command{
		Name:      "serve",
		Usage:     "serve the repository over HTTP(S) as a static TUF repository",
		UsageText: "mrepo serve --repo DIR [--addr HOST:PORT] [--addr-file FILE] [--access-log] [--tls-cert FILE --tls-key FILE]",
		Description: `Serves /metadata/... and /targets/... from the repository with range requests
(resumable downloads), long cache lifetimes on versioned metadata and
hash-named targets, and no caching of timestamp.json. Nothing else is served.
Port 0 picks a free port; the address is printed and, with --addr-file,
written to a file once the server is listening. Stops on SIGINT or SIGTERM.
With --tls-cert FILE (PEM: the server certificate, then any intermediate
CA certificates) and --tls-key FILE (its PEM private key) it serves HTTPS
only; devices trust the issuing CA through mclient init --ca-file.

This is for development, tests and small deployments; in production, copy
metadata/ and targets/ to any static host or CDN with the same cache rules.`,
		Flags: []cli.Flag{
			repoFlag,
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "listen `ADDRESS`"},
			&cli.StringFlag{Name: "addr-file", Usage: "write the listening address to `FILE`"},
			&cli.BoolFlag{Name: "access-log", Usage: "log each request to stderr"},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this certificate chain `FILE` (PEM; needs --tls-key)"},
			&cli.StringFlag{Name: "tls-key", Usage: "private key `FILE` (PEM) of --tls-cert"},
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			dir := c.String("repo")
			if fi, err := os.Stat(filepath.Join(dir, repo.MetadataDir)); err != nil || !fi.IsDir() {
				return fmt.Errorf("serve: %s has no %s directory", dir, repo.MetadataDir)
			}
			certFile, keyFile := c.String("tls-cert"), c.String("tls-key")
			if (certFile == "") != (keyFile == "") {
				return cliutil.Usagef("serve: --tls-cert and --tls-key go together (see mrepo serve --help)")
			}
			var tlsCfg *tls.Config
			scheme := "http"
			if certFile != "" {
				var err error
				if tlsCfg, err = repo.ServerTLS(certFile, keyFile); err != nil {
					return fmt.Errorf("serve: %w", err)
				}
				scheme = "https"
			}
			ln, err := net.Listen("tcp", c.String("addr"))
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			if tlsCfg != nil {
				ln = tls.NewListener(ln, tlsCfg)
			}
			addr := ln.Addr().String()
			var h http.Handler = repo.Handler(afero.NewOsFs(), dir)
			if c.Bool("access-log") {
				h = accessLog(h, c.App.ErrWriter)
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			if f := c.String("addr-file"); f != "" {
				if err := atomicfs.WriteFile(afero.NewOsFs(), f, []byte(addr+"\n"), 0o644); err != nil {
					return fmt.Errorf("serve: %w", err)
				}
			}
			fmt.Fprintf(c.App.Writer, "Serving %s at %s://%s/ (metadata/ and targets/); Ctrl-C stops\n", dir, scheme, addr)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return fmt.Errorf("serve: %w", err)
			case <-ctx.Done():
			}
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve: %w", err)
			}
			return nil
		},
	})
}
