package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keyserver"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/server"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

// openContentKeys opens the content key store under --keys
// (contentKeyStore), naming the command in a passphrase failure.
func openContentKeys(c *cli.Context) (keyserver.KeyStore, error) {
	st, err := contentKeyStore(c, false)()
	if err != nil {
		return nil, fmt.Errorf("%s: content key passphrase: %w", c.Command.Name, err)
	}
	return st, nil
}

func keyserverCommand() *cli.Command {
	return command([]string{"repo", "keys", "devices"}, &cli.Command{
		Name:      "keyserver",
		Usage:     "release content keys of keyserver-delivered versions to enrolled devices",
		UsageText: "mrepo keyserver --repo DIR --keys DIR --devices FILE [--revoked FILE] [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE] [--key-lifetime 24h] [--audit-log FILE] [--device-rate 10/1m] [--global-rate 200/1s]",
		Description: `Runs the key service of versions published with add-target --encrypt
--delivery keyserver (docs/keyserver.md). A device that is listed in
--devices (one "age1tag1..." recipient per line, then an optional label),
is not listed in --revoked, and proves it holds its device key by
answering a fresh challenge, gets the version's content key sealed for its
key, valid for --key-lifetime. Every request leaves one JSON line in
--audit-log; no key material is ever logged.

The content keys are read from --keys DIR with the passphrase from
--content-passphrase-file, $MREPO_CONTENT_PASSPHRASE or a prompt, and all
loaded at start (a wrong passphrase stops the service there). SIGHUP reads
--devices and --revoked again (a file that does not parse keeps the sets in
use); SIGINT or SIGTERM stops the service. A listen address other than
loopback needs --tls-cert and --tls-key: devices reach the service over
HTTPS only.`,
		Flags: []cli.Flag{
			repoFlag,
			keysFlag,
			contentPassFlag,
			&cli.StringFlag{Name: "devices", Usage: "enrolled devices `FILE` (required)"},
			&cli.StringFlag{Name: "revoked", Usage: "revoked devices `FILE` (same format)"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8443", Usage: "listen `ADDRESS` (port 0: any free port)"},
			&cli.StringFlag{Name: "addr-file", Usage: "write the listening address to `FILE`"},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this certificate chain `FILE` (PEM; needs --tls-key)"},
			&cli.StringFlag{Name: "tls-key", Usage: "private key `FILE` (PEM) of --tls-cert"},
			&cli.DurationFlag{Name: "key-lifetime", Value: keyserver.DefaultKeyLifetime, Usage: "a released key is valid for `DURATION`"},
			&cli.DurationFlag{Name: "challenge-ttl", Value: keyserver.DefaultChallengeTTL, Usage: "a challenge may be answered for `DURATION`"},
			&cli.IntFlag{Name: "max-challenges", Value: keyserver.DefaultMaxChallenges, Usage: "at most `N` challenges outstanding"},
			&cli.StringFlag{Name: "audit-log", Usage: "append the audit log (JSON lines) to `FILE`"},
			&cli.StringFlag{Name: "device-rate", Value: keyserver.DefaultDeviceRate.Spec(), Usage: "each device may ask for `N/DURATION` challenges"},
			&cli.IntFlag{Name: "device-burst", Value: keyserver.DefaultDeviceRate.Burst, Usage: "each device may ask for `N` challenges at once"},
			&cli.StringFlag{Name: "global-rate", Value: keyserver.DefaultGlobalRate.Spec(), Usage: "all devices together may send `N/DURATION` requests"},
			&cli.IntFlag{Name: "global-burst", Value: keyserver.DefaultGlobalRate.Burst, Usage: "all devices together may send `N` requests at once"},
		},
		Action: runKeyserver,
	})
}

func runKeyserver(c *cli.Context) error {
	if err := needNoArgs(c); err != nil {
		return err
	}
	name := c.Command.Name
	// On a URL the service reads the store through a live session: every
	// request sees the timestamp.json published now (a revocation takes
	// effect on the next request), and a new one is verified again.
	return readRepo(c, true, func(fs afero.Fs, dir string) error {
		if fi, err := fs.Stat(filepath.Join(dir, repo.MetadataDir)); err != nil || !fi.IsDir() {
			return fmt.Errorf("%s: %s has no %s directory", name, c.String("repo"), repo.MetadataDir)
		}
		return serveKeys(c, fs, dir)
	})
}

// serveKeys runs the key service on the repository dir in fs.
func serveKeys(c *cli.Context, fs afero.Fs, dir string) error {
	name := c.Command.Name
	addr := c.String("listen")
	if c.String("tls-cert") == "" && !server.Loopback(addr) {
		return cliutil.Usagef("%s: --listen %s is not a loopback address: give --tls-cert and --tls-key (devices fetch keys over HTTPS only)", name, addr)
	}
	cfg := keyserver.Config{
		RepoDir: dir, FS: fs, DevicesFile: c.String("devices"), RevokedFile: c.String("revoked"),
		KeyLifetime: c.Duration("key-lifetime"), ChallengeTTL: c.Duration("challenge-ttl"), MaxChallenges: c.Int("max-challenges"),
	}
	if cfg.KeyLifetime <= 0 || cfg.ChallengeTTL <= 0 || cfg.MaxChallenges <= 0 {
		return cliutil.Usagef("%s: --key-lifetime, --challenge-ttl and --max-challenges must be positive", name)
	}
	var err error
	if cfg.DeviceRate, err = keyserver.ParseRate(c.String("device-rate"), c.Int("device-burst")); err != nil {
		return cliutil.Usagef("%s: --device-rate/--device-burst: %v", name, err)
	}
	if cfg.GlobalRate, err = keyserver.ParseRate(c.String("global-rate"), c.Int("global-burst")); err != nil {
		return cliutil.Usagef("%s: --global-rate/--global-burst: %v", name, err)
	}
	if f := c.String("audit-log"); f != "" {
		log, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("%s: audit log: %w", name, err)
		}
		defer log.Close()
		cfg.Audit = log
	}
	if cfg.Keys, err = openContentKeys(c); err != nil {
		return err
	}
	ks, err := keyserver.New(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	loaded, missing, err := ks.Preload()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, v := range missing {
		fmt.Fprintf(c.App.ErrWriter, "mrepo: keyserver: warning: no content key stored for %s (its requests are refused)\n", v)
	}
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	defer signal.Stop(hups)
	ln, scheme, err := listen(c, addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "Key service for %s at %s://%s/ (devices enrolled: %d, versions: %d); Ctrl-C stops\n", c.String("repo"), scheme, ln.Addr(), ks.Enrolled(), loaded)
	reload := func() {
		if err := ks.Reload(); err != nil {
			fmt.Fprintf(c.App.ErrWriter, "mrepo: keyserver: reload: %s (the device sets in use stay)\n", cliutil.OneLine(err))
			return
		}
		fmt.Fprintf(c.App.ErrWriter, "mrepo: keyserver: reloaded: %d devices enrolled\n", ks.Enrolled())
	}
	return runServer(c, ks.HTTPServer(), ln, hups, reload)
}
