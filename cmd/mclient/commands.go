package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/urfave/cli/v2"
)

var (
	stateFlag = &cli.StringFlag{Name: "state", Usage: "device state `DIR` (required)"}
	jsonFlag  = &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}
	modelFlag = &cli.StringFlag{Name: "model-id", Usage: "the model `ID` (required)"}
)

func command(required []string, cmd *cli.Command) *cli.Command {
	return cliutil.Command("mclient", required, cmd)
}

// testClock, when set, gives the reference time of the device commands
// (expiry checks, and the times written into results and events). Only
// cmd/mclient's test binary sets it (clock_test.go), from a variable its
// scripts set: the shipped binary reads no variable that moves the clock
// its freeze-attack defence relies on. FAKETIME moves only `mclient tuf`,
// the conformance suite's interface (tuf.go).
var testClock func() (time.Time, bool, error)

func openClient(c *cli.Context, opts client.Options) (*client.Client, error) {
	if testClock != nil {
		if now, ok, err := testClock(); err != nil {
			return nil, err
		} else if ok {
			opts.Now = func() time.Time { return now }
		}
	}
	return client.Open(c.String("state"), opts)
}

// failure prints a result as JSON if asked, and turns err into the one
// line mclient prints: the code first.
func failure(c *cli.Context, verb string, res any, err error) error {
	if c.Bool("json") && res != nil && !isNil(res) {
		cliutil.WriteJSON(c.App.Writer, res)
	}
	return fmt.Errorf("%s: %w", verb, err)
}

func isNil(v any) bool {
	r, ok := v.(*client.Result)
	return ok && r == nil
}

// checkModelID makes a malformed --model-id a usage error (exit 64).
func checkModelID(c *cli.Context, verb string) error {
	if id := c.String("model-id"); id != "" {
		if err := targets.CheckModelID(id); err != nil {
			return cliutil.Usagef("%s: --model-id: %v", verb, err)
		}
	}
	return nil
}

func initCommand() *cli.Command {
	return command([]string{"state", "root", "repo-url"}, &cli.Command{
		Name:      "init",
		Usage:     "bootstrap trust from a pinned root (no network)",
		UsageText: "mclient init --state DIR --root FILE --repo-url URL [--device-id ID] [--device-class CLASS] [--min-version V] [--ca-file FILE] [--require-https] [--allow-redirect HOST]...",
		Description: `Creates the state directory and trusts the root metadata FILE, the one pinned
in the device image (it must be signed by its own threshold). URL serves
/metadata/ and /targets/ as mrepo serve does; file:///path works the same
way for a mirror on removable media or an air-gapped site, with the same
checks. --min-version is the floor shipped with the application: no model
version below it is ever accepted. --device-id decides the device's cohort
in staged rollouts (a version at 5% is taken by the devices whose
SHA-256(salt || ID) falls in the first 5% of 10000 buckets); keep it
stable across re-installs so the device stays in its cohort. It is never
sent anywhere nor written to the event log. Without it, the device takes
only fully released versions. --device-class (default OS/ARCH; a-z, 0-9,
'.', '_', '-' for rollouts limited to classes) is recorded in events.

Network policy, stored in the state directory for every later command:
--ca-file FILE (PEM certificates) is copied into the state directory and
is then the only set of CAs that HTTPS servers may chain to (default: the
system's). --require-https refuses plain HTTP: an http:// URL here, and
any redirect to http://. Redirects are followed only within the
repository's own scheme, host and port, never from https to http, at most
5 times; --allow-redirect HOST (or HOST:PORT; repeatable) also allows
redirects to HOST, e.g. a CDN.`,
		Flags: []cli.Flag{stateFlag,
			&cli.StringFlag{Name: "root", Usage: "pinned root metadata `FILE` (required)"},
			&cli.StringFlag{Name: "repo-url", Usage: "repository `URL`: http(s)://... or file:///... (required)"},
			&cli.StringFlag{Name: "device-id", Usage: "device `ID`: decides this device's cohort in staged rollouts; never leaves the device"},
			&cli.StringFlag{Name: "device-class", Usage: "coarse device `CLASS` recorded in events and matched by rollouts limited to device classes (default OS/ARCH)"},
			&cli.StringFlag{Name: "min-version", Usage: "lowest model `VERSION` ever accepted"},
			&cli.StringFlag{Name: "ca-file", Usage: "CA certificates (PEM) `FILE` that HTTPS servers must chain to (default: the system's)"},
			&cli.BoolFlag{Name: "require-https", Usage: "refuse plain HTTP (the repository URL and redirects)"},
			&cli.StringSliceFlag{Name: "allow-redirect", Usage: "also follow redirects to `HOST` or HOST:PORT (repeatable)"},
		},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs("mclient", c); err != nil {
				return err
			}
			if err := client.CheckRepoURL(c.String("repo-url")); err != nil {
				return cliutil.Usagef("init: --repo-url: %s", client.ReasonOf(err))
			}
			if v := c.String("min-version"); v != "" {
				if _, err := targets.ParseVersion(v); err != nil {
					return cliutil.Usagef("init: --min-version: %v", err)
				}
			}
			if c.Bool("require-https") && !strings.HasPrefix(c.String("repo-url"), "https://") && !strings.HasPrefix(c.String("repo-url"), "file://") {
				return cliutil.Usagef("init: --require-https: the repository URL %q is not https://", c.String("repo-url"))
			}
			for _, h := range c.StringSlice("allow-redirect") {
				if err := client.CheckRedirectHost(h); err != nil {
					return cliutil.Usagef("init: --allow-redirect: %s", client.ReasonOf(err))
				}
			}
			root, err := os.ReadFile(c.String("root"))
			if err != nil {
				return fmt.Errorf("init: %v", err)
			}
			var ca []byte
			if f := c.String("ca-file"); f != "" {
				if ca, err = os.ReadFile(f); err != nil {
					return fmt.Errorf("init: --ca-file: %v", err)
				}
			}
			err = client.Init(c.String("state"), root, client.InitOptions{
				RepoURL: c.String("repo-url"), DeviceID: c.String("device-id"), DeviceClass: c.String("device-class"), MinVersion: c.String("min-version"),
				CABundle: ca, RequireHTTPS: c.Bool("require-https"), AllowRedirectHosts: c.StringSlice("allow-redirect"),
			})
			if err != nil {
				return fmt.Errorf("init: %w", err)
			}
			fmt.Fprintf(c.App.Writer, "Initialised %s: trusting the pinned root, repository %s\n", c.String("state"), strings.TrimSuffix(c.String("repo-url"), "/"))
			return nil
		},
	})
}

func updateCommand() *cli.Command {
	return command([]string{"state", "model-id"}, &cli.Command{
		Name:      "update",
		Usage:     "run one full update cycle for a model",
		UsageText: "mclient update --state DIR --model-id ID [--app-version V] [--runtime NAME@VERSION] [--platform OS/ARCH] [--health-check CMD] [--keep N] [--no-delta] [--retries N] [--stall-timeout D] [--timeout D] [--device-state FILE] [--battery PERCENT] [--charging] [--network TYPE] [--metered] [--free-bytes N] [--auto-update=false] [--wifi-only] [--quiet-window HH:MM-HH:MM] [--force] [--json]",
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
MCLIENT_MODEL_DIR set, within --health-timeout; exit 0 means healthy). If the check
fails the previous version is restored, the new one is marked bad, and the
exit status is 1. Finally it raises the anti-rollback floor and keeps at
most --keep versions installed.

Already up to date is success, with nothing downloaded; the active
version's files are checked for presence and size, and re-installed if
damaged. Newer versions this device cannot take (incompatible, marked bad)
are listed, and are not an error while a version is active. A device
constraint left out is unknown, and a model that requires it is not
compatible.

Every transfer, metadata included, is bounded: a connection that delivers
nothing for --stall-timeout is abandoned and the transfer tried again, at
most --retries more times; each metadata file must arrive within 5
minutes and within the client's size limits (root 512000, timestamp
16384, snapshot 2000000, targets and each delegated role 5000000 bytes);
the whole run stops after --timeout. SIGINT or SIGTERM stop the run at
once (CANCELLED); partial downloads stay staged for the next run.

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
schedule.`,
		Flags: []cli.Flag{stateFlag, modelFlag,
			&cli.StringFlag{Name: "app-version", Usage: "version of the application that runs the model"},
			&cli.StringFlag{Name: "runtime", Usage: "inference runtime as `NAME@VERSION` (tflite@2.14.1)"},
			&cli.StringFlag{Name: "platform", Usage: "`OS/ARCH` (default: this machine's)"},
			&cli.StringFlag{Name: "variant", Usage: "accept only this model `VARIANT`"},
			&cli.StringFlag{Name: "input-schema-hash", Usage: "SHA-256 of the input schema the app expects"},
			&cli.StringFlag{Name: "output-schema-hash", Usage: "SHA-256 of the output schema the app expects"},
			&cli.StringFlag{Name: "preprocess-config-hash", Usage: "SHA-256 of the preprocessing the app applies"},
			&cli.StringFlag{Name: "health-check", Usage: "shell `CMD` run with the new version's directory as last argument"},
			&cli.DurationFlag{Name: "health-timeout", Value: time.Minute, Usage: "time limit of the health check"},
			&cli.IntFlag{Name: "keep", Value: 2, Usage: "versions to keep installed, the active one included"},
			&cli.IntFlag{Name: "retries", Value: 5, Usage: "times a failed transfer is resumed"},
			&cli.DurationFlag{Name: "stall-timeout", Value: 30 * time.Second, Usage: "retry a transfer (metadata or model file) that receives nothing for this long"},
			&cli.DurationFlag{Name: "timeout", Value: client.DefaultTimeout, Usage: "stop the whole update after this long (NETWORK); the next run resumes the download"},
			&cli.BoolFlag{Name: "no-delta", Usage: "download whole files, never rebuild them from an installed version with a patch"},
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
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs("mclient", c); err != nil {
				return err
			}
			if err := checkModelID(c, "update"); err != nil {
				return err
			}
			dev := client.Device{
				AppVersion: c.String("app-version"), Platform: c.String("platform"), Variant: c.String("variant"),
				InputSchemaHash: c.String("input-schema-hash"), OutputSchemaHash: c.String("output-schema-hash"),
				PreprocessConfigHash: c.String("preprocess-config-hash"),
			}
			if rt := c.String("runtime"); rt != "" {
				name, ver, ok := strings.Cut(rt, "@")
				if !ok || name == "" || ver == "" {
					return cliutil.Usagef("update: --runtime %q: want NAME@VERSION", rt)
				}
				dev.Runtime, dev.RuntimeVersion = name, ver
			}
			if c.Int("keep") < 1 {
				return cliutil.Usagef("update: --keep must be at least 1")
			}
			retries := c.Int("retries")
			if retries <= 0 {
				retries = -1 // none: in client.Options, 0 means the default
			}
			if c.Duration("stall-timeout") <= 0 || c.Duration("timeout") <= 0 {
				return cliutil.Usagef("update: --stall-timeout and --timeout must be positive")
			}
			state, err := deviceState(c)
			if err != nil {
				return err
			}
			cl, err := openClient(c, client.Options{Retries: retries, StallTimeout: c.Duration("stall-timeout"), Timeout: c.Duration("timeout"), Progress: cliutil.Progress(c.App.ErrWriter)})
			if err != nil {
				return fmt.Errorf("update: %w", err)
			}
			// SIGINT and SIGTERM stop the run gracefully (CANCELLED: a
			// version on trial stays on trial, downloads stay staged), and
			// the exit status says which signal it was.
			ctx, received, stop := cliutil.SignalContext(context.Background())
			defer stop()
			res, err := cl.Update(ctx, client.UpdateRequest{
				ModelID: c.String("model-id"), Device: dev, HealthCheck: c.String("health-check"),
				HealthTimeout: c.Duration("health-timeout"), Keep: c.Int("keep"), NoDelta: c.Bool("no-delta"),
				State: state, Force: c.Bool("force"),
			})
			if err != nil && client.IsDeferral(client.CodeOf(err)) {
				// Not a failure: run again later (exit 75).
				if c.Bool("json") {
					cliutil.WriteJSON(c.App.Writer, res)
				}
				return &cliutil.ExitError{Code: cliutil.ExitTempFail, Msg: "update: " + err.Error()}
			}
			if err != nil {
				ferr := failure(c, "update", res, err)
				if sig := received(); sig != nil && (client.CodeOf(err) == client.Cancelled || errors.Is(err, context.Canceled)) {
					return &cliutil.ExitError{Code: cliutil.SignalStatus(sig), Msg: ferr.Error()}
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
			for _, f := range res.Files {
				if f.Method == client.MethodDeltaFallback {
					fmt.Fprintf(c.App.Writer, "  %s: the patch from %s failed (%s: %s); downloaded whole\n", f.File, f.Base, f.Code, f.Message)
				}
			}
			for _, sk := range res.Skipped {
				fmt.Fprintf(c.App.Writer, "  skipped %s: %s: %s\n", sk.Version, sk.Code, sk.Reason)
			}
			return nil
		},
	})
}

// transferred says how many bytes an update received, and how: "3.9 MiB
// downloaded by delta from 1.0.0 instead of 64.0 MiB" when patches were
// used, "64.0 MiB downloaded" otherwise.
func transferred(res *client.Result) string {
	s := cliutil.HumanBytes(res.BytesDownloaded) + " downloaded"
	var bases []string
	var full int64
	for _, f := range res.Files {
		full += f.Length
		if f.Method == client.MethodDelta && !slices.Contains(bases, f.Base) {
			bases = append(bases, f.Base)
		}
	}
	if len(bases) > 0 {
		s += fmt.Sprintf(" by delta from %s instead of %s", strings.Join(bases, ", "), cliutil.HumanBytes(full))
	}
	return s
}

func orNone(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}

func statusCommand() *cli.Command {
	return command([]string{"state"}, &cli.Command{
		Name:      "status",
		Usage:     "show the active model versions and the device's update state",
		UsageText: "mclient status --state DIR [--model-id ID] [--json]",
		Description: `For each model (or only --model-id): the active version and its directory,
the previous version, whether the active one is still on trial, installed
versions, versions marked bad, the anti-rollback floor and the last update
result, and the retry schedule after failed runs (backoff: attempts, next
attempt time, last code; versions that failed verification). With --json
and a single model (or --model-id), one JSON object with at least
model_id, version and path (and "schedule" when there is one); with
several, {"models": [...]}.
Status reads the state only; "mclient verify" re-checks the files.`,
		Flags: []cli.Flag{stateFlag, &cli.StringFlag{Name: "model-id", Usage: "only this model `ID`"}, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs("mclient", c); err != nil {
				return err
			}
			if err := checkModelID(c, "status"); err != nil {
				return err
			}
			cl, err := openClient(c, client.Options{})
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			ids := []string{c.String("model-id")}
			if ids[0] == "" {
				if ids, err = cl.Models(); err != nil {
					return fmt.Errorf("status: %w", err)
				}
			}
			var all []*client.ModelStatus
			for _, id := range ids {
				st, err := cl.Status(id)
				if err != nil {
					return fmt.Errorf("status: %w", err)
				}
				all = append(all, st)
			}
			if c.Bool("json") {
				if len(all) == 1 {
					return cliutil.WriteJSON(c.App.Writer, all[0])
				}
				if all == nil {
					all = []*client.ModelStatus{}
				}
				return cliutil.WriteJSON(c.App.Writer, map[string]any{"models": all})
			}
			if len(all) == 0 {
				fmt.Fprintln(c.App.Writer, "No models on this device yet.")
			}
			for _, st := range all {
				printStatus(c, st)
			}
			return nil
		},
	})
}

func printStatus(c *cli.Context, st *client.ModelStatus) {
	w := c.App.Writer
	fmt.Fprintf(w, "model %s\n", st.ModelID)
	if st.Version == "" {
		fmt.Fprintf(w, "  active:     none\n")
	} else {
		trial := ""
		if st.Trial {
			trial = " (on trial: health check pending)"
		}
		fmt.Fprintf(w, "  active:     %s%s\n  path:       %s\n", st.Version, trial, st.Path)
	}
	if st.Previous != "" {
		fmt.Fprintf(w, "  previous:   %s\n", st.Previous)
	}
	fmt.Fprintf(w, "  installed:  %s\n", orNone(strings.Join(st.Installed, ", ")))
	bad := strings.Join(st.BadVersions, ", ")
	switch {
	case st.BadMarksLost:
		bad = "lost (a damaged state.json): the next update counts every published version as bad"
	case st.BadThrough != "" && bad != "":
		bad += ", and every version up to " + st.BadThrough
	case st.BadThrough != "":
		bad = "every version up to " + st.BadThrough
	}
	fmt.Fprintf(w, "  bad:        %s\n", orNone(bad))
	fmt.Fprintf(w, "  floor:      %s\n", orNone(st.Floor))
	if s := st.Schedule; s != nil {
		if s.Attempts > 0 {
			fmt.Fprintf(w, "  backoff:    %d failed attempt(s), the last %s; next attempt at %s\n", s.Attempts, s.LastCode, s.NotBefore)
		}
		vs := slices.Sorted(maps.Keys(s.VerifyFailures))
		for _, v := range vs {
			f := s.VerifyFailures[v]
			line := fmt.Sprintf("%s failed verification %d time(s)", v, f.Count)
			if f.Until != "" {
				line += ", deferred until " + f.Until
			}
			fmt.Fprintf(w, "  verify:     %s\n", line)
		}
	}
	if r := st.LastResult; r != nil {
		line := fmt.Sprintf("%s at %s", r.Outcome, r.Time)
		if r.Code != "" {
			line += fmt.Sprintf(": %s", r.Code)
		}
		if len(r.Files) > 0 && (r.Outcome == client.OutcomeUpdated || r.Outcome == client.OutcomeRepaired) {
			line += fmt.Sprintf(" (%s", transferred(r))
			for _, f := range r.Files {
				if f.Method == client.MethodDeltaFallback {
					line += fmt.Sprintf("; %s: the patch from %s failed (%s), downloaded whole", f.File, f.Base, f.Code)
				}
			}
			line += ")"
		}
		fmt.Fprintf(w, "  last:       %s\n", line)
	}
}

func verifyCommand() *cli.Command {
	return command([]string{"state"}, &cli.Command{
		Name:      "verify",
		Usage:     "re-check the active model's files against signed metadata",
		UsageText: "mclient verify --state DIR [--model-id ID] [--json]",
		Description: `Re-hashes every file of the active version (of --model-id, or of every
model) against the signed metadata the device trusts, and fails if a file
is missing, changed, or added. Needs no network. Exit 1 with the error code
(HASH_MISMATCH for a replaced file) if anything is wrong.`,
		Flags: []cli.Flag{stateFlag, &cli.StringFlag{Name: "model-id", Usage: "only this model `ID`"}, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs("mclient", c); err != nil {
				return err
			}
			if err := checkModelID(c, "verify"); err != nil {
				return err
			}
			cl, err := openClient(c, client.Options{})
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			ids := []string{c.String("model-id")}
			if ids[0] == "" {
				if ids, err = cl.Models(); err != nil {
					return fmt.Errorf("verify: %w", err)
				}
				if len(ids) == 0 {
					err := &client.Error{Code: client.NoActiveModel, Msg: "no models on this device"}
					if c.Bool("json") {
						cliutil.WriteJSON(c.App.Writer, map[string]any{"models": []any{}, "code": err.Code, "message": err.Msg})
					}
					return fmt.Errorf("verify: %w", err)
				}
			}
			type verdict struct {
				ModelID string      `json:"model_id"`
				Version string      `json:"version"`
				Path    string      `json:"path"`
				OK      bool        `json:"ok"`
				Code    client.Code `json:"code,omitempty"`
				Message string      `json:"message,omitempty"`
			}
			var out []verdict
			var firstErr error
			for _, id := range ids {
				st, err := cl.Verify(id)
				v := verdict{ModelID: id, OK: err == nil}
				if st != nil {
					v.Version, v.Path = st.Version, st.Path
				}
				if err != nil {
					v.Code, v.Message = client.CodeOf(err), client.ReasonOf(err)
					if firstErr == nil {
						firstErr = fmt.Errorf("verify: %s: %w", id, err)
					}
				} else if !c.Bool("json") {
					fmt.Fprintf(c.App.Writer, "OK: %s %s: every file matches its signed length and SHA-256\n", id, st.Version)
				}
				out = append(out, v)
			}
			if c.Bool("json") {
				if len(out) == 1 {
					cliutil.WriteJSON(c.App.Writer, out[0])
				} else {
					cliutil.WriteJSON(c.App.Writer, map[string]any{"models": out})
				}
			}
			return firstErr
		},
	})
}

func rollbackCommand() *cli.Command {
	return command([]string{"state", "model-id"}, &cli.Command{
		Name:      "rollback",
		Usage:     "switch back to the previous installed version",
		UsageText: "mclient rollback --state DIR --model-id ID [--json]",
		Description: `Re-verifies the previous installed version against signed metadata, makes it
active (one atomic pointer switch), and marks the version that was active as
bad so updates do not reinstall it. The anti-rollback floor is not lowered:
updates still never download a version older than the newest confirmed one.`,
		Flags: []cli.Flag{stateFlag, modelFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs("mclient", c); err != nil {
				return err
			}
			if err := checkModelID(c, "rollback"); err != nil {
				return err
			}
			cl, err := openClient(c, client.Options{})
			if err != nil {
				return fmt.Errorf("rollback: %w", err)
			}
			res, err := cl.Rollback(c.String("model-id"))
			if err != nil {
				return fmt.Errorf("rollback: %w", err)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			fmt.Fprintf(c.App.Writer, "Rolled back %s %s -> %s (%s marked bad): %s\n", res.ModelID, res.FromVersion, res.Version, res.FromVersion, res.Path)
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
