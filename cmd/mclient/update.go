package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/urfave/cli/v2"
)

func updateCommand() *cli.Command {
	return command([]string{"state", "model-id"}, &cli.Command{
		Name:      "update",
		Usage:     "run one full update cycle for a model",
		UsageText: "mclient update --state DIR --model-id ID [--app-version V] [--runtime NAME@VERSION] [--platform OS/ARCH] [--health-check CMD] [--keep N] [--no-delta] [--retries N] [--stall-timeout D] [--timeout D] [--rehash-every D] [--verify-active] [--device-state FILE] [--battery PERCENT] [--charging] [--network TYPE] [--metered] [--free-bytes N] [--auto-update=false] [--wifi-only] [--quiet-window HH:MM-HH:MM] [--force] [--json]",
		Description: `Refreshes the TUF metadata; picks the newest version whose signed
constraints this device meets (app version, runtime, platform, variant,
schema digests) and that policy allows (not below the anti-rollback floor,
not marked bad); downloads its files into staging (resuming partial
downloads, bounded by the signed lengths, hashed as they arrive); verifies
them and the manifest. A file for which the repository signs a patch from
a version installed here is rebuilt from it instead (the patch is
downloaded like any file, applied in staging, and the result checked
against the file's signed length and SHA-256); if that fails for any
reason the file is downloaded whole in the same run. --no-delta always
downloads whole files. Then it installs the version beside the active one and
switches to it atomically; runs the built-in checks and --health-check CMD
(the shell command line CMD with the new version's directory appended as
its last argument, and MCLIENT_MODEL_ID, MCLIENT_MODEL_VERSION and
MCLIENT_MODEL_DIR set, within --health-timeout; exit 0 means healthy), once
per golden test vector the version's manifest declares, comparing the output
it writes to $MCLIENT_VECTOR_OUTPUT (vectors and no --health-check fail). If the check
fails the previous version is restored, the new one is marked bad, and the
exit status is 1. Finally it raises the anti-rollback floor and keeps at
most --keep versions installed.

The device settings (--app-version to --os-version in the options below)
default to the values stored by mclient init or mclient config set; a
flag given here overrides the stored value for this run only.

Already up to date is success, with nothing downloaded; the active
version's files are checked for presence and size, and re-installed if
damaged. With --verify-active, or when the last full re-hash that found
the active version intact is older than --rehash-every D, every file of
it is re-hashed against the signed metadata instead; a damaged copy is
repaired (outcome repaired): the files that still verify are copied from
it, the others downloaded, and the version's directory replaced
atomically. Newer versions this device cannot take (incompatible, marked bad)
are listed, and are not an error while a version is active. A device
constraint left out is unknown, and a model that requires it is not
compatible.

Every transfer, metadata included, is bounded: a connection that delivers
nothing for --stall-timeout is abandoned and the transfer tried again, at
most --retries more times; each metadata file must arrive within 5
minutes and within the client's size limits (root 512000, timestamp
16384, snapshot 2000000, targets and each delegated role 5000000 bytes);
the whole run stops after --timeout. SIGINT or SIGTERM stop the run at
once (INTERRUPTED, exit 130 or 143); partial downloads stay staged for
the next run.

Rollout controls, all signed by the repository (docs/rollout.md): a
version in a staged rollout that does not include this device (its
cohort from init --device-id, its --device-class, the rollout's start
time) is skipped (COHORT_EXCLUDED, exit 0); a device that runs it keeps
it. A revoked version is skipped (REVOKED) and never downloaded, a
staged or installed copy of it is discarded, and if it is the active
version the device goes back to the newest installed (else published)
version that is not revoked, below its anti-rollback floor: outcome
rolled_back.

Before anything is downloaded, the version's signed policy and the
device's state decide whether to download now: the app reports the state
with --battery PERCENT, --charging, --network wifi|ethernet|cellular|none,
--metered, --free-bytes N, and the user's settings with
--auto-update=false, --wifi-only, --quiet-window HH:MM-HH:MM (local time;
may wrap midnight), or all of them in a JSON --device-state FILE
(flags override it):
  {"battery_percent":80,"charging":false,"network":"wifi","metered":false,
   "free_bytes":123,"settings":{"auto_update":true,"wifi_only":false,
   "quiet_window":"22:00-06:00"}}
A field left out is unknown and never meets a signed requirement. The
user's settings can only be stricter than the policy. An update that may
not run now is deferred: exit 75, DEFERRED_BATTERY, DEFERRED_NETWORK,
DEFERRED_METERED, DEFERRED_STORAGE, DEFERRED_USER_SETTINGS or
DEFERRED_QUIET_WINDOW, nothing downloaded, and with --json an outcome
"deferred" (not a failure).

A failed run schedules the next attempt (1 minute, doubling per failure
up to 24 hours, with jitter; longer if the server sent Retry-After); a
run before then exits 75 at once with BACKOFF and the time, unless
--force. A version that failed verification 3 times is deferred for 24
hours (DEFERRED_VERIFY_FAILURES). mclient status --json shows the
schedule.

With a collector configured (--telemetry-url, or stored by init or config
set), the run's reports (offered, downloaded, verified, activated,
healthy, rolled back, failed, deferred, revoked; docs/telemetry.md) are
uploaded once the run is over, in the background; mclient update waits at
most 5 seconds for that upload before it exits, and its failure never
changes the result or the exit status (the reports wait for the next
upload).`,
		Flags: append(append([]cli.Flag{stateFlag, modelFlag}, settingFlags()...),
			&cli.StringFlag{Name: "device-state", Usage: "JSON `FILE` with the device's state and user settings (see above); flags override it"},
			&cli.IntFlag{Name: "battery", Usage: "battery level in `PERCENT` (0-100)"},
			&cli.BoolFlag{Name: "charging", Usage: "the device is charging"},
			&cli.StringFlag{Name: "network", Usage: "current network `TYPE`: wifi, ethernet, cellular or none"},
			&cli.BoolFlag{Name: "metered", Usage: "the network is metered (--metered=false: it is not)"},
			&cli.Int64Flag{Name: "free-bytes", Usage: "free space in `BYTES` the models may use"},
			&cli.BoolFlag{Name: "auto-update", Value: true, Usage: "user setting: automatic updates (--auto-update=false defers every update)"},
			&cli.BoolFlag{Name: "wifi-only", Usage: "user setting: download on Wi-Fi only"},
			&cli.StringFlag{Name: "quiet-window", Usage: "user setting: no updates within `HH:MM-HH:MM` (local time)"},
			&cli.BoolFlag{Name: "force", Usage: "run now even if the backoff after failed runs schedules the next attempt later"},
			&cli.BoolFlag{Name: "verify-active", Usage: "when up to date, re-hash every file of the active version, and repair it if damaged"},
			jsonFlag,
		),
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, "update"); err != nil {
				return err
			}
			// The flags given override the stored settings for this run;
			// they are checked before anything else.
			if err := applyFlags(c, "update", settingFlags(), &client.Config{}); err != nil {
				return err
			}
			state, err := deviceState(c)
			if err != nil {
				return err
			}
			opts := client.Options{Progress: cliutil.ProgressFor(c), Logger: cliutil.Logger(c)}
			if c.IsSet("retries") {
				if opts.Retries = c.Int("retries"); opts.Retries <= 0 {
					opts.Retries = -1 // none: in client.Options, 0 means the default
				}
			}
			opts.StallTimeout, opts.Timeout = c.Duration("stall-timeout"), c.Duration("timeout") // 0 if not given: the stored value or the default
			opts.Telemetry = client.TelemetryOptions{URL: c.String("telemetry-url"), AppVersion: c.String("app-version"), OSVersion: c.String("os-version")}
			cl, err := openClient(c, opts)
			if err != nil {
				return fmt.Errorf("update: %w", err)
			}
			cfg := cl.Config()
			if err := applyFlags(c, "update", settingFlags(), &cfg); err != nil {
				return err
			}
			s := cfg.Settings
			// SIGINT and SIGTERM stop the run gracefully (INTERRUPTED: a
			// version on trial stays on trial, downloads stay staged), and
			// the exit status says which signal it was.
			ctx, received, stop := cliutil.SignalContext(context.Background())
			defer stop()
			res, err := cl.Update(ctx, client.UpdateRequest{
				ModelID: c.String("model-id"), Device: s.Device(), HealthCheck: s.HealthCheck,
				HealthTimeout: time.Duration(s.HealthTimeout), Keep: s.Keep, NoDelta: s.NoDelta,
				State: state, Force: c.Bool("force"), VerifyActive: c.Bool("verify-active"), RehashEvery: time.Duration(s.RehashEvery),
			})
			// The reports' upload started in the background once the run
			// was over; the process waits for it (bounded by its timeout).
			cl.FlushTelemetry(context.Background())
			if err != nil && client.IsDeferral(client.CodeOf(err)) {
				// Not a failure: run again later (exit 75).
				return cliutil.WithResult(&cliutil.ExitError{Code: cliutil.ExitTempFail, Msg: "update: " + err.Error(), Err: err}, res)
			}
			if err != nil {
				ferr := failure(c, "update", res, err)
				if sig := received(); sig != nil && client.CodeOf(err) == client.Interrupted {
					return &cliutil.ExitError{Code: cliutil.SignalStatus(sig), Msg: ferr.Error(), Err: ferr}
				}
				return ferr
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			switch res.Outcome {
			case client.OutcomeUpToDate:
				fmt.Fprintf(c.App.Writer, "%s is up to date (%s)\n", res.ModelID, orNone(res.Version))
			case client.OutcomeRepaired:
				what := cliutil.HumanBytes(res.BytesDownloaded)
				if t := transferred(res); strings.Contains(t, " by delta ") {
					what = t
				}
				fmt.Fprintf(c.App.Writer, "Repaired %s %s: the installed copy was damaged and was downloaded again (%s): %s\n", res.ModelID, res.Version, what, res.Path)
			case client.OutcomeRolledBack:
				fmt.Fprintf(c.App.Writer, "Rolled back %s %s -> %s: %s is revoked (%s): %s\n", res.ModelID, res.FromVersion, res.Version, res.FromVersion, transferred(res), res.Path)
			default:
				fmt.Fprintf(c.App.Writer, "Updated %s %s -> %s (%s", res.ModelID, orNone(res.FromVersion), res.Version, transferred(res))
				if res.BytesResumed > 0 {
					fmt.Fprintf(c.App.Writer, ", %s resumed", cliutil.HumanBytes(res.BytesResumed))
				}
				fmt.Fprintf(c.App.Writer, "): %s\n", res.Path)
			}
			if res.Outcome == client.OutcomeRepaired {
				printRepair(c, res)
			}
			for _, f := range res.Files {
				if res.Outcome == client.OutcomeRepaired {
					break // printRepair said how each file was obtained
				}
				if f.Method == client.MethodDeltaFallback {
					fmt.Fprintf(c.App.Writer, "  %s: the patch from %s failed (%s: %s); downloaded whole\n", f.File, f.Base, f.Code, f.Message)
				}
				if f.Method == client.MethodLocalFallback {
					fmt.Fprintf(c.App.Writer, "  %s: the copy of the installed %s %s failed (%s: %s); downloaded\n", f.File, f.SourceModel, f.SourceVersion, f.Code, f.Message)
				}
			}
			for _, sk := range res.Skipped {
				fmt.Fprintf(c.App.Writer, "  skipped %s: %s: %s\n", sk.Version, sk.Code, sk.Reason)
			}
			return nil
		},
	})
}

// deviceState reads --device-state FILE and applies the state flags over
// it; nil when none is given. Invalid input is a usage error (exit 64)
// naming the flag or the file's field.
func deviceState(c *cli.Context) (*client.DeviceState, error) {
	var st *client.DeviceState
	if f := c.String("device-state"); f != "" {
		data, err := jsonlimit.ReadFile(f, client.MaxDeviceStateSize)
		if err != nil {
			return nil, cliutil.Usagef("update: --device-state: %v", err)
		}
		if st, err = client.ParseDeviceState(data); err != nil {
			return nil, cliutil.Usagef("update: --device-state %s: %v", f, err)
		}
	}
	get := func() *client.DeviceState {
		if st == nil {
			st = &client.DeviceState{}
		}
		return st
	}
	if c.IsSet("battery") {
		b := c.Int("battery")
		if b < 0 || b > 100 {
			return nil, cliutil.Usagef("update: --battery %d: want a percentage from 0 to 100", b)
		}
		get().BatteryPercent = &b
	}
	if c.IsSet("charging") {
		v := c.Bool("charging")
		get().Charging = &v
	}
	if c.IsSet("network") {
		n := c.String("network")
		switch n {
		case targets.NetworkWiFi, targets.NetworkEthernet, targets.NetworkCellular, targets.NetworkNone:
		default:
			return nil, cliutil.Usagef("update: --network %q: want wifi, ethernet, cellular or none", n)
		}
		get().Network = n
	}
	if c.IsSet("metered") {
		v := c.Bool("metered")
		get().Metered = &v
	}
	if c.IsSet("free-bytes") {
		n := c.Int64("free-bytes")
		if n < 0 {
			return nil, cliutil.Usagef("update: --free-bytes %d: must not be negative", n)
		}
		get().FreeBytes = &n
	}
	if c.IsSet("auto-update") {
		v := c.Bool("auto-update")
		get().Settings.AutoUpdate = &v
	}
	if c.IsSet("wifi-only") {
		get().Settings.WiFiOnly = c.Bool("wifi-only")
	}
	if c.IsSet("quiet-window") {
		w := c.String("quiet-window")
		if _, _, err := client.ParseQuietWindow(w); err != nil {
			return nil, cliutil.Usagef("update: --quiet-window %v", err)
		}
		get().Settings.QuietWindow = w
	}
	return st, nil
}

// printRepair says, for a repaired version, what happened to each of its
// files: kept (it verified, and was copied into the new copy), damaged and
// downloaded again, or downloaded again (missing or of the wrong size).
func printRepair(c *cli.Context, res *client.Result) {
	for _, f := range res.Files {
		own := f.SourceModel == res.ModelID && f.SourceVersion == res.Version
		switch {
		case f.Method == client.MethodLocal && own:
			fmt.Fprintf(c.App.Writer, "  %s: intact, kept\n", f.File)
		case f.Method == client.MethodLocalFallback && own:
			fmt.Fprintf(c.App.Writer, "  %s: damaged (%s: %s); downloaded again\n", f.File, f.Code, f.Message)
		case f.Method == client.MethodLocal:
			fmt.Fprintf(c.App.Writer, "  %s: copied from the installed %s %s\n", f.File, f.SourceModel, f.SourceVersion)
		default:
			fmt.Fprintf(c.App.Writer, "  %s: downloaded again\n", f.File)
		}
	}
}
