package main

// Commands for keys over a repository's life: keygen, rotate, and
// threshold signing of staged metadata by separate holders (stage, sign,
// merge-signatures, publish-staged). See docs/rotation.md.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/internal/fileperm"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/urfave/cli/v2"
)

var (
	roleFlag    = &cli.StringFlag{Name: "role", Usage: "`ROLE`: root, targets, snapshot or timestamp (required)"}
	optKeysFlag = &cli.StringFlag{Name: "keys", Usage: "key `DIR` holding the encrypted private keys to sign with"}
	stagedFlag  = &cli.StringFlag{Name: "staged", Usage: "a staged metadata `FILE` (a copy, e.g. on an air-gapped machine) instead of the repository's"}
)

// maxKeyFile bounds what is read as a key file.
const maxKeyFile = 64 << 10

var keyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func passphrases(c *cli.Context) keys.PassphraseFunc {
	pp := &cliutil.Passphrases{File: c.String(passFlag.Name), EnvVar: passphraseEnv, Stderr: c.App.ErrWriter}
	return pp.Get
}

// optKeyDir is the --keys directory, or nil when not given.
func optKeyDir(c *cli.Context) keys.Keyring {
	if c.String("keys") == "" {
		return nil
	}
	return keyDir(c)
}

func roleArg(c *cli.Context) (string, error) {
	role := c.String("role")
	if err := repo.CheckTopLevelRole(role); err != nil {
		return "", cliutil.Usagef("%s: --role: %v", c.Command.Name, err)
	}
	return role, nil
}

func warn(c *cli.Context, ws []string) {
	for _, w := range ws {
		fmt.Fprintf(c.App.ErrWriter, "mrepo: warning: %s\n", w)
	}
}

// maxStagedFile bounds a staged metadata file to merge (as mrepo bounds
// every metadata read).
const maxStagedFile = 32 << 20

func readLimited(path string) ([]byte, error) { return readBounded(path, maxKeyFile) }

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// readPublicKey reads a public key from a NAME.pub file (a TUF key
// object) or from the clear public part of a NAME.key file.
func readPublicKey(path string) (*metadata.Key, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	if k, err := keys.ParsePublic(data); err == nil {
		return k, nil
	}
	f, err := keys.ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: neither a public key (NAME.pub) nor a key file (NAME.key)", path)
	}
	return f.Public, nil
}

// fileKeyring is a keyring of one encrypted key file, decrypted on first
// use.
type fileKeyring struct {
	f    *keys.File
	pass keys.PassphraseFunc
	key  *keys.Key
}

func openKeyFile(path string, pass keys.PassphraseFunc) (*fileKeyring, error) {
	// A private key others may read or write is refused, as in a key
	// directory (keys.Dir), before it is read.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := fileperm.Secret(fi, path, "private key file"); err != nil {
		return nil, err
	}
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	f, err := keys.ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &fileKeyring{f: f, pass: pass}, nil
}

func (k *fileKeyring) Signer(id string) (signature.Signer, error) {
	if id != k.f.KeyID {
		return nil, fmt.Errorf("key %s: %w", keys.ShortID(id), keys.ErrKeyNotFound)
	}
	if k.key == nil {
		p, err := k.pass(fmt.Sprintf("key %s (%s)", k.f.Name, keys.ShortID(id)), false)
		if err != nil {
			return nil, err
		}
		key, err := k.f.Decrypt(p)
		if err != nil {
			return nil, err
		}
		k.key = key
	}
	return k.key.Signer()
}

func keygenCommand() *cli.Command {
	return command([]string{"keys"}, &cli.Command{
		Name:      "keygen",
		Usage:     "generate one key pair (for rotate --add-key or delegate --key)",
		UsageText: "mrepo keygen --keys DIR [--name NAME] [--key-type ed25519|ecdsa-p256] [--offline] [--json]",
		Description: `Generates one key pair and writes it into the key directory as init does:
NAME.key (the private key encrypted with a passphrase, mode 0600) and NAME.pub
(the public key as a TUF key object, for mrepo rotate --add-key and
mrepo delegate --key). Prints the key ID. The key signs nothing until a
rotation (or delegation) adds it to a role.

NAME defaults to key-<first 8 hex digits of the key ID>. --offline gives the
key the stronger key derivation of root keys (scrypt N=2^17): use it for root
keys and any key that stays offline; online keys (targets, snapshot,
timestamp) use the faster one and normally share the online passphrase.
Refuses to overwrite an existing key file.`,
		Flags: []cli.Flag{keysFlag, passFlag, jsonFlag,
			&cli.StringFlag{Name: "name", Usage: "key `NAME`: the files are NAME.key and NAME.pub"},
			&cli.StringFlag{Name: "key-type", Value: string(keys.Ed25519), Usage: "key algorithm: ed25519 or ecdsa-p256"},
			&cli.BoolFlag{Name: "offline", Usage: "an offline key (root): stronger, slower key derivation"},
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
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

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func printStatus(w io.Writer, s *repo.SignatureStatus) {
	if s != nil && len(s.Groups) > 0 {
		fmt.Fprintln(w, capitalize(s.String()))
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func versionsLine(roles []string, v *repo.Versions) string {
	var parts []string
	for _, r := range roles {
		switch r {
		case metadata.TARGETS:
			parts = append(parts, fmt.Sprintf("targets v%d", v.Targets))
		case metadata.SNAPSHOT:
			parts = append(parts, fmt.Sprintf("snapshot v%d", v.Snapshot))
		case metadata.TIMESTAMP:
			parts = append(parts, fmt.Sprintf("timestamp v%d", v.Timestamp))
		}
	}
	return strings.Join(parts, ", ")
}

func printStaged(c *cli.Context, s *repo.StageResult) {
	w := c.App.Writer
	fmt.Fprintf(w, "Staged %s v%d in %s (not published):\n", s.Role, s.Version, s.File)
	for _, l := range s.Summary[1:] {
		fmt.Fprintln(w, l)
	}
	printStatus(w, s.Signatures)
	fmt.Fprintf(w, "Next: each key holder signs it (mrepo sign --role %s --key KEYFILE, with --repo DIR or --staged COPY);\nthen mrepo publish-staged --repo DIR --role %s --keys DIR.\n", s.Role, s.Role)
}

func rotateCommand() *cli.Command {
	return command([]string{"repo", "role"}, &cli.Command{
		Name:      "rotate",
		Usage:     "change a role's keys or threshold (a new root version)",
		UsageText: "mrepo rotate --repo DIR --role ROLE [--keys DIR] [--add-key PUB]... [--remove-key KEYID]... [--threshold N] [--stage] [--json]",
		Description: `Writes root version N+1: root N with the keys of ROLE changed (--add-key adds
the public key in PUB, a NAME.pub or NAME.key file; --remove-key removes a key
by its ID or a unique prefix of at least 8 hex digits; --threshold sets the
role's threshold) and a fresh root expiry. With no change, root N+1 is a
re-signing of root N (to extend its expiry).

Root N+1 must be signed by a threshold of root N's root keys and by a
threshold of its own. Every root key of either that is in --keys DIR signs it
(each asks for its passphrase). If both thresholds are met, root N+1 is
published and every role it invalidates is re-signed as a new version with
its new keys (targets, then snapshot, then timestamp), which must also be in
--keys DIR; the old keys found there sign too, so that devices accept the new
files before and after they see root N+1. Otherwise (or with --stage) root
N+1 is staged in DIR/staged/root.json for the other holders to sign (mrepo
sign), and mrepo publish-staged publishes it. See docs/rotation.md.`,
		Flags: []cli.Flag{repoFlag, roleFlag, optKeysFlag, passFlag, jsonFlag,
			&cli.StringSliceFlag{Name: "add-key", Usage: "add the public key in `PUB` (NAME.pub or NAME.key) to the role (repeatable)"},
			&cli.StringSliceFlag{Name: "remove-key", Usage: "remove the key `KEYID` (or a unique prefix of 8+ hex digits) from the role (repeatable)"},
			&cli.IntFlag{Name: "threshold", Usage: "the role's new threshold `N` (default: unchanged)"},
			&cli.BoolFlag{Name: "stage", Usage: "only stage root N+1 (signed by the keys at hand), even if they meet the thresholds"},
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			role, err := roleArg(c)
			if err != nil {
				return err
			}
			if c.IsSet("threshold") && c.Int("threshold") < 1 {
				return cliutil.Usagef("rotate: --threshold %d: must be at least 1", c.Int("threshold"))
			}
			opts := repo.RotateOptions{Role: role, RemoveKeys: c.StringSlice("remove-key"), Threshold: c.Int("threshold"), Stage: c.Bool("stage")}
			for _, p := range c.StringSlice("add-key") {
				k, err := readPublicKey(p)
				if err != nil {
					return fmt.Errorf("rotate: --add-key: %w", err)
				}
				opts.AddKeys = append(opts.AddKeys, k)
			}
			r, err := openRepo(c)
			if err != nil {
				return fmt.Errorf("rotate: %w", err)
			}
			res, err := r.Rotate(optKeyDir(c), opts)
			if err != nil {
				return fmt.Errorf("rotate: %w", err)
			}
			warn(c, res.Warnings)
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			w := c.App.Writer
			if len(res.Changes) == 0 {
				fmt.Fprintf(w, "Root v%d: no key changes (root re-signed with a fresh expiry)\n", res.RootVersion)
			} else {
				fmt.Fprintf(w, "Root v%d: %s\n", res.RootVersion, strings.Join(res.Changes, "; "))
			}
			ids := make([]string, len(res.KeyIDs))
			for i, id := range res.KeyIDs {
				ids[i] = keys.ShortID(id)
			}
			fmt.Fprintf(w, "%s keys in root v%d: %s (threshold %d)\n", role, res.RootVersion, strings.Join(ids, ", "), res.Threshold)
			if res.Published {
				printStatus(w, res.Signatures)
				fmt.Fprintf(w, "Published root v%d\n", res.RootVersion)
				if len(res.Resigned) > 0 {
					fmt.Fprintf(w, "Re-signed with the new keys: %s\n", versionsLine(res.Resigned, res.Versions))
				}
				return nil
			}
			printStaged(c, res.Staged)
			return nil
		},
	})
}

func stageCommand() *cli.Command {
	return command([]string{"repo", "role"}, &cli.Command{
		Name:      "stage",
		Usage:     "stage the next version of a role, unsigned, for threshold signing",
		UsageText: "mrepo stage --repo DIR --role ROLE [--json]",
		Description: `Writes the next version of ROLE's metadata, with its current content and a
fresh expiry but no signatures, to DIR/staged/ROLE.json (not published, not
served). For root that is root N+1 with the same keys: the way to extend the
root's expiry. Copy the file to each key holder, who adds a signature with
mrepo sign; merge the copies with mrepo merge-signatures; publish with mrepo
publish-staged once the threshold is met. To change keys, use mrepo rotate.
Refuses if something is already staged for ROLE.`,
		Flags: []cli.Flag{repoFlag, roleFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			role, err := roleArg(c)
			if err != nil {
				return err
			}
			r, err := openRepo(c)
			if err != nil {
				return fmt.Errorf("stage: %w", err)
			}
			res, err := r.Stage(role)
			if err != nil {
				return fmt.Errorf("stage: %w", err)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			printStaged(c, res)
			return nil
		},
	})
}

// stagedTarget checks that exactly one of --repo and --staged is given.
func stagedTarget(c *cli.Context) error {
	if (c.String("repo") == "") == (c.String("staged") == "") {
		return cliutil.Usagef("%s: give exactly one of --repo DIR and --staged FILE (see mrepo %s --help)", c.Command.Name, c.Command.Name)
	}
	return nil
}

func signCommand() *cli.Command {
	return command([]string{"role"}, &cli.Command{
		Name:      "sign",
		Usage:     "add a key holder's signature to staged metadata",
		UsageText: "mrepo sign --role ROLE (--key KEYFILE | --keys DIR) (--repo DIR | --staged FILE) [--json]",
		Description: `Signs the staged version of ROLE (DIR/staged/ROLE.json, or a copy given with
--staged) with the key in KEYFILE, or with every key in --keys DIR that may
sign it, and writes the file back with the signature added (an older
signature by the same key is replaced). Needs nothing but the staged file and
the key: run it on an air-gapped machine.

Before asking for the passphrase, prints what is being signed: the version,
the expiry and, for a root, every role's keys and threshold (and, with
--repo, the changes from the current root). Check them against what was
agreed. With --repo the key must be one that counts (a root key of the
current or the staged root; for other roles a key of the role), and the
thresholds still unmet are printed.`,
		Flags: []cli.Flag{roleFlag, repoFlag, stagedFlag, passFlag, jsonFlag,
			&cli.StringFlag{Name: "key", Usage: "sign with the key in `KEYFILE` (NAME.key)"},
			optKeysFlag,
		},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			role, err := roleArg(c)
			if err != nil {
				return err
			}
			if err := stagedTarget(c); err != nil {
				return err
			}
			if (c.String("key") == "") == (c.String("keys") == "") {
				return cliutil.Usagef("sign: give exactly one of --key KEYFILE and --keys DIR (see mrepo sign --help)")
			}
			var kr keys.Keyring
			var opts repo.SignOptions
			names := map[string]string{}
			if p := c.String("key"); p != "" {
				fk, err := openKeyFile(p, passphrases(c))
				if err != nil {
					return fmt.Errorf("sign: %w", err)
				}
				kr, opts.KeyIDs = fk, []string{fk.f.KeyID}
				names[fk.f.KeyID] = fk.f.Name
			} else {
				kd := keyDir(c)
				if list, err := kd.List(); err == nil {
					for _, f := range list {
						names[f.KeyID] = f.Name
					}
				}
				kr = kd
			}
			quiet := c.Bool("json")
			opts.Describe = func(summary []string) {
				if quiet {
					return
				}
				fmt.Fprintf(c.App.Writer, "Signing %s:\n", summary[0])
				for _, l := range summary[1:] {
					fmt.Fprintln(c.App.Writer, l)
				}
			}
			var res *repo.SignResult
			if c.String("repo") != "" {
				r, err := openRepo(c)
				if err != nil {
					return fmt.Errorf("sign: %w", err)
				}
				res, err = r.SignStaged(role, kr, opts)
				if err != nil {
					return fmt.Errorf("sign: %w", err)
				}
			} else {
				res, err = repo.SignStagedFile(afero.NewOsFs(), c.String("staged"), role, kr, opts)
				if err != nil {
					return fmt.Errorf("sign: %w", err)
				}
			}
			warn(c, res.Warnings)
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			w := c.App.Writer
			for _, id := range res.Signed {
				if names[id] == "" {
					fmt.Fprintf(w, "Signed %s v%d with key %s\n", res.Role, res.Version, keys.ShortID(id))
				} else {
					fmt.Fprintf(w, "Signed %s v%d with key %s (%s)\n", res.Role, res.Version, names[id], keys.ShortID(id))
				}
			}
			fmt.Fprintf(w, "Wrote %s\n", res.File)
			printStatus(w, res.Signatures)
			return nil
		},
	})
}

func mergeSignaturesCommand() *cli.Command {
	return command([]string{"role"}, &cli.Command{
		Name:      "merge-signatures",
		Usage:     "merge the signatures of signed copies of staged metadata",
		UsageText: "mrepo merge-signatures --role ROLE (--repo DIR | --staged FILE) [--json] COPY...",
		Description: `Adds to the staged version of ROLE (DIR/staged/ROLE.json, or --staged FILE)
the signatures found in each COPY, a copy of the same staged file that one or
more holders signed. Signatures are merged by key ID. Refuses a COPY that
stages other content (a different version, expiry or keys) and a signature
that does not verify; with --repo, drops (with a warning) signatures by keys
that do not count for ROLE. Prints the thresholds still unmet.`,
		Flags: []cli.Flag{roleFlag, repoFlag, stagedFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			role, err := roleArg(c)
			if err != nil {
				return err
			}
			if err := stagedTarget(c); err != nil {
				return err
			}
			if c.Args().Len() == 0 {
				return cliutil.Usagef("merge-signatures: expected one or more COPY files (see mrepo merge-signatures --help)")
			}
			others := map[string][]byte{}
			for _, p := range c.Args().Slice() {
				data, err := readBounded(p, maxStagedFile)
				if err != nil {
					return fmt.Errorf("merge-signatures: %w", err)
				}
				others[p] = data
			}
			var res *repo.MergeResult
			if c.String("repo") != "" {
				r, err := openRepo(c)
				if err != nil {
					return fmt.Errorf("merge-signatures: %w", err)
				}
				res, err = r.MergeSignatures(role, others)
				if err != nil {
					return fmt.Errorf("merge-signatures: %w", err)
				}
			} else {
				res, err = repo.MergeSignaturesFile(afero.NewOsFs(), c.String("staged"), role, others)
				if err != nil {
					return fmt.Errorf("merge-signatures: %w", err)
				}
			}
			warn(c, res.Warnings)
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			w := c.App.Writer
			ids := make([]string, len(res.Added))
			for i, id := range res.Added {
				ids[i] = keys.ShortID(id)
			}
			if len(ids) == 0 {
				fmt.Fprintf(w, "No new signatures for %s v%d in %s\n", res.Role, res.Version, res.File)
			} else {
				fmt.Fprintf(w, "Merged into %s: signatures by %s\n", res.File, strings.Join(ids, ", "))
			}
			printStatus(w, res.Signatures)
			return nil
		},
	})
}

func publishStagedCommand() *cli.Command {
	return command([]string{"repo", "role"}, &cli.Command{
		Name:      "publish-staged",
		Usage:     "publish staged metadata once its signatures meet the threshold",
		UsageText: "mrepo publish-staged --repo DIR --role ROLE [--keys DIR] [--json]",
		Description: `Publishes DIR/staged/ROLE.json if its signatures meet every threshold that
applies (for root N+1: a threshold of root N's root keys and of its own);
otherwise fails, naming the keys whose signatures are missing, and changes
nothing. Publishing a root re-signs, as new versions, the roles whose keys it
changed and those above them (their new keys must be in --keys DIR);
publishing staged targets or snapshot re-signs snapshot and timestamp with
the online keys in --keys DIR. The staged file is removed afterwards.

If a root publication was interrupted (a crash, a full disk), running the
same command again completes it.`,
		Flags: []cli.Flag{repoFlag, roleFlag, optKeysFlag, passFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			if err := needNoArgs(c); err != nil {
				return err
			}
			role, err := roleArg(c)
			if err != nil {
				return err
			}
			r, err := openRepo(c)
			if err != nil {
				return fmt.Errorf("publish-staged: %w", err)
			}
			res, err := r.PublishStaged(role, optKeyDir(c))
			if err != nil {
				return fmt.Errorf("publish-staged: %w", err)
			}
			warn(c, res.Warnings)
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			w := c.App.Writer
			if res.Resumed {
				fmt.Fprintf(w, "Root v%d was already published; completed its publication\n", res.Version)
			} else {
				printStatus(w, res.Signatures)
				fmt.Fprintf(w, "Published %s v%d\n", res.Role, res.Version)
			}
			if len(res.Resigned) > 0 {
				label := "Re-signed"
				if role == metadata.ROOT {
					label = "Re-signed with the new keys"
				}
				fmt.Fprintf(w, "%s: %s\n", label, versionsLine(res.Resigned, res.Versions))
			}
			return nil
		},
	})
}

// stagedLines formats staged metadata for mrepo status.
func stagedLines(ss []repo.StagedInfo) []string {
	var out []string
	for _, s := range ss {
		line := fmt.Sprintf("staged %s", s.Role)
		if s.Version > 0 {
			line += fmt.Sprintf(" v%d (expires %s)", s.Version, s.Expires.UTC().Format(targets.TimeFormat))
		}
		switch {
		case s.Problem != "":
			line += ": " + s.Problem
		case s.Signatures != nil:
			line += ": " + s.Signatures.String()
		}
		out = append(out, line)
	}
	return out
}
