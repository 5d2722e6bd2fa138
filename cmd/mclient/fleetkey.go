package main

import (
	"errors"
	"fmt"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/urfave/cli/v2"
)

func fleetKeyCommand() *cli.Command {
	return group(&cli.Command{
		Name:      "fleet-key",
		Usage:     "show the fleet's shared key (delivery \"fleet\") and its recipient",
		UsageText: "mclient fleet-key show --state DIR [--json]\nmclient fleet-key show --ref REF [--json]",
		Description: `The fleet key is one P-256 key pair shared by every device of a fleet: the
repository wraps each fleet-delivered version's content key to it (mrepo
add-target --encrypt --delivery fleet --fleet-recipient RECIPIENT). The
release team makes it once (docs/client.md, "Encrypted models"):

  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out fleet.pem
  chmod 0600 fleet.pem

and installs it on each device as a file (mclient init --fleet-key
file:PATH) or imported into a PKCS#11 token (--fleet-key pkcs11:URI). A
TPM cannot hold it: a TPM key is created inside one TPM and never leaves.

show opens the key that client.json names (--state) or REF (--ref, to
check a key before it is installed) and prints its reference, its
fingerprint (SHA-256 of the public key's DER) and its age recipient
("age1tag1...", what the repository needs; the private key stays where it
is). A key that cannot be opened is DEVICE_KEY_UNAVAILABLE; no fleet key
in client.json is KEY_UNAVAILABLE.`,
		Subcommands: []*cli.Command{{
			Name: "show", Usage: "print the fleet key's reference, fingerprint and recipient",
			UsageText: "mclient fleet-key show --state DIR [--json]\nmclient fleet-key show --ref REF [--json]",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "state", Usage: "state `DIR` whose client.json names the fleet key"},
				&cli.StringFlag{Name: "ref", Usage: "the key `REF` itself: file:PATH or pkcs11:URI"},
				jsonFlag},
			OnUsageError: func(_ *cli.Context, err error, _ bool) error {
				return cliutil.Usagef("fleet-key show: %s (see mclient fleet-key show --help)", cliutil.OneLine(err))
			},
			Action: fleetKeyShow,
		}},
	}, "show")
}

// fleetKeyInfo is what fleet-key show prints.
type fleetKeyInfo struct {
	Reference   string `json:"reference"`
	Fingerprint string `json:"fingerprint"`
	Recipient   string `json:"recipient"`
}

func fleetKeyShow(c *cli.Context) error {
	if c.Args().Present() {
		return cliutil.Usagef("fleet-key show: expected 0 arguments, got %d (see mclient fleet-key show --help)", c.Args().Len())
	}
	dir, ref := c.String("state"), c.String("ref")
	if (dir == "") == (ref == "") {
		return cliutil.Usagef("fleet-key show: give either --state or --ref (see mclient fleet-key show --help)")
	}
	if dir != "" {
		cfg, err := client.ReadConfig(dir)
		if err != nil {
			return fmt.Errorf("fleet-key show: %w", err)
		}
		if ref = cfg.FleetKey; ref == "" {
			return fmt.Errorf("fleet-key show: %w", &client.Error{Code: client.KeyUnavailable,
				Msg: fmt.Sprintf("%s has no fleet key: mclient config set --state %s fleet-key REF", dir, dir)})
		}
	} else {
		// Checked as mclient config set fleet-key checks it.
		var cfg client.Config
		if err := client.SetConfigKey(&cfg, "fleet-key", ref); err != nil {
			return cliutil.Usagef("fleet-key show: --ref %v", errors.Unwrap(err))
		}
		ref = cfg.FleetKey
	}
	key, err := devicekey.Open(ref, dir)
	if err != nil {
		return fmt.Errorf("fleet-key show: %w", err)
	}
	recipient, err := modelcrypt.Recipient(key.Public())
	if err != nil {
		return fmt.Errorf("fleet-key show: %w", err)
	}
	info := fleetKeyInfo{Reference: ref, Fingerprint: devicekey.Fingerprint(key.Public()), Recipient: recipient}
	if c.Bool("json") {
		return cliutil.WriteJSON(c.App.Writer, info)
	}
	fmt.Fprintf(c.App.Writer, "reference: %s\nfingerprint: %s\nrecipient: %s\n", info.Reference, info.Fingerprint, info.Recipient)
	return nil
}
