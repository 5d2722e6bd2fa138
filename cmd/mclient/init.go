package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/urfave/cli/v2"
)

func initCommand() *cli.Command {
	return command([]string{"state"}, &cli.Command{
		Name:      "init",
		Usage:     "bootstrap trust from a pinned root (no network)",
		UsageText: "mclient init --state DIR --root FILE [--root-readonly] --repo-url URL [--device-id ID] [--device-class CLASS] [--min-version V] [--ca-file FILE] [--require-https] [--allow-redirect HOST]... [device settings] [--auth-token-file FILE] [--auth-header-file FILE] [--client-cert FILE --client-key FILE] [--anti-rollback file|tpm:PATH] [--fleet-key REF] [--key-server URL] [--at-rest plaintext|encrypted]\nmclient init --state DIR --anti-rollback tpm:PATH --reprovision",
		Description: `Creates the state directory and trusts the root metadata FILE, the one pinned
in the device image (it must be signed by its own threshold). With
--root-readonly the state directory keeps no copy of it: FILE (made
absolute) is recorded and read again by every command, and every root the
state directory caches must chain from it (ROOT_CHAIN_BROKEN otherwise;
PINNED_ROOT_UNUSABLE if FILE cannot be read). Use it when FILE is on
read-only storage (the device image); the image's service may also set
MCLIENT_PINNED_ROOT=FILE, and every command then refuses a state
directory that does not read FILE. URL serves
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
redirects to HOST, e.g. a CDN.

Device settings: --app-version, --runtime, --platform, --variant, the
schema hashes, --health-check, --health-timeout, --keep, --retries,
--stall-timeout, --timeout, --no-delta and --rehash-every are stored and
used by every mclient update that does not give the flag (see mclient
config). --telemetry-url URL sends update reports to a fleet collector
(docs/telemetry.md: what is sent; never the device ID), with the OS
version --os-version (default: /etc/os-release's VERSION_ID).

Authenticated repositories: --auth-token-file FILE (a bearer token) and
--auth-header-file FILE ("Name: value" lines) are sent on every request to
the repository's own origin, never to a redirect target on another
origin; with --client-cert and --client-key the device presents a client
certificate (mutual TLS). The files must be readable by their owner only
(mode 0600; the certificate excepted); their paths are stored and they are
read by every run. A token or header needs an https:// URL (or http:// to
this machine).

Anti-rollback store: --anti-rollback file (the default) keeps each model's
floor in the state directory; --anti-rollback tpm:PATH also keeps each
model's signed rollback epoch in a TPM 2.0 NV counter (PATH: /dev/tpmrm0,
or a swtpm socket), which no edit of the state directory can lower; the
TPM must answer. Every later command uses the store named here, and fails
with ANTI_ROLLBACK_UNAVAILABLE if the TPM cannot be reached or no longer
holds the counters (cleared). --reprovision, on an existing state
directory, is the recovery: it switches to --anti-rollback tpm:PATH and
starts new counters for the models that have none (docs/client.md).

Encrypted models (docs/client.md, "Encrypted models"): --fleet-key REF
names the fleet's shared key that opens versions delivered to the fleet
(file:PATH of a PKCS#8 P-256 key, mode 0600, or pkcs11:URI of a key
imported into a token; a TPM cannot hold a shared key, so tpm: is
refused); --key-server URL is the key service that releases keys for
delivery "keyserver"; --at-rest encrypted keeps encrypted versions
encrypted on disk, decrypted by every read through the client library
(default plaintext: decrypted once, at install). The device key (delivery
"device" and "keyserver") is made by mclient device-key create.`,
		Flags: append([]cli.Flag{stateFlag,
			&cli.StringFlag{Name: "root", Usage: "pinned root metadata `FILE` (required)"},
			&cli.BoolFlag{Name: "root-readonly", Usage: "read the pinned root from FILE on every run (it stays in the device image) instead of keeping a copy"},
			&cli.StringFlag{Name: "repo-url", Usage: "repository `URL`: http(s)://... or file:///... (required)"},
			&cli.StringFlag{Name: "device-id", Usage: "device `ID`: decides this device's cohort in staged rollouts; never leaves the device"},
			&cli.StringFlag{Name: "device-class", Usage: "coarse device `CLASS` recorded in events and matched by rollouts limited to device classes (default OS/ARCH)"},
			&cli.StringFlag{Name: "min-version", Usage: "lowest model `VERSION` ever accepted"},
			&cli.StringFlag{Name: "ca-file", Usage: "CA certificates (PEM) `FILE` that HTTPS servers must chain to (default: the system's)"},
			&cli.BoolFlag{Name: "require-https", Usage: "refuse plain HTTP (the repository URL and redirects)"},
			&cli.StringSliceFlag{Name: "allow-redirect", Usage: "also follow redirects to `HOST` or HOST:PORT (repeatable)"},
		}, append(append(append(settingFlags(), authFlags()...), encryptionFlags()...), antiRollbackFlags()...)...),
		Action: func(c *cli.Context) error {
			if err := cliutil.NoArgs("mclient", c); err != nil {
				return err
			}
			if c.Bool("reprovision") {
				return reprovision(c)
			}
			for _, f := range []string{"root", "repo-url"} {
				if c.String(f) == "" {
					return cliutil.Usagef("init: --%s is required (see mclient init --help)", f)
				}
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
			stored := client.Config{RequireHTTPS: c.Bool("require-https")}
			if err := applyFlags(c, "init", append(append(settingFlags(), authFlags()...), encryptionFlags()...), &stored); err != nil {
				return err
			}
			spec, err := initAntiRollback(c)
			if err != nil {
				return err
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
				Settings: stored.Settings, AuthTokenFile: stored.AuthTokenFile, AuthHeaderFile: stored.AuthHeaderFile,
				ClientCert: stored.ClientCert, ClientKey: stored.ClientKey, PinnedRoot: pinnedPath(c), AntiRollback: spec,
				FleetKey: stored.FleetKey, KeyServer: stored.KeyServer, AtRest: stored.AtRest,
			})
			if err != nil {
				return fmt.Errorf("init: %w", err)
			}
			fmt.Fprintf(c.App.Writer, "Initialised %s: trusting the pinned root%s, repository %s%s\n", c.String("state"), map[bool]string{true: " " + pinnedPath(c) + " (read on every run)"}[c.Bool("root-readonly")], strings.TrimSuffix(c.String("repo-url"), "/"), storeNote(spec))
			return nil
		},
	})
}

// pinnedPath is --root, absolute, with --root-readonly, else "" (a copy
// is kept).
func pinnedPath(c *cli.Context) string {
	if !c.Bool("root-readonly") {
		return ""
	}
	if abs, err := filepath.Abs(c.String("root")); err == nil {
		return abs
	}
	return c.String("root")
}
