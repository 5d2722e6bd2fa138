// The content key store (package contentkeys) as mrepo commands open it:
// under --keys, with the passphrase from --content-passphrase-file,
// $MREPO_CONTENT_PASSPHRASE or a terminal prompt (never a flag value).

package main

import (
	"github.com/edgetuf/edgetuf/contentkeys"
	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/release"
	"github.com/urfave/cli/v2"
)

// contentPassphraseEnv gives the content key passphrase when no file does.
const contentPassphraseEnv = "MREPO_CONTENT_PASSPHRASE"

var contentPassFlag = &cli.StringFlag{Name: "content-passphrase-file", Usage: "read the content key passphrase from the first line of `FILE` (default: $" + contentPassphraseEnv + ", else a terminal prompt)"}

// contentKeyStore returns a function that opens the content key store
// under --keys, asking for its passphrase when first called; confirm asks
// twice on a terminal (a new key is about to be stored under it).
func contentKeyStore(c *cli.Context, confirm bool) func() (release.KeyStore, error) {
	pp := &cliutil.Passphrases{File: c.String(contentPassFlag.Name), EnvVar: contentPassphraseEnv, Stderr: c.App.ErrWriter}
	return func() (release.KeyStore, error) {
		pass, err := pp.Get("content keys", confirm)
		if err != nil {
			return nil, err
		}
		s, err := contentkeys.Open(c.String(keysFlag.Name), string(pass))
		if err != nil {
			return nil, err // not a nil *Store in a non-nil interface
		}
		return s, nil
	}
}
