package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/urfave/cli/v2"
)

// settingFlags are the device settings: flags of mclient update that init
// and config set store in client.json, each named like its key.
func settingFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "app-version", Usage: "version of the application that runs the model"},
		&cli.StringFlag{Name: "runtime", Usage: "inference runtime as `NAME@VERSION` (tflite@2.14.1)"},
		&cli.StringFlag{Name: "platform", Usage: "`OS/ARCH` (default: this machine's)"},
		&cli.StringFlag{Name: "variant", Usage: "accept only this model `VARIANT`"},
		&cli.StringFlag{Name: "input-schema-hash", Usage: "SHA-256 of the input schema the app expects"},
		&cli.StringFlag{Name: "output-schema-hash", Usage: "SHA-256 of the output schema the app expects"},
		&cli.StringFlag{Name: "preprocess-config-hash", Usage: "SHA-256 of the preprocessing the app applies"},
		&cli.StringFlag{Name: "health-check", Usage: "shell `CMD` run with the new version's directory as last argument"},
		&cli.DurationFlag{Name: "health-timeout", Usage: "time limit of the health check", DefaultText: "1m0s"},
		&cli.IntFlag{Name: "keep", Usage: "versions to keep installed, the active one included", DefaultText: "2"},
		&cli.IntFlag{Name: "retries", Usage: "times a failed transfer is resumed", DefaultText: "5"},
		&cli.DurationFlag{Name: "stall-timeout", Usage: "retry a transfer (metadata or model file) that receives nothing for this long", DefaultText: "30s"},
		&cli.DurationFlag{Name: "timeout", Usage: "stop the whole update after this long (NETWORK); the next run resumes the download", DefaultText: "6h0m0s"},
		&cli.BoolFlag{Name: "no-delta", Usage: "download whole files, never rebuild them from an installed version with a patch"},
		&cli.DurationFlag{Name: "rehash-every", Usage: "when up to date, re-hash the active version in full if the last good full re-hash is older than this"},
		&cli.StringFlag{Name: "telemetry-url", Usage: "fleet collector base `URL` that update reports are sent to (docs/telemetry.md; default: none, nothing is recorded)"},
		&cli.StringFlag{Name: "os-version", Usage: "OS `VERSION` update reports carry (default: /etc/os-release's VERSION_ID)"},
	}
}

// authFlags are the credentials of an authenticated repository, stored in
// client.json as paths: the files are read by every run.
func authFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "auth-token-file", Usage: "`FILE` (mode 0600) holding a bearer token sent to the repository"},
		&cli.StringFlag{Name: "auth-header-file", Usage: "`FILE` (mode 0600) of \"Name: value\" lines: HTTP headers sent to the repository"},
		&cli.StringFlag{Name: "client-cert", Usage: "client certificate (PEM) `FILE` for mutual TLS"},
		&cli.StringFlag{Name: "client-key", Usage: "private key (PEM) `FILE` (mode 0600) of --client-cert"},
	}
}

// encryptionFlags configure encrypted versions (docs/client.md,
// "Encrypted models"), stored in client.json.
func encryptionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "fleet-key", Usage: "the fleet's shared key for delivery \"fleet\": `REF` file:PATH (PKCS#8 PEM, mode 0600) or pkcs11:URI (a TPM cannot hold a shared key)"},
		&cli.StringFlag{Name: "key-server", Usage: "key service base `URL` for delivery \"keyserver\" (https://, or http:// to this machine)"},
		&cli.StringFlag{Name: "at-rest", Usage: "form of encrypted versions on disk: plaintext (decrypted at install) or encrypted (decrypted by every read through the client library)", DefaultText: "plaintext"},
	}
}

// applyFlags sets the keys of cfg whose flags (among flags) are given on
// the command line, checked as config set checks them: a bad value is a
// usage error naming the flag.
func applyFlags(c *cli.Context, verb string, flags []cli.Flag, cfg *client.Config) error {
	for _, f := range flags {
		name := f.Names()[0]
		if !c.IsSet(name) {
			continue
		}
		var ke *client.ConfigKeyError
		if err := client.SetConfigKey(cfg, name, fmt.Sprint(c.Value(name))); errors.As(err, &ke) {
			return cliutil.Usagef("%s: --%s %v", verb, name, ke.Err)
		} else if err != nil {
			return fmt.Errorf("%s: --%s: %w", verb, name, err)
		}
	}
	return nil
}

func configCommand() *cli.Command {
	return group(&cli.Command{
		Name:      "config",
		Usage:     "show and change the stored device settings",
		UsageText: "mclient config show --state DIR [--json]\nmclient config set --state DIR KEY VALUE\nmclient config unset --state DIR KEY",
		Description: `The device settings that mclient update uses when the flag of the same name
is not given, stored in the state directory's client.json by mclient init
or by config set: app-version, runtime, platform, variant,
input-schema-hash, output-schema-hash, preprocess-config-hash,
health-check, health-timeout, keep, retries, stall-timeout, timeout,
no-delta, rehash-every, telemetry-url, os-version (and fleet-key,
key-server, at-rest below). A flag given to mclient update overrides the
stored value for that run. Values are checked as the flags are; an unknown key is a usage
error.

repo-url moves the repository (a new CDN) without a new init: the trusted
metadata and the anti-rollback floors are kept, and the new URL must pass
init's checks (--require-https included).

auth-token-file, auth-header-file, client-cert and client-key name the
files of an authenticated repository (docs/client.md, "Authenticated
repositories"): the paths are stored, never the secrets, and the files are
read by every run, so a rotated token is used from the next run on.

fleet-key, key-server and at-rest configure encrypted versions
(docs/client.md, "Encrypted models"): the fleet's shared key (file:PATH,
stored absolute, or pkcs11:URI; never tpm:), the key service's URL, and
whether encrypted versions installed from now on are kept encrypted on
disk (versions already installed keep their form).

Changes are made under the state lock and replace client.json atomically.`,
		Subcommands: []*cli.Command{
			configSub(&cli.Command{Name: "show", Usage: "print the stored settings", Flags: []cli.Flag{stateFlag, jsonFlag}}, nil, configShow),
			configSub(&cli.Command{Name: "set", Usage: "store a setting", Flags: []cli.Flag{stateFlag}}, []string{"KEY", "VALUE"}, configSet),
			configSub(&cli.Command{Name: "unset", Usage: "remove a setting (the flag's default applies again)", Flags: []cli.Flag{stateFlag}}, []string{"KEY"}, configSet),
		},
	}, "show, set or unset")
}

// group sets up mclient NAME, a command that only holds subcommands
// (named in want, for messages): flag errors are one line and exit 64, as
// are a missing or unknown subcommand.
func group(cmd *cli.Command, want string) *cli.Command {
	name := cmd.Name
	cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return cliutil.Usagef("%s: %s (see mclient %s --help)", name, cliutil.OneLine(err), name)
	}
	cmd.Action = func(c *cli.Context) error {
		if c.Args().Present() {
			return cliutil.Usagef("%s: unknown command %q: %s (see mclient %s --help)", name, c.Args().First(), want, name)
		}
		return cliutil.Usagef("%s: expected a command: %s (see mclient %s --help)", name, want, name)
	}
	return cmd
}

// configSub sets up a subcommand of mclient config (stateSub).
func configSub(cmd *cli.Command, args []string, action cli.ActionFunc) *cli.Command {
	return stateSub("config", cmd, args, action)
}

// stateSub sets up a subcommand of mclient PARENT: flag errors are one
// line and exit 64, --state is required, and exactly the positional
// arguments args are.
func stateSub(parent string, cmd *cli.Command, args []string, action cli.ActionFunc) *cli.Command {
	name := parent + " " + cmd.Name
	if cmd.UsageText == "" {
		cmd.UsageText = "mclient " + name + " --state DIR " + strings.Join(args, " ")
	}
	cmd.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return cliutil.Usagef("%s: %s (see mclient %s --help)", name, cliutil.OneLine(err), name)
	}
	cmd.Action = func(c *cli.Context) error {
		if c.String("state") == "" {
			return cliutil.Usagef("%s: --state is required (see mclient %s --help)", name, name)
		}
		if c.Args().Len() != len(args) {
			for _, a := range c.Args().Slice() {
				if strings.HasPrefix(a, "-") {
					return cliutil.Usagef("%s: %s after the arguments: options go first (see mclient %s --help)", name, a, name)
				}
			}
			return cliutil.Usagef("%s: expected %d arguments, got %d (see mclient %s --help)", name, len(args), c.Args().Len(), name)
		}
		return action(c)
	}
	return cmd
}

func configShow(c *cli.Context) error {
	cfg, err := client.ReadConfig(c.String("state"))
	if err != nil {
		return fmt.Errorf("config show: %w", err)
	}
	out := map[string]string{}
	for _, k := range client.ConfigKeys() {
		v, _ := client.ConfigValue(cfg, k)
		if v != "" {
			out[k] = v
		}
		if !c.Bool("json") {
			if v == "" {
				v = "(not set)"
			}
			fmt.Fprintf(c.App.Writer, "%-23s %s\n", k, v)
		}
	}
	if c.Bool("json") {
		return cliutil.WriteJSON(c.App.Writer, out)
	}
	return nil
}

// configSet is config set KEY VALUE and config unset KEY.
func configSet(c *cli.Context) error {
	verb := "config " + c.Command.Name
	key := c.Args().First()
	_, err := client.EditConfig(c.String("state"), func(cfg *client.Config) error {
		if c.Args().Len() == 2 {
			return client.SetConfigKey(cfg, key, c.Args().Get(1))
		}
		return client.UnsetConfigKey(cfg, key)
	})
	var ke *client.ConfigKeyError
	if errors.As(err, &ke) {
		return cliutil.Usagef("%s: %v", verb, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	return nil
}
