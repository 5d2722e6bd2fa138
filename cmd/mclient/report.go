package main

import (
	"context"
	"fmt"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/urfave/cli/v2"
)

func reportCommand() *cli.Command {
	return command([]string{"state", "kind"}, &cli.Command{
		Name:      "report",
		Usage:     "report an app signal (crash, inference latency) about the active version of a model",
		UsageText: "mclient report --state DIR --kind crash|latency [--latency-ms N] [--json] MODEL",
		Description: `Records a crash of the app after the active version of MODEL was
activated (--kind crash), or an inference latency of that version
(--kind latency --latency-ms N, sent rounded to two significant digits),
as a report for the fleet collector configured with --telemetry-url
(docs/telemetry.md). The report goes into the device's bounded outbox,
sampled by the repository's signed sampling configuration, and this
command then uploads the outbox once, within 5 seconds: a collector that
is down or refuses it leaves the reports for the next upload (the next
mclient update or report), which is not an error. The report carries the
model, the active version, the device class, OS, app version and the
cohort bucket of the version's rollout; never the device ID.

Exit 0 once recorded; 1 without a collector configured or without an
active version of MODEL; 64 for a usage error.`,
		Flags: []cli.Flag{stateFlag,
			&cli.StringFlag{Name: "kind", Usage: "what to report: crash or latency (required)"},
			&cli.Int64Flag{Name: "latency-ms", Usage: "the inference latency in milliseconds (--kind latency)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return cliutil.Usagef("report: expected one MODEL argument, got %d (options go first; see mclient report --help)", c.Args().Len())
			}
			modelID := c.Args().First()
			if err := targets.CheckModelID(modelID); err != nil {
				return cliutil.Usagef("report: MODEL: %v", err)
			}
			sig := client.Signal{Kind: c.String("kind"), ModelID: modelID, LatencyMillis: c.Int64("latency-ms")}
			switch {
			case sig.Kind != telemetry.KindCrash && sig.Kind != telemetry.KindLatency:
				return cliutil.Usagef("report: --kind crash or --kind latency is required")
			case sig.Kind == telemetry.KindLatency && (!c.IsSet("latency-ms") || sig.LatencyMillis < 0):
				return cliutil.Usagef("report: --kind latency needs --latency-ms N (N >= 0)")
			case sig.Kind == telemetry.KindCrash && c.IsSet("latency-ms"):
				return cliutil.Usagef("report: --latency-ms goes with --kind latency only")
			}
			cl, err := openClient(c, client.Options{Logger: cliutil.Logger(c)})
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			st, err := cl.Status(modelID)
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			if err := cl.ReportSignal(sig); err != nil {
				return fmt.Errorf("report: %w", err)
			}
			out := reportResult{ModelID: modelID, Version: st.Version, Kind: sig.Kind, LatencyMillis: sig.LatencyMillis, Uploaded: true}
			if err := cl.FlushTelemetry(context.Background()); err != nil {
				out.Uploaded, out.UploadError = false, err.Error()
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, out)
			}
			fmt.Fprintf(c.App.Writer, "Recorded %s of %s %s", sig.Kind, modelID, st.Version)
			if out.Uploaded {
				fmt.Fprintln(c.App.Writer, "; uploaded")
			} else {
				fmt.Fprintf(c.App.Writer, "; kept for the next upload (%s)\n", out.UploadError)
			}
			return nil
		},
	})
}

// reportResult is what mclient report --json prints.
type reportResult struct {
	ModelID       string `json:"model_id"`
	Version       string `json:"version"`
	Kind          string `json:"kind"`
	LatencyMillis int64  `json:"latency_ms,omitempty"`
	// Uploaded says whether the outbox was sent; UploadError why not (the
	// reports wait for the next upload).
	Uploaded    bool   `json:"uploaded"`
	UploadError string `json:"upload_error,omitempty"`
}
