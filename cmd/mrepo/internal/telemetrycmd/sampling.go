package telemetrycmd

import (
	"fmt"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/status"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/repoctl"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print the result as JSON"}

const samplingDesc = `Devices keep, of each kind of update report, the share the repository's
signed sampling config gives (the target edgetuf/telemetry.json of the
top-level targets role, read through TUF like any target), and send the
weight with each report so that the collector counts the fleet back.
Without a config they keep every report. See docs/telemetry.md, "Sampling".`

// SamplingCommand is mrepo telemetry sampling set|show.
func SamplingCommand(r Repo) *cli.Command {
	return cliutil.Group("mrepo telemetry", &cli.Command{
		Name:        "sampling",
		Usage:       "publish or show the signed telemetry sampling config",
		UsageText:   "mrepo telemetry sampling set --repo DIR --keys DIR [--default PERCENT] [--rate KIND_OR_GROUP=PERCENT]... [--json]\nmrepo telemetry sampling show --repo DIR [--json]",
		Description: samplingDesc,
		Subcommands: []*cli.Command{samplingSetCommand(r), samplingShowCommand(r)},
	})
}

func samplingSetCommand(r Repo) *cli.Command {
	const name = "telemetry sampling set"
	return cliutil.Subcommand("mrepo", "telemetry sampling", []string{"repo", "keys"}, nil, &cli.Command{
		Name:      "set",
		Usage:     "publish the sampling config (re-signs targets, snapshot, timestamp)",
		UsageText: "mrepo telemetry sampling set --repo DIR --keys DIR [--default PERCENT] [--rate KIND_OR_GROUP=PERCENT]... [--json]",
		Description: `Publishes the sampling config, replacing any earlier one: --default is the
share of reports kept for any kind without its own rate, --rate KIND=P or
GROUP=P (repeatable) sets one kind's (offered, downloaded, verified,
activated, healthy, rolled_back, failed, deferred, crash, latency, dropped)
or one group's (success, failure, signal); a kind's own rate wins over its
group's. Rates are percents from 0.01% to 100% (two decimals at most):
e.g. --default 10% --rate failure=100% --rate crash=100%.

The config is a target of the top-level targets role (edgetuf/telemetry.json,
stored content-addressed under targets/edgetuf/ like every target); the
change re-signs targets, snapshot and timestamp with the keys of --keys.

` + samplingDesc,
		Flags: []cli.Flag{r.RepoFlag, r.KeysFlag, r.PassFlag,
			&cli.StringFlag{Name: "default", Value: "100%", Usage: "share of reports kept for kinds without a rate of their own (`PERCENT`)"},
			&cli.StringSliceFlag{Name: "rate", Usage: "share kept for one kind or group (`KIND_OR_GROUP=PERCENT`, repeatable)"},
			jsonFlag},
		Action: func(c *cli.Context) error {
			s, err := repoctl.BuildSampling(c.String("default"), c.StringSlice("rate"))
			if err != nil {
				return cliutil.Usagef("%s: %v", name, err)
			}
			kr := r.Keys(c)
			var res *repoctl.SamplingResult
			attempts, err := r.Write(c, kr, func(rp *repo.Repository) (err error) {
				res, err = repoctl.PublishSampling(rp, kr, s)
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if c.Bool("json") {
				return r.Result(c, res, attempts)
			}
			shown := status.Sampling{Config: res.Sampling}
			fmt.Fprintf(c.App.Writer, "telemetry sampling (%s, %d bytes): %s\n", res.Target, res.Length, shown.Describe())
			fmt.Fprintf(c.App.Writer, "Signed targets v%d, snapshot v%d, timestamp v%d\n", res.Versions.Targets, res.Versions.Snapshot, res.Versions.Timestamp)
			return nil
		},
	})
}

// shownSampling is sampling show's JSON result.
type shownSampling struct {
	Published bool `json:"published"`
	*status.Sampling
}

func samplingShowCommand(r Repo) *cli.Command {
	const name = "telemetry sampling show"
	return cliutil.Subcommand("mrepo", "telemetry sampling", []string{"repo"}, nil, &cli.Command{
		Name:      "show",
		Usage:     "show the published sampling config",
		UsageText: "mrepo telemetry sampling show --repo DIR [--json]",
		Description: `Shows the sampling config top-level targets lists, read from targets/ with
its signed length and SHA-256 checked (signatures are mrepo verify's job).
Exit 1 if it is published but invalid: devices then keep every report.

` + samplingDesc,
		Flags: []cli.Flag{r.RepoFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			var s *status.Sampling
			err := r.Read(c, func(fs afero.Fs, dir string) error {
				st, err := repofiles.ReadState(fs, dir)
				if err == nil {
					s = status.ReadSampling(fs, dir, st.Targets)
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if c.Bool("json") {
				if err := cliutil.WriteJSON(c.App.Writer, shownSampling{Published: s != nil, Sampling: s}); err != nil {
					return err
				}
			} else if s == nil {
				fmt.Fprintf(c.App.Writer, "no telemetry sampling config (%s): devices keep every report\n", telemetry.SamplingTarget)
			} else {
				fmt.Fprintf(c.App.Writer, "telemetry sampling (%s, %d bytes, sha256 %s): %s\n", s.Target, s.Length, s.SHA256, s.Describe())
			}
			if s != nil && s.Error != "" {
				return fmt.Errorf("%s: %s is invalid, devices keep every report: %s", name, s.Target, s.Error)
			}
			return nil
		},
	})
}
