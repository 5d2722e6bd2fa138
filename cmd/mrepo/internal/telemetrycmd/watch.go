package telemetrycmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/telemetry/autohalt"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/repoctl"
	"github.com/urfave/cli/v2"
)

// WatchCommand is mrepo rollout watch.
func WatchCommand(r Repo) *cli.Command {
	const name = "rollout watch"
	return cliutil.Subcommand("mrepo", "rollout", []string{"repo", "max-rollback-rate"}, []string{"MODEL@VERSION"}, &cli.Command{
		Name:      "watch",
		Usage:     "halt a version's rollout when its fleet's rollback or failure rate is too high",
		UsageText: "mrepo rollout watch --max-rollback-rate R --min-reports N [--max-failure-rate F] (--db URL | --collector URL) --repo DIR (--keys DIR | --stage) [--interval D] [--once] [--json] MODEL@VERSION",
		Description: `The closed loop of a staged rollout: reads the version's fleet report (from
the telemetry database --db, or a collector's /v1/report at --collector),
and halts the rollout (as mrepo rollout halt, with the decision as the
signed halt reason) when its weighted rollback rate (rolled back /
activated) is above --max-rollback-rate with at least --min-reports
activated reports received, or, with --max-failure-rate, its weighted
failure rate (failed / offered) is above it with at least --min-reports
offered reports received. A rate exactly at its maximum does not halt.
Rates are percents (5%) or fractions (0.05).

It only ever halts: it never widens or resumes a rollout; a version that is
halted already, or is not in a staged rollout (a full release), is
reported and left alone. Devices that do not have the version stop taking
it once they see the halt; devices that run it keep it (mrepo revoke takes
it away).

The halt is signed with the keys of --keys, or, with --stage, staged as the
next targets version for its key holders (mrepo sign, merge-signatures,
publish-staged): only for versions signed by top-level targets.

Checks once with --once (for cron), else now and every --interval (default
5m) until the version is halted (or cannot be). One line per check on
stdout (one JSON object with --json). An error reading the reports never
halts: it is logged and retried at the next check. Exit 0 when no halt is
needed or the halt is done (the line says which), 1 when the check failed
(--once). See docs/telemetry.md, "Automatic halt: runbook".`,
		Flags: []cli.Flag{r.RepoFlag, r.KeysFlag, r.PassFlag,
			&cli.StringFlag{Name: "max-rollback-rate", Usage: "halt above this weighted rollback `RATE` (5% or 0.05; required)"},
			&cli.Int64Flag{Name: "min-reports", Usage: "decide only on at least `N` reports received (required)"},
			&cli.StringFlag{Name: "max-failure-rate", Usage: "also halt above this weighted failure `RATE`"},
			&cli.StringFlag{Name: "db", Usage: "telemetry database `URL` (sqlite:///path.db, postgres://...)"},
			&cli.StringFlag{Name: "collector", Usage: "collector base `URL` (its /v1/report)"},
			&cli.BoolFlag{Name: "stage", Usage: "stage the halt for the targets key holders instead of signing it"},
			&cli.StringFlag{Name: "interval", Value: "5m", Usage: "time between checks (`DURATION`)"},
			&cli.BoolFlag{Name: "once", Usage: "check once and exit (for cron)"},
			jsonFlag},
		Action: func(c *cli.Context) error {
			w, closeSrc, err := watcher(c, r, name)
			if err != nil {
				return err
			}
			defer closeSrc()
			var ck autohalt.Check
			if c.Bool("once") {
				ck = w.Once(c.Context)
			} else if ck, err = w.Run(c.Context); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if ck.Outcome == autohalt.Failed {
				return fmt.Errorf("%s: %s", name, ck.Detail)
			}
			return nil
		},
	})
}

// watcher sets up the watch from the command line.
func watcher(c *cli.Context, r Repo, name string) (*autohalt.Watcher, func(), error) {
	model, version, err := rollout.ParseModelVersion(c.Args().First())
	if err != nil {
		return nil, nil, cliutil.Usagef("%s: %v", name, err)
	}
	if !c.IsSet("min-reports") {
		return nil, nil, cliutil.Usagef("%s: --min-reports is required (see mrepo %s --help)", name, name)
	}
	th := autohalt.Thresholds{MinReports: c.Int64("min-reports")}
	if th.MaxRollbackRate, err = autohalt.ParseRate(c.String("max-rollback-rate")); err != nil {
		return nil, nil, cliutil.Usagef("%s: --max-rollback-rate: %v", name, err)
	}
	if th.CheckFailures = c.IsSet("max-failure-rate"); th.CheckFailures {
		if th.MaxFailureRate, err = autohalt.ParseRate(c.String("max-failure-rate")); err != nil {
			return nil, nil, cliutil.Usagef("%s: --max-failure-rate: %v", name, err)
		}
	}
	if err := th.Check(); err != nil {
		return nil, nil, cliutil.Usagef("%s: %v", name, err)
	}
	interval, err := duration.Parse(c.String("interval"))
	if err != nil || interval <= 0 {
		return nil, nil, cliutil.Usagef("%s: --interval %q: want a positive duration such as 30s, 5m or 1h", name, c.String("interval"))
	}
	if c.Bool("stage") == (c.String("keys") != "") {
		return nil, nil, cliutil.Usagef("%s: give exactly one of --keys DIR (sign the halt) and --stage (stage it for signers)", name)
	}
	src, closeSrc, err := watchSource(c, name)
	if err != nil {
		return nil, nil, err
	}
	var kr keys.Keyring
	if !c.Bool("stage") {
		kr = r.Keys(c)
	}
	h := &repoctl.Halter{Keys: kr, Stage: c.Bool("stage"), Write: func(_ context.Context, fn func(*repo.Repository) error) error {
		_, err := r.Write(c, kr, fn)
		return err
	}}
	out, asJSON := c.App.Writer, c.Bool("json")
	return &autohalt.Watcher{ModelID: model, Version: version, Thresholds: th, Source: src, Halter: h, Interval: interval,
		Log: func(ck autohalt.Check) { logCheck(out, ck, asJSON) }}, closeSrc, nil
}

// watchSource opens --db or --collector.
func watchSource(c *cli.Context, name string) (fleetreport.Source, func(), error) {
	db, coll := c.String("db"), c.String("collector")
	if (db == "") == (coll == "") {
		return nil, nil, cliutil.Usagef("%s: give exactly one of --db URL and --collector URL", name)
	}
	s, closer, err := openSource(c.Context, db, coll)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, func() { closer.Close() }, nil
}

// logCheck prints one check: a line, or a JSON object on one line.
func logCheck(w io.Writer, ck autohalt.Check, asJSON bool) {
	if asJSON {
		json.NewEncoder(w).Encode(ck)
		return
	}
	var parts []string
	if ck.Decision != nil {
		parts = append(parts, ck.Decision.Reason)
	}
	if ck.Detail != "" {
		parts = append(parts, ck.Detail)
	}
	fmt.Fprintf(w, "%s %s@%s %s: %s\n", ck.Time.Format(time.RFC3339), ck.ModelID, ck.Version, strings.ToUpper(string(ck.Outcome)), strings.Join(parts, "; "))
}
