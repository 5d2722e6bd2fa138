package main

import (
	"fmt"
	"path/filepath"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/urfave/cli/v2"
)

func deviceKeyCommand() *cli.Command {
	return group(&cli.Command{
		Name:      "device-key",
		Usage:     "create and show the device's own key pair (for per-device decryption)",
		UsageText: "mclient device-key create --state DIR --backend file|file:PATH|tpm|tpm:PATH|pkcs11:URI [--replace] [--json]\nmclient device-key show --state DIR [--json]",
		Description: `The device key is an ECDH key pair on NIST P-256 that the repository wraps
per-device content keys to. Its private key lives in one backend:

  file, file:PATH   a software key file (PKCS#8 PEM, mode 0600) in the state
                    directory (device-key.pem), or at PATH (relative to it)
  tpm, tpm:PATH     created inside the TPM 2.0 at PATH (default /dev/tpmrm0,
                    or a swtpm socket); it can never leave that TPM, and the
                    state directory keeps only its TPM-encrypted blob
                    (device-key.tpm), useless with any other TPM
  pkcs11:URI        generated inside a PKCS#11 token (RFC 7512 URI with
                    object= or id=, module-path=, and the PIN from
                    pin-source=file:PATH or EDGETUF_PKCS11_PIN); the token
                    refuses to export it (needs a build with cgo and the
                    edgetuf_pkcs11 tag: mclient --version says "pkcs11: yes")

create makes the key and stores its reference in client.json (device_key);
an existing key is never replaced without --replace (DEVICE_KEY_EXISTS), as
whatever was wrapped to it is lost with it. show prints the backend, the
reference, the fingerprint (SHA-256 of the public key's DER), the recipient
("age1tag1...", the public key as an age p256tag recipient: the line to add
to the devices file of mrepo grant, or to enrol with a key service) and
the public key as PEM. A key that cannot be
opened (missing or damaged file or blob, another or a cleared TPM, a
missing token, a wrong PIN) is DEVICE_KEY_UNAVAILABLE.`,
		Subcommands: []*cli.Command{
			stateSub("device-key", &cli.Command{Name: "create", Usage: "create the device key pair",
				UsageText: "mclient device-key create --state DIR --backend file|file:PATH|tpm|tpm:PATH|pkcs11:URI [--replace] [--json]",
				Flags: []cli.Flag{stateFlag,
					&cli.StringFlag{Name: "backend", Usage: "where the private key lives: `REF` (file, file:PATH, tpm, tpm:PATH or pkcs11:URI; required)"},
					&cli.BoolFlag{Name: "replace", Usage: "replace an existing device key (everything wrapped to it is lost)"},
					jsonFlag}}, nil, deviceKeyCreate),
			stateSub("device-key", &cli.Command{Name: "show", Usage: "print the device's public key and its backend",
				UsageText: "mclient device-key show --state DIR [--json]",
				Flags:     []cli.Flag{stateFlag, jsonFlag}}, nil, deviceKeyShow),
		},
	}, "create or show")
}

// deviceKeyInfo is what create and show print.
type deviceKeyInfo struct {
	Backend     string `json:"backend"`
	Reference   string `json:"reference"`
	Fingerprint string `json:"fingerprint"`
	Recipient   string `json:"recipient"`
	PublicKey   string `json:"public_key_pem"`
}

func deviceKeyCreate(c *cli.Context) error {
	backend := c.String("backend")
	if backend == "" {
		return cliutil.Usagef("device-key create: --backend is required: file, tpm:PATH or pkcs11:URI (see mclient device-key create --help)")
	}
	if _, err := devicekey.ParseRef(backend); err != nil {
		return cliutil.Usagef("device-key create: --backend: %v", err)
	}
	dir, err := filepath.Abs(c.String("state"))
	if err != nil {
		return err
	}
	var key devicekey.Key
	var ref string
	_, err = client.EditConfig(dir, func(cfg *client.Config) error {
		if cfg.DeviceKey != "" && !c.Bool("replace") {
			return &devicekey.Error{Code: devicekey.CodeExists, Ref: cfg.DeviceKey,
				Err: fmt.Errorf("client.json already names a device key: refusing to replace it (and everything wrapped to it) without --replace")}
		}
		key, ref, err = devicekey.Create(backend, dir, c.Bool("replace"))
		cfg.DeviceKey = ref
		return err
	})
	if err != nil {
		return fmt.Errorf("device-key create: %w", err)
	}
	return printDeviceKey(c, ref, key)
}

func deviceKeyShow(c *cli.Context) error {
	dir := c.String("state")
	cfg, err := client.ReadConfig(dir)
	if err != nil {
		return fmt.Errorf("device-key show: %w", err)
	}
	if cfg.DeviceKey == "" {
		return fmt.Errorf("device-key show: %w", &devicekey.Error{Code: devicekey.CodeUnavailable,
			Err: fmt.Errorf("%s has no device key: create one with mclient device-key create", dir)})
	}
	key, err := devicekey.Open(cfg.DeviceKey, dir)
	if err != nil {
		return fmt.Errorf("device-key show: %w", err)
	}
	return printDeviceKey(c, cfg.DeviceKey, key)
}

func printDeviceKey(c *cli.Context, ref string, key devicekey.Key) error {
	r, err := devicekey.ParseRef(ref)
	if err != nil {
		return err
	}
	pemText, err := devicekey.PublicPEM(key.Public())
	if err != nil {
		return err
	}
	recipient, err := modelcrypt.Recipient(key.Public())
	if err != nil {
		return err
	}
	info := deviceKeyInfo{Backend: r.Backend, Reference: ref, Fingerprint: devicekey.Fingerprint(key.Public()), Recipient: recipient, PublicKey: string(pemText)}
	if c.Bool("json") {
		return cliutil.WriteJSON(c.App.Writer, info)
	}
	// The lines before the PEM block are ignored by PEM readers (openssl
	// included), so the output as a whole is the public key file.
	fmt.Fprintf(c.App.Writer, "backend: %s\nreference: %s\nfingerprint: %s\nrecipient: %s\n%s", info.Backend, info.Reference, info.Fingerprint, info.Recipient, info.PublicKey)
	return nil
}
