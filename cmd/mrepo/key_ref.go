package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/urfave/cli/v2"
)

func keyRefCommand() *cli.Command {
	return cliutil.Group("mrepo", &cli.Command{
		Name:      "key-ref",
		Usage:     "use keys held in a PKCS#11 token (HSM) or a cloud KMS",
		UsageText: "mrepo key-ref add --keys DIR --name NAME --ref REF [--generate --key-type T] [--json]\nmrepo key-ref list --keys DIR [--json]",
		Description: `A key reference names a private key that stays in its backend: a PKCS#11
token (an HSM, a smart card, SoftHSM2) or AWS KMS. "key-ref add" connects
to the backend, reads the public key (never the private key), and writes
NAME.pub (the TUF public key) and NAME.ref (the reference, which holds no
secret) into the key directory. From then on every command that signs with
that key ID (add-target, timestamp, snapshot, targets, ...) signs through
the backend; nothing else changes. See docs/key-backends.md.

References:
  pkcs11:token=LABEL;object=KEYLABEL?module-path=/path/module.so&pin-source=file:/path/pin
  awskms:///alias/NAME   (also awskms:///KEY-ID, ARNs, awskms://HOST:PORT/...)
  file:PATH              (an encrypted key file outside the key directory)

The PKCS#11 user PIN comes from the reference's pin-source file, else the
EDGETUF_PKCS11_PIN environment variable, else a terminal prompt. AWS
credentials, region and endpoint come from the AWS SDK's usual sources
(AWS_ACCESS_KEY_ID, AWS_PROFILE, an instance role; AWS_REGION;
AWS_ENDPOINT_URL_KMS).`,
		Subcommands: []*cli.Command{keyRefAddCommand(), keyRefListCommand()},
	})
}

// keyRefSubcommand sets up a subcommand of `mrepo key-ref` (no
// arguments).
func keyRefSubcommand(required []string, cmd *cli.Command) *cli.Command {
	return cliutil.Subcommand("mrepo", "key-ref", required, nil, cmd)
}

type keyRefResult struct {
	Name        string `json:"name"`
	Ref         string `json:"ref"`
	Backend     string `json:"backend"`
	KeyID       string `json:"keyid"`
	KeyType     string `json:"keytype"`
	Scheme      string `json:"scheme"`
	Generated   bool   `json:"generated"`
	Extractable *bool  `json:"extractable,omitempty"`
	PubFile     string `json:"pub_file"`
}

func keyRefAddCommand() *cli.Command {
	return keyRefSubcommand([]string{"keys", "name", "ref"}, &cli.Command{
		Name:      "add",
		Usage:     "register a key held in a PKCS#11 token or a KMS",
		UsageText: "mrepo key-ref add --keys DIR --name NAME --ref REF [--generate --key-type ed25519|ecdsa-p256] [--json]",
		Description: `Connects to the backend named by --ref, reads the key's public key, and
writes NAME.pub and NAME.ref into --keys. Prints the TUF key ID. With
--generate, first creates the key in the backend: in a PKCS#11 token as a
non-extractable, sensitive key pair (CKA_EXTRACTABLE false, CKA_SENSITIVE
true) labelled with the reference's object=; in AWS KMS as an
ECC_NIST_P256 signing key with the reference's alias. --generate refuses a
key that exists.

Refuses to overwrite NAME.key, NAME.pub or NAME.ref. Warns when a PKCS#11
private key is extractable.

To make the key sign for a role, add NAME.pub to the role in root (see
docs/key-backends.md).`,
		Flags: []cli.Flag{
			keysFlag,
			&cli.StringFlag{Name: "name", Usage: "key `NAME`: the files are NAME.pub and NAME.ref (required)"},
			&cli.StringFlag{Name: "ref", Usage: "key reference `REF`: pkcs11:..., awskms://... or file:PATH (required)"},
			&cli.BoolFlag{Name: "generate", Usage: "create the key in the token or KMS first"},
			&cli.StringFlag{Name: "key-type", Value: string(keys.Ed25519), Usage: "with --generate: ed25519 or ecdsa-p256 (AWS KMS: ecdsa-p256 only)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			ref, err := keys.ParseRef(c.String("ref"))
			if err != nil {
				return cliutil.Usagef("key-ref add: --ref: %v", err)
			}
			var gen keys.Type
			if c.Bool("generate") {
				if gen, err = keys.ParseType(c.String("key-type")); err != nil {
					return cliutil.Usagef("key-ref add: --key-type: %v", err)
				}
				if ref.Backend == keys.BackendAWSKMS && !c.IsSet("key-type") {
					gen = keys.ECDSAP256
				}
			} else if c.IsSet("key-type") {
				return cliutil.Usagef("key-ref add: --key-type goes with --generate (an existing key has its own type)")
			}
			kd := keyDir(c)
			k, err := kd.AddRef(c.String("name"), ref, gen)
			if err != nil {
				return err
			}
			res := keyRefResult{
				Name: c.String("name"), Ref: ref.Raw, Backend: ref.Backend, KeyID: k.ID(),
				KeyType: k.Public.Type, Scheme: k.Public.Scheme, Generated: gen != "", Extractable: k.Extractable,
				PubFile: kd.Path + string(os.PathSeparator) + c.String("name") + keys.PubSuffix,
			}
			if res.Extractable != nil && *res.Extractable {
				fmt.Fprintf(c.App.ErrWriter, "mrepo: warning: the private key of %s can leave its token (CKA_EXTRACTABLE or not CKA_SENSITIVE)\n", res.Name)
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, res)
			}
			verb := "Registered"
			if res.Generated {
				verb = "Generated and registered"
			}
			fmt.Fprintf(c.App.Writer, "%s %s (%s, %s) -> %s\n", verb, res.Name, res.KeyType, res.Backend, res.Ref)
			fmt.Fprintf(c.App.Writer, "Key ID: %s\n", res.KeyID)
			fmt.Fprintf(c.App.Writer, "Public key: %s\n", res.PubFile)
			return nil
		},
	})
}

func keyRefListCommand() *cli.Command {
	return keyRefSubcommand([]string{"keys"}, &cli.Command{
		Name:      "list",
		Usage:     "list the key references of a key directory",
		UsageText: "mrepo key-ref list --keys DIR [--json]",
		Description: `Lists NAME.ref files with their backend, key type and key ID (from
NAME.pub). Reads only the key directory: no backend is contacted.`,
		Flags: []cli.Flag{keysFlag, jsonFlag},
		Action: func(c *cli.Context) error {
			refs, err := keyDir(c).Refs()
			if err != nil {
				return err
			}
			if refs == nil {
				refs = []keys.RefInfo{}
			}
			if c.Bool("json") {
				return cliutil.WriteJSON(c.App.Writer, refs)
			}
			if len(refs) == 0 {
				fmt.Fprintln(c.App.Writer, "No key references.")
				return nil
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tBACKEND\tTYPE\tKEY ID\tREFERENCE")
			for _, r := range refs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Backend, r.KeyType, r.KeyID, strings.TrimSpace(r.Ref))
			}
			return tw.Flush()
		},
	})
}
