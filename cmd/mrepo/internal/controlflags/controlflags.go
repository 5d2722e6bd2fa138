// Package controlflags reads the command-line flags of a version's
// controls (staged rollout, download policy: docs/rollout.md) into the
// values package rollout applies, for mrepo rollout set, policy set and
// add-target. It checks and converts flags only: it opens no repository,
// reads no key and touches no file (archtest enforces that), so each
// command's behaviour stays in the packages it calls.
package controlflags

import (
	"slices"
	"strings"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/urfave/cli/v2"
)

// Percent reads a percentage flag (at most two decimals) as basis points.
// cmd is the command as typed after "mrepo", for the usage error.
func Percent(c *cli.Context, cmd, flag string) (int, error) {
	bp, err := targets.ParsePercent(c.String(flag))
	if err != nil {
		return 0, cliutil.Usagef("%s: --%s: %v", cmd, flag, err)
	}
	return bp, nil
}

// Reason reads a required, non-empty --reason (rollout halt, revoke).
func Reason(c *cli.Context, cmd string) (string, error) {
	r := c.String("reason")
	if strings.TrimSpace(r) == "" {
		return "", cliutil.Usagef("%s: --reason must not be empty", cmd)
	}
	return r, nil
}

// RolloutSet reads the flags of mrepo rollout set (--percent,
// --cohort-salt, --device-class, --all-device-classes, --start,
// --no-start).
func RolloutSet(c *cli.Context, cmd string) (rollout.SetOptions, error) {
	bp, err := Percent(c, cmd, "percent")
	if err != nil {
		return rollout.SetOptions{}, err
	}
	opts := rollout.SetOptions{BasisPoints: bp, ClearDeviceClasses: c.Bool("all-device-classes"), ClearStart: c.Bool("no-start")}
	if c.IsSet("cohort-salt") {
		opts.Salt = c.String("cohort-salt")
		if err := rollout.CheckSalt(opts.Salt); err != nil {
			return opts, cliutil.Usagef("%s: --cohort-salt %v", cmd, err)
		}
	}
	if c.IsSet("device-class") {
		if opts.ClearDeviceClasses {
			return opts, cliutil.Usagef("%s: --device-class and --all-device-classes exclude each other", cmd)
		}
		for _, dc := range c.StringSlice("device-class") {
			if err := targets.CheckDeviceClass(dc); err != nil {
				return opts, cliutil.Usagef("%s: --device-class: %v", cmd, err)
			}
			opts.DeviceClasses = append(opts.DeviceClasses, dc)
		}
	}
	if c.IsSet("start") {
		if opts.ClearStart {
			return opts, cliutil.Usagef("%s: --start and --no-start exclude each other", cmd)
		}
		if opts.Start, err = rollout.ParseStart(c.String("start")); err != nil {
			return opts, cliutil.Usagef("%s: --start %v", cmd, err)
		}
	}
	return opts, nil
}

// PolicyFlags are the conditions of a download policy; prefix is "" for
// mrepo policy set and "policy-" for add-target.
func PolicyFlags(prefix string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: prefix + "unmetered-above", Usage: "a download larger than `SIZE` (bytes, or with kB, MB, GB, KiB, MiB, GiB) needs an unmetered network"},
		&cli.IntFlag{Name: prefix + "min-battery", Usage: "the battery must be at least `PERCENT` full unless the device is charging"},
		&cli.StringSliceFlag{Name: prefix + "network", Usage: "allow downloads over network `TYPE`: wifi, ethernet or cellular (repeatable; default: any)"},
	}
}

// Policy reads the policy flags (PolicyFlags(prefix)); nil if none is
// given.
func Policy(c *cli.Context, cmd, prefix string) (*targets.Policy, error) {
	p := &targets.Policy{}
	set := false
	if f := prefix + "unmetered-above"; c.IsSet(f) {
		n, err := rollout.ParseUnmeteredAbove(c.String(f))
		if err != nil {
			return nil, cliutil.Usagef("%s: --%s: %v", cmd, f, err)
		}
		p.UnmeteredAboveBytes, set = n, true
	}
	if f := prefix + "min-battery"; c.IsSet(f) {
		n := c.Int(f)
		if err := rollout.CheckMinBattery(n); err != nil {
			return nil, cliutil.Usagef("%s: --%s %v", cmd, f, err)
		}
		p.MinBatteryPercent, set = n, true
	}
	if f := prefix + "network"; c.IsSet(f) {
		for _, n := range c.StringSlice(f) {
			if err := targets.CheckPolicyNetwork(n); err != nil {
				return nil, cliutil.Usagef("%s: --%s: %v", cmd, f, err)
			}
			if !slices.Contains(p.Networks, n) {
				p.Networks = append(p.Networks, n)
			}
		}
		set = true
	}
	if !set {
		return nil, nil
	}
	return p, nil
}

// AddTargetFlags are add-target's flags that publish a version already
// staged, with a policy.
func AddTargetFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "rollout-percent", Usage: "publish the version staged to `PERCENT` of the devices (random cohort salt; see mrepo rollout set)"},
	}, PolicyFlags("policy-")...)
}

// AddTarget reads AddTargetFlags: the version's rollout and policy (nil
// when not given).
func AddTarget(c *cli.Context) (*targets.Rollout, *targets.Policy, error) {
	var ro *targets.Rollout
	if c.IsSet("rollout-percent") {
		bp, err := Percent(c, "add-target", "rollout-percent")
		if err != nil {
			return nil, nil, err
		}
		ro = &targets.Rollout{BasisPoints: bp}
	}
	p, err := Policy(c, "add-target", "policy-")
	if err != nil {
		return nil, nil, err
	}
	return ro, p, nil
}
