package telemetrycmd

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/server"
	"github.com/edgetuf/edgetuf/telemetry/collector"
	"github.com/edgetuf/edgetuf/telemetry/dashboard"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/telemetrydb"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

// Group builds the "mrepo telemetry" command group from its subcommands
// (ServeCommand, and the others as they come).
func Group(subs ...*cli.Command) *cli.Command {
	return cliutil.Group("mrepo", &cli.Command{
		Name:  "telemetry",
		Usage: "run the fleet telemetry collector and configure what devices report",
		Description: `Devices send sampled, batched update reports to a collector; the collector
stores them (SQLite or PostgreSQL) and serves the rollout dashboard.
See docs/telemetry.md.`,
		Subcommands: subs,
	})
}

// ServeCommand is "mrepo telemetry serve".
func ServeCommand() *cli.Command {
	return cliutil.Subcommand("mrepo", "telemetry", []string{"db"}, nil, &cli.Command{
		Name:      "serve",
		Usage:     "run the telemetry collector: devices upload reports, operators read the dashboard",
		UsageText: "mrepo telemetry serve --db URL [--addr HOST:PORT] [--retention D] [--rate-limit N/s|off] [--addr-file FILE] [--tls-cert FILE --tls-key FILE] [--json]",
		Description: `Serves POST /v1/reports (device uploads), GET /v1/stats (counters),
GET /healthz, and the dashboard (/dashboard, /v1/report), storing reports
in the database --db names: a file path or sqlite:///ABSOLUTE/PATH for
SQLite (created if missing, mode 0600, with its directories; WAL, every
acknowledged batch is on disk), or postgres://... for PostgreSQL.

An upload is answered 200 only once it is committed. Bodies over 256 KiB
are refused (413), malformed batches (400), other content types (415);
each client address may upload --rate-limit batches per second (429
beyond; the address is never stored). More than 256 uploads at once, or
a store failure, is 503 (the device retries). At most 4096 connections
are open at once; more wait to be accepted. Reports whose hour is more
than 1h ahead or older than --retention are refused (400); raw reports
received more than --retention + 1h ago are deleted every hour, their
aggregates kept.

Listens on 127.0.0.1 unless --addr says otherwise; port 0 picks a free
port. Prints the address (with --json, one JSON object). Stops on SIGINT
or SIGTERM after the uploads in flight are committed.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Usage: "the report database `URL` (file path, sqlite:///PATH or postgres://...)"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8090", Usage: "listen `ADDRESS`"},
			&cli.StringFlag{Name: "addr-file", Usage: "write the listening address to `FILE`"},
			&cli.StringFlag{Name: "retention", Value: "30d", Usage: "keep raw reports this `DURATION` (at least 1h, e.g. 30d, 72h); older report hours are refused"},
			&cli.StringFlag{Name: "rate-limit", Value: "20/s", Usage: "uploads per second allowed from one client address, as `N/s` (burst 2N), or off"},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this certificate chain `FILE` (PEM; needs --tls-key)"},
			&cli.StringFlag{Name: "tls-key", Usage: "private key `FILE` (PEM) of --tls-cert"},
			&cli.BoolFlag{Name: "json", Usage: "print the address and the final counters as JSON"},
		},
		Action: serve,
	})
}

// parseRate reads --rate-limit: "N/s" (N > 0, may be fractional) or
// "off".
func parseRate(s string) (float64, error) {
	if s == "off" {
		return collector.NoRateLimit, nil
	}
	n, ok := strings.CutSuffix(s, "/s")
	if !ok {
		return 0, fmt.Errorf("--rate-limit %q: want N/s (as 20/s) or off", s)
	}
	r, err := strconv.ParseFloat(n, 64)
	if err != nil || !(r > 0) || r > 1e6 {
		return 0, fmt.Errorf("--rate-limit %q: want N/s with N above 0 (as 20/s) or off", s)
	}
	return r, nil
}

func serve(c *cli.Context) error {
	retention, err := duration.Parse(c.String("retention"))
	if err != nil || retention < time.Hour {
		return cliutil.Usagef("telemetry serve: --retention %q: want a duration of at least 1h, as 30d (see mrepo telemetry serve --help)", c.String("retention"))
	}
	rate, err := parseRate(c.String("rate-limit"))
	if err != nil {
		return cliutil.Usagef("telemetry serve: %v (see mrepo telemetry serve --help)", err)
	}
	certFile, keyFile := c.String("tls-cert"), c.String("tls-key")
	if (certFile == "") != (keyFile == "") {
		return cliutil.Usagef("telemetry serve: --tls-cert and --tls-key go together (see mrepo telemetry serve --help)")
	}
	ctx, received, stop := cliutil.SignalContext(context.Background())
	defer stop()
	st, err := telemetrydb.Open(ctx, c.String("db"))
	if err != nil {
		return fmt.Errorf("telemetry serve: %w", err)
	}
	defer st.Close()
	// The read side: the dashboard and /v1/report.
	opts := collector.Options{Store: st, Retention: retention, RateLimit: rate, Logger: cliutil.Logger(c),
		ReadHandler: dashboard.New(fleetreport.FromStore(st), st, dashboard.Options{})}
	col, err := collector.New(opts)
	if err != nil {
		return fmt.Errorf("telemetry serve: %w", err)
	}
	defer col.Close()
	ln, scheme, err := server.Listen(c.String("addr"), certFile, keyFile)
	if err != nil {
		return fmt.Errorf("telemetry serve: %w", err)
	}
	ln = collector.LimitListener(ln, collector.DefaultMaxConns)
	addr := ln.Addr().String()
	if f := c.String("addr-file"); f != "" {
		if err := atomicfs.WriteFile(afero.NewOsFs(), f, []byte(addr+"\n"), 0o644); err != nil {
			ln.Close()
			return fmt.Errorf("telemetry serve: %w", err)
		}
	}
	url := scheme + "://" + addr
	if c.Bool("json") {
		cliutil.WriteJSON(c.App.Writer, map[string]string{"addr": addr, "url": url, "ingest": url + "/v1/reports"})
	} else {
		fmt.Fprintf(c.App.Writer, "Collecting telemetry at %s/v1/reports (dashboard %s/dashboard); Ctrl-C stops\n", url, url)
	}
	if err := server.Serve(ctx, col.Server(), ln, nil, nil); err != nil {
		return fmt.Errorf("telemetry serve: %w", err)
	}
	col.Close() // commits what is queued before the store closes
	s := col.Stats()
	if c.Bool("json") {
		cliutil.WriteJSON(c.App.Writer, map[string]any{"stopped": received().String(), "stats": s})
	} else {
		fmt.Fprintf(c.App.Writer, "Stopped (%v): %d reports accepted, %d duplicates, %d uploads refused as invalid, %d as too large, %d rate limited, %d failed or busy (503)\n",
			received(), s.Accepted, s.Duplicates, s.RejectedInvalid+s.RejectedType, s.RejectedSize, s.RateLimited, s.StoreErrors+s.Unavailable)
	}
	return nil
}
