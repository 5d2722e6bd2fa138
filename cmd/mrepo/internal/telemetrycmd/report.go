package telemetrycmd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
	"github.com/urfave/cli/v2"
)

// collectorTimeout bounds one query to a collector (--collector).
const collectorTimeout = 30 * time.Second

// ReportCommand is mrepo rollout report. --db is read through OpenDB.
func ReportCommand() *cli.Command {
	cmd := &cli.Command{
		Name:      "report",
		Usage:     "show a model's update funnel, rates and failures from fleet telemetry",
		UsageText: "mrepo rollout report (--db URL | --collector URL) [--since TIME|DURATION] [--json] MODEL[@VERSION]",
		Description: `Reads the reports devices sent to a telemetry collector, from its database
(--db, as mrepo telemetry serve opens it) or from a running collector
(--collector, its /v1/report endpoint), and prints per version, oldest
first: the funnel (offered, downloaded, verified, activated, healthy,
rolled back, failed) as reports received and as estimated devices (each
report weighted by its sampling rate), the rollback, failure and crash
rates with 95% confidence intervals, the failures by error code, and the
bytes delta downloads saved. --since keeps the reports of the hours from
an RFC 3339 time, or from a duration ago (24h). --json prints the report
as JSON. See docs/telemetry.md, "Reports and the dashboard".`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Usage: "the collector's database `URL` (sqlite:///path.db, a path, or postgres://...)"},
			&cli.StringFlag{Name: "collector", Usage: "a running collector's base `URL` (http://host:port)"},
			&cli.StringFlag{Name: "since", Usage: "only reports from `TIME` (RFC 3339) or DURATION ago (e.g. 24h)"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		},
		Action: runReport,
	}
	return cliutil.Command("mrepo", nil, cmd)
}

func runReport(c *cli.Context) error {
	const name = "rollout report"
	usage := func(format string, a ...any) error {
		return cliutil.Usagef("%s: %s (see mrepo %s --help)", name, fmt.Sprintf(format, a...), name)
	}
	if c.Args().Len() != 1 {
		return usage("expected exactly one MODEL or MODEL@VERSION argument")
	}
	q, err := parseTarget(c.Args().First())
	if err != nil {
		return usage("%v", err)
	}
	if q.Since, err = fleetreport.ParseSince(c.String("since"), time.Now()); err != nil {
		return usage("--since: %v", err)
	}
	db, collector := c.String("db"), c.String("collector")
	if (db == "") == (collector == "") {
		return usage("give exactly one of --db and --collector")
	}
	src, closer, err := openSource(c.Context, db, collector)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer closer.Close()
	rep, err := src.Report(c.Context, q)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if c.Bool("json") {
		return cliutil.WriteJSON(c.App.Writer, rep)
	}
	return WriteReport(c.App.Writer, rep)
}

// parseTarget reads MODEL or MODEL@VERSION.
func parseTarget(arg string) (store.Query, error) {
	if strings.Contains(arg, "@") {
		model, version, err := rollout.ParseModelVersion(arg)
		return store.Query{ModelID: model, Version: version}, err
	}
	if err := targets.CheckModelID(arg); err != nil {
		return store.Query{}, fmt.Errorf("%q: %v", arg, err)
	}
	return store.Query{ModelID: arg}, nil
}

// openSource is the report source of --db or --collector, and what
// releases it.
func openSource(ctx context.Context, db, collector string) (fleetreport.Source, io.Closer, error) {
	if collector != "" {
		if u, err := url.Parse(collector); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, nil, fmt.Errorf("--collector %q: want an http:// or https:// URL", collector)
		}
		return fleetreport.HTTPSource(collector, &http.Client{Timeout: collectorTimeout}), io.NopCloser(nil), nil
	}
	if OpenDB == nil {
		return nil, nil, fmt.Errorf("--db: this mrepo has no telemetry database driver; use --collector")
	}
	src, closer, err := OpenDB(ctx, db)
	if err != nil {
		return nil, nil, fmt.Errorf("--db: %w", err)
	}
	return src, closer, nil
}

// WriteReport prints r for people: per version, the funnel, the other
// kinds that were reported, the rates with their intervals, the failures
// by code and the bytes.
func WriteReport(w io.Writer, r *fleetreport.Report) error {
	ew := &errWriter{w: w}
	since := "all reports"
	if r.Since != "" {
		since = "reports from " + r.Since
	}
	ew.printf("%s (%s)\n", r.ModelID, since)
	if len(r.Versions) == 0 {
		ew.printf("no reports\n")
	}
	for _, v := range r.Versions {
		ew.printf("\nversion %s: %d reports\n", v.Version, v.Reports)
		ew.printf("  %-13s %8s %18s\n", "stage", "reports", "estimated devices")
		for _, s := range v.Stages {
			ew.printf("  %-13s %8d %18s\n", s.Kind, s.Reports, fleetreport.FormatCount(s.Estimate))
		}
		for _, s := range v.Other {
			if s.Reports > 0 {
				ew.printf("  %-13s %8d %18s\n", s.Kind, s.Reports, fleetreport.FormatCount(s.Estimate))
			}
		}
		tw := tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
		for _, rate := range []struct {
			name string
			r    fleetreport.Rate
		}{{"rollback rate", v.RollbackRate}, {"failure rate", v.FailureRate}, {"crash rate", v.CrashRate}} {
			fmt.Fprintf(tw, "  %s\t%s\t%s of %s estimated, %d reports behind the denominator\n", rate.name,
				fleetreport.FormatRate(rate.r), fleetreport.FormatCount(rate.r.Numerator), fleetreport.FormatCount(rate.r.Denominator), rate.r.Reports)
		}
		_ = tw.Flush()
		if len(v.Failures) > 0 {
			ew.printf("  failures:\n")
			tw = tabwriter.NewWriter(ew, 2, 8, 2, ' ', 0)
			for _, f := range v.Failures {
				code := f.Code
				if code == "" {
					code = "(no code)"
				}
				fmt.Fprintf(tw, "    %s\t%s\t%d reports\t%s estimated\n", f.Kind, code, f.Reports, fleetreport.FormatCount(f.Estimate))
			}
			_ = tw.Flush()
		}
		if v.FullBytes > 0 || v.BytesReceived > 0 {
			ew.printf("  downloads: %s received, %s as full downloads, %s saved\n", fleetreport.FormatBytes(v.BytesReceived),
				fleetreport.FormatBytes(v.FullBytes), fleetreport.FormatBytes(v.BytesSaved))
		}
	}
	return ew.err
}

// errWriter keeps the first write error, so that printing goes on
// unchecked and the error is returned once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, a ...any) { fmt.Fprintf(e, format, a...) }
