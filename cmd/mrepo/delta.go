package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/internal/patchstat"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

func deltaCommand() *cli.Command {
	return &cli.Command{
		Name:      "delta",
		Usage:     "create or apply a binary patch between two versions of a file",
		UsageText: "mrepo delta create [--json] OLD NEW PATCH\nmrepo delta apply [--json] [--max-duration D] OLD PATCH OUT",
		Description: `The patch algorithm that add-target --delta-from uses, on plain files: to
measure what a patch would save on a pair of models, to benchmark, or to
rebuild a file by hand. Neither command needs a repository or keys.

Patches name the length and SHA-256 of the file they apply to and of the
file they rebuild; apply checks both and writes nothing unless the result
is exactly the file the patch was made for.`,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return cliutil.Usagef("delta: %s (see mrepo delta --help)", cliutil.OneLine(err))
		},
		Subcommands: []*cli.Command{deltaCreateCommand(), deltaApplyCommand()},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return cliutil.Usagef("delta: unknown command %q: create or apply (see mrepo delta --help)", c.Args().First())
			}
			return cliutil.Usagef("delta: expected a command: create or apply (see mrepo delta --help)")
		},
	}
}

// deltaSubcommand sets up a subcommand of `mrepo delta`: flag errors are
// one line and exit 64, and exactly n positional arguments are required.
func deltaSubcommand(cmd *cli.Command, args ...string) *cli.Command {
	name := cmd.Name
	cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return cliutil.Usagef("delta %s: %s (see mrepo delta %s --help)", name, cliutil.OneLine(err), name)
	}
	action := cmd.Action
	cmd.Action = func(c *cli.Context) error {
		if c.Args().Len() != len(args) {
			for _, a := range c.Args().Slice() {
				if strings.HasPrefix(a, "-") && a != "-" {
					return cliutil.Usagef("delta %s: %s after the arguments: options go first (see mrepo delta %s --help)", name, a, name)
				}
			}
			return cliutil.Usagef("delta %s: expected %d arguments, %s, got %d (see mrepo delta %s --help)", name, len(args), strings.Join(args, " "), c.Args().Len(), name)
		}
		for i, a := range c.Args().Slice() {
			if a == "" {
				return cliutil.Usagef("delta %s: %s is empty", name, args[i])
			}
		}
		return action(c)
	}
	return cmd
}

func deltaCreateCommand() *cli.Command {
	return deltaSubcommand(&cli.Command{
		Name:      "create",
		Usage:     "write a patch that rebuilds NEW from OLD",
		UsageText: "mrepo delta create [--json] OLD NEW PATCH",
		Description: `Computes a patch that rebuilds the file NEW from the file OLD and writes it
to PATCH, atomically (a temporary file next to PATCH, fsynced, then renamed):
PATCH is either the complete patch or left as it was. Neither file is read
into memory whole. Prints the sizes, the patch's share of NEW and the time
taken; --json prints them with the patch's statistics.

add-target --delta-from publishes a patch only when it saves at least 30% of
the file's bytes (--delta-min-saving); the percentage printed here tells
whether it would.`,
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			a := c.Args()
			res, err := deltaCreate(afero.NewOsFs(), a.Get(0), a.Get(1), a.Get(2), deltaCreateOptions{})
			if err != nil {
				return fmt.Errorf("delta create: %w", err)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			fmt.Fprintf(c.App.Writer, "Wrote %s: %s, %.1f%% of NEW (%s; OLD %s) in %s\n", res.Patch, cliutil.HumanBytes(res.PatchLength),
				res.Percent, cliutil.HumanBytes(res.NewLength), cliutil.HumanBytes(res.OldLength), seconds(res.Seconds))
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
			var opts deltaApplyOptions
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
			res, err := deltaApply(afero.NewOsFs(), a.Get(0), a.Get(1), a.Get(2), opts)
			if err != nil {
				return fmt.Errorf("delta apply: %w", err)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			fmt.Fprintf(c.App.Writer, "Wrote %s: %s, SHA-256 %s (as the patch promises; patch %s, %.1f%% of it) in %s\n", res.Out, cliutil.HumanBytes(res.OutLength),
				res.OutSHA256, cliutil.HumanBytes(res.PatchLength), res.Percent, seconds(res.Seconds))
			return nil
		},
	}, "OLD", "PATCH", "OUT")
}

func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

// deltaCreateOptions tune deltaCreate.
type deltaCreateOptions struct {
	// ChunkSize is passed to delta.Options (0: the package default).
	ChunkSize int64
}

// deltaCreateResult describes a patch deltaCreate wrote.
type deltaCreateResult struct {
	Old         string `json:"old"`
	New         string `json:"new"`
	Patch       string `json:"patch"`
	OldLength   int64  `json:"old_length"`
	NewLength   int64  `json:"new_length"`
	PatchLength int64  `json:"patch_length"`
	// Percent is the patch length as a share of the new file's, in
	// percent, rounded to one decimal.
	Percent float64 `json:"percent"`
	// PatchSHA256 is the SHA-256 of the patch file.
	PatchSHA256 string       `json:"patch_sha256"`
	Seconds     float64      `json:"seconds"`
	Stats       *delta.Stats `json:"stats"`
}

// deltaApplyOptions tune deltaApply.
type deltaApplyOptions struct {
	// MaxPatchRatio is delta.Limits.MaxPatchRatio (0: the package default,
	// a patch larger than the file it rebuilds is refused).
	MaxPatchRatio float64
	// MaxDuration bounds the time Apply may take (0: no limit).
	MaxDuration time.Duration
	// MaxOutput refuses a patch that claims a longer output (0: no limit).
	MaxOutput int64
}

// deltaApplyResult describes a file deltaApply rebuilt.
type deltaApplyResult struct {
	Old         string  `json:"old"`
	Patch       string  `json:"patch"`
	Out         string  `json:"out"`
	OldLength   int64   `json:"old_length"`
	PatchLength int64   `json:"patch_length"`
	OutLength   int64   `json:"out_length"`
	OutSHA256   string  `json:"out_sha256"`
	Percent     float64 `json:"percent"`
	Seconds     float64 `json:"seconds"`
}

// openRegular opens a regular file for reading and returns its size.
func openRegular(fs afero.Fs, name, what string) (afero.File, int64, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %s is not a regular file", what, name)
	}
	return f, fi.Size(), nil
}

// samePath reports whether two names refer to the same file (or the same
// name, when neither exists).
func samePath(fs afero.Fs, a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, err1 := fs.Stat(a)
	fb, err2 := fs.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// deltaCreate writes to patchPath a patch that rebuilds newPath from
// oldPath (package delta's format). The patch is written to a temporary
// file next to patchPath, fsynced and renamed: patchPath is either the
// complete patch or untouched. Neither file is read into memory whole.
func deltaCreate(fs afero.Fs, oldPath, newPath, patchPath string, opts deltaCreateOptions) (*deltaCreateResult, error) {
	if samePath(fs, patchPath, oldPath) || samePath(fs, patchPath, newPath) {
		return nil, fmt.Errorf("PATCH %s must be another file than OLD and NEW", patchPath)
	}
	start := time.Now()
	of, oldLen, err := openRegular(fs, oldPath, "OLD")
	if err != nil {
		return nil, err
	}
	defer of.Close()
	nf, newLen, err := openRegular(fs, newPath, "NEW")
	if err != nil {
		return nil, err
	}
	defer nf.Close()
	tmp, err := atomicfs.Create(fs, filepath.Dir(patchPath), 0o644)
	if err != nil {
		return nil, fmt.Errorf("PATCH: %w", err)
	}
	defer tmp.Abort()
	h := sha256.New()
	cw := &patchstat.Writer{W: io.MultiWriter(tmp, h)}
	stats, err := delta.Diff(of, oldLen, nf, newLen, cw, delta.Options{ChunkSize: opts.ChunkSize})
	if err != nil {
		return nil, err
	}
	if err := tmp.Commit(patchPath); err != nil {
		return nil, fmt.Errorf("PATCH: %w", err)
	}
	return &deltaCreateResult{
		Old: oldPath, New: newPath, Patch: patchPath,
		OldLength: oldLen, NewLength: newLen, PatchLength: cw.N,
		Percent: patchstat.Percent(cw.N, newLen), PatchSHA256: hex.EncodeToString(h.Sum(nil)),
		Seconds: time.Since(start).Seconds(), Stats: stats,
	}, nil
}

// deltaApply rebuilds a file from oldPath and the patch at patchPath and
// writes it to outPath, atomically and only if everything checks: the
// base's length and SHA-256 are those the patch names, the patch is well
// formed and within the limits, and the output has the length and SHA-256
// the patch names. On any error outPath is left as it was.
func deltaApply(fs afero.Fs, oldPath, patchPath, outPath string, opts deltaApplyOptions) (*deltaApplyResult, error) {
	if samePath(fs, outPath, oldPath) || samePath(fs, outPath, patchPath) {
		return nil, fmt.Errorf("OUT %s must be another file than OLD and PATCH", outPath)
	}
	start := time.Now()
	of, oldLen, err := openRegular(fs, oldPath, "OLD")
	if err != nil {
		return nil, err
	}
	defer of.Close()
	pf, patchLen, err := openRegular(fs, patchPath, "PATCH")
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	// The header first: a wrong base or a malformed patch is reported
	// before an output file is even created.
	hdr, err := delta.ReadHeader(pf, patchLen)
	if err != nil {
		return nil, err
	}
	if hdr.BaseLength != oldLen {
		return nil, fmt.Errorf("%w: OLD is %d bytes, the patch was made from a file of %d bytes", delta.ErrBase, oldLen, hdr.BaseLength)
	}
	// Direct I/O where available: the output is written once, fsynced,
	// and not read back soon (package directio).
	tmp, err := atomicfs.CreateLarge(fs, filepath.Dir(outPath), 0o644)
	if err != nil {
		return nil, fmt.Errorf("OUT: %w", err)
	}
	defer tmp.Abort()
	cw := &patchstat.Writer{W: tmp}
	lim := delta.Limits{MaxOutput: opts.MaxOutput, MaxPatchRatio: opts.MaxPatchRatio, MaxDuration: opts.MaxDuration, VerifyBase: true}
	// Apply hashes exactly the bytes it hands to cw and fails unless they
	// have the length and SHA-256 the patch names.
	if _, err := delta.Apply(of, oldLen, pf, patchLen, cw, lim); err != nil {
		return nil, err
	}
	if cw.N != hdr.TargetLength {
		return nil, fmt.Errorf("%w: wrote %d bytes, the patch names %d", delta.ErrTarget, cw.N, hdr.TargetLength)
	}
	sum := hdr.TargetSHA256[:]
	if err := tmp.Commit(outPath); err != nil {
		return nil, fmt.Errorf("OUT: %w", err)
	}
	return &deltaApplyResult{
		Old: oldPath, Patch: patchPath, Out: outPath,
		OldLength: oldLen, PatchLength: patchLen, OutLength: cw.N, OutSHA256: hex.EncodeToString(sum),
		Percent: patchstat.Percent(patchLen, cw.N), Seconds: time.Since(start).Seconds(),
	}, nil
}
