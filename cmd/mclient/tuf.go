package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/urfave/cli/v2"
)

// tufCommand is a plain TUF client following the TUF conformance suite's
// client-under-test CLI (theupdateframework/tuf-conformance, CLIENT-CLI.md).
// Global flags precede the subcommand; every failure exits 1.
func tufCommand() *cli.Command {
	conformanceFailure := func(c *cli.Context, err error, _ bool) error {
		return &cliutil.ExitError{Code: 1, Msg: "tuf: " + cliutil.OneLine(err)}
	}
	need := func(c *cli.Context, names ...string) error {
		for _, n := range names {
			if c.String(n) == "" {
				return &cliutil.ExitError{Code: 1, Msg: fmt.Sprintf("tuf %s: --%s is required", c.Command.Name, n)}
			}
		}
		return nil
	}
	sub := func(cmd *cli.Command) *cli.Command {
		cmd.OnUsageError = conformanceFailure
		return cmd
	}
	fail := func(verb string, err error) error {
		return &cliutil.ExitError{Code: 1, Msg: fmt.Sprintf("tuf %s: %s", verb, cliutil.OneLine(err))}
	}
	return &cli.Command{
		Name:      "tuf",
		Usage:     "plain TUF client (TUF conformance suite protocol)",
		UsageText: "mclient tuf --metadata-dir D [--metadata-url U] [--target-name P ...] [--target-dir TD] [--target-base-url TU] init|refresh|download",
		Description: `The client-under-test CLI of the TUF conformance suite, built on the same
TUF session and streaming downloader as "mclient update":

  mclient tuf --metadata-dir D init TRUSTED_ROOT
      copy the root to D/root.json (no network, no checks)
  mclient tuf --metadata-url U --metadata-dir D refresh
      refresh top-level metadata, stored as D/<role>.json
  mclient tuf --metadata-url U --metadata-dir D --target-name P [--target-name P2 ...] \
      --target-dir TD --target-base-url TU download
      refresh, then download each target in order (stop at the first failure);
      a target already in TD with the signed hashes is not downloaded again

Exit 0 on success, 1 on any failure; a download stopped by SIGINT or
SIGTERM exits 130 or 143 (INTERRUPTED). When FAKETIME is set (libfaketime,
as the suite's "faketime -f +Nd" does), it is the reference time for
expiry of these commands; no other mclient command reads it.`,
		OnUsageError: conformanceFailure,
		Action: func(c *cli.Context) error {
			msg := "tuf: expected a command: init, refresh or download (see mclient tuf --help)"
			if c.Args().Present() {
				return &cliutil.ExitError{Code: 1, Msg: fmt.Sprintf("tuf: unknown command %q: init, refresh or download", c.Args().First())}
			}
			cliutil.GroupHelp(c, "%s", msg)
			return &cliutil.ExitError{Code: 1, Msg: msg}
		},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "metadata-dir", Usage: "trusted metadata `DIR`"},
			&cli.StringFlag{Name: "metadata-url", Usage: "repository metadata `URL`"},
			&cli.StringSliceFlag{Name: "target-name", Usage: "target `PATH` to download (repeatable)"},
			&cli.StringFlag{Name: "target-dir", Usage: "`DIR` for downloaded targets"},
			&cli.StringFlag{Name: "target-base-url", Usage: "repository targets `URL`"},
		},
		Subcommands: []*cli.Command{
			sub(&cli.Command{Name: "init", Usage: "trust a root (no network)", ArgsUsage: "TRUSTED_ROOT",
				Action: func(c *cli.Context) error {
					if err := need(c, "metadata-dir"); err != nil {
						return err
					}
					if c.Args().Len() != 1 {
						return fail("init", fmt.Errorf("expected TRUSTED_ROOT"))
					}
					if err := client.TUFInit(c.String("metadata-dir"), c.Args().First()); err != nil {
						return fail("init", err)
					}
					return nil
				}}),
			sub(&cli.Command{Name: "refresh", Usage: "refresh top-level metadata",
				Action: func(c *cli.Context) error {
					if err := need(c, "metadata-dir", "metadata-url"); err != nil {
						return err
					}
					t, err := newTUF(c)
					if err == nil {
						err = t.Refresh()
					}
					if err != nil {
						return fail("refresh", err)
					}
					return nil
				}}),
			sub(&cli.Command{Name: "download", Usage: "refresh, then download targets",
				Action: func(c *cli.Context) error {
					if err := need(c, "metadata-dir", "metadata-url", "target-dir", "target-base-url"); err != nil {
						return err
					}
					names := c.StringSlice("target-name")
					if len(names) == 0 {
						return fail("download", fmt.Errorf("--target-name is required"))
					}
					// SIGINT and SIGTERM stop a download (INTERRUPTED, exit
					// 130 or 143: a stop is no conformance failure).
					ctx, received, stop := cliutil.SignalContext(context.Background())
					defer stop()
					t, err := newTUF(c)
					if err == nil {
						err = t.Download(ctx, c.String("target-base-url"), c.String("target-dir"), names)
					}
					if sig := received(); err != nil && sig != nil && client.CodeOf(err) == client.Interrupted {
						return &cliutil.ExitError{Code: cliutil.SignalStatus(sig), Msg: "tuf download: " + cliutil.OneLine(err), Err: err}
					}
					if err != nil {
						return fail("download", err)
					}
					return nil
				}}),
		},
	}
}

func newTUF(c *cli.Context) (*client.TUFClient, error) {
	now, _, err := fakeNow()
	if err != nil {
		return nil, err
	}
	return client.NewTUFClient(c.String("metadata-dir"), c.String("metadata-url"), now, client.Options{Retries: 2}), nil
}

// fakeNow honours libfaketime's FAKETIME for `mclient tuf` only (the
// conformance suite runs its client under faketime; Go programs do not
// call the libc clock, so the variable is read here): "+15d", "-2h",
// "+30" (seconds), "@2024-01-02 03:04:05" or "2024-01-02 03:04:05".
// Anything else is asked of `date +%s`, which runs under the preloaded
// libfaketime. The device commands never call it (openClient).
func fakeNow() (time.Time, bool, error) {
	spec, ok := os.LookupEnv("FAKETIME")
	if !ok || spec == "" {
		return time.Time{}, false, nil
	}
	if t, ok := parseFakeTime(spec, time.Now()); ok {
		return t, true, nil
	}
	out, err := exec.Command("date", "+%s").Output()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("FAKETIME=%q: cannot read the faked clock: %v", spec, err)
	}
	secs, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("FAKETIME=%q: date printed %q", spec, out)
	}
	return time.Unix(secs, 0), true, nil
}

func parseFakeTime(spec string, now time.Time) (time.Time, bool) {
	s := strings.TrimSpace(spec)
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		sign := time.Duration(1)
		if s[0] == '-' {
			sign = -1
		}
		num, unit := s[1:], time.Second
		if n := len(num); n > 0 {
			switch num[n-1] {
			case 'd':
				unit, num = 24*time.Hour, num[:n-1]
			case 'h':
				unit, num = time.Hour, num[:n-1]
			case 'm':
				unit, num = time.Minute, num[:n-1]
			case 's':
				num = num[:n-1]
			}
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return time.Time{}, false
		}
		return now.Add(sign * time.Duration(f*float64(unit))), true
	}
	s = strings.TrimPrefix(s, "@")
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", s, time.Local); err == nil {
		return t, true
	}
	return time.Time{}, false
}
