package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/urfave/cli/v2"
)

func keygenCommand() *cli.Command {
	return command([]string{"keys"}, &cli.Command{
		Name:      "keygen",
		Usage:     "generate one key pair (for rotate --add-key or delegate --key)",
		UsageText: "mrepo keygen --keys DIR [--name NAME] [--key-type ed25519|ecdsa-p256] [--offline] [--json]\n   mrepo keygen --keys DIR --name NAME --reencrypt [--offline] [--new-passphrase] [--new-passphrase-file FILE]",
		Description: `Generates one key pair and writes it into the key directory as init does:
NAME.key (the private key encrypted with a passphrase, mode 0600) and NAME.pub
(the public key as a TUF key object, for mrepo rotate --add-key and
mrepo delegate --key). Prints the key ID. The key signs nothing until a
rotation (or delegation) adds it to a role.

NAME defaults to key-<first 8 hex digits of the key ID>. --offline gives the
key the stronger key derivation of root keys (scrypt N=2^17): use it for root
keys and any key that stays offline; online keys (targets, snapshot,
timestamp) use the faster one and normally share the online passphrase.
Refuses to overwrite an existing key file.

--reencrypt writes NAME.key again with today's key derivation, same key (online
keys before 2026-12: scrypt N=2^15, 32 MiB; now N=2^13 r=8 p=10, 8 MiB); with
--new-passphrase, a new passphrase from --new-passphrase-file, else
$MREPO_NEW_PASSPHRASE, else the terminal.`,
		Flags: []cli.Flag{keysFlag, passFlag, jsonFlag,
			&cli.StringFlag{Name: "name", Usage: "key `NAME`: the files are NAME.key and NAME.pub"},
			&cli.StringFlag{Name: "key-type", Value: string(keys.Ed25519), Usage: "key algorithm: ed25519 or ecdsa-p256"},
			&cli.BoolFlag{Name: "offline", Usage: "an offline key (root): stronger, slower key derivation"},
			&cli.BoolFlag{Name: "reencrypt", Usage: "encrypt the existing key NAME again with today's key derivation"},
			&cli.BoolFlag{Name: "new-passphrase", Usage: "with --reencrypt: give the key a new passphrase"},
			&cli.StringFlag{Name: "new-passphrase-file", Usage: "with --reencrypt: the new passphrase is the first line of `FILE`"},
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			if c.Bool("reencrypt") {
				return reencrypt(c)
			}
			kt, err := keys.ParseType(c.String("key-type"))
			if err != nil {
				return cliutil.Usagef("keygen: --key-type: %v", err)
			}
			name := c.String("name")
			if name != "" && !keyName.MatchString(name) {
				return cliutil.Usagef("keygen: --name %q: use 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit", name)
			}
			k, err := keys.Generate(name, kt)
			if err != nil {
				return fmt.Errorf("keygen: %w", err)
			}
			if name == "" {
				name = "key-" + keys.ShortID(k.ID())
				k.Name = name
			}
			k.Offline = c.Bool("offline")
			kd := keyDir(c)
			for _, suffix := range []string{keys.KeySuffix, keys.PubSuffix} {
				if p := filepath.Join(kd.Path, name+suffix); fileExists(p) {
					return fmt.Errorf("keygen: %s already exists: refusing to overwrite a key", p)
				}
			}
			pass, err := kd.Passphrase("new key "+name, true)
			if err != nil {
				return fmt.Errorf("keygen: %w", err)
			}
			if err := kd.Write(k, pass); err != nil {
				return fmt.Errorf("keygen: %w", err)
			}
			priv, pub := filepath.Join(kd.Path, name+keys.KeySuffix), filepath.Join(kd.Path, name+keys.PubSuffix)
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, map[string]any{"name": name, "keyid": k.ID(), "key_type": kt, "offline": k.Offline, "private_key": priv, "public_key": pub})
			}
			w := c.App.Writer
			fmt.Fprintf(w, "Generated %s key %s: %s\n", kt, name, k.ID())
			fmt.Fprintf(w, "  private key: %s (encrypted, mode 0600)\n", priv)
			fmt.Fprintf(w, "  public key:  %s (for mrepo rotate --add-key)\n", pub)
			return nil
		},
	})
}

// reencrypt is keygen --reencrypt (keys.Dir.Reencrypt).
func reencrypt(c *cli.Context) error {
	if !keyName.MatchString(c.String("name")) {
		return cliutil.Usagef("keygen: --reencrypt needs the --name of a key in the key directory")
	}
	var newPass keys.PassphraseFunc
	if c.Bool("new-passphrase") || c.IsSet("new-passphrase-file") {
		newPass = (&cliutil.Passphrases{File: c.String("new-passphrase-file"), EnvVar: "MREPO_NEW_PASSPHRASE", Stderr: c.App.ErrWriter}).Get
	}
	k, err := keyDir(c).Reencrypt(c.String("name"), newPass, c.Bool("offline"))
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "Re-encrypted key %s: %s\n", k.Name, k.ID())
	return nil
}

var keyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
