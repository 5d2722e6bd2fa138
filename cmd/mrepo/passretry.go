package main

import (
	"errors"
	"sync"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/afero"
	"github.com/urfave/cli/v2"
)

// passphraseSource is where the command's key passphrases come from:
// --passphrase-file, else $MREPO_PASSPHRASE, else the terminal.
func passphraseSource(c *cli.Context) *cliutil.Passphrases {
	return &cliutil.Passphrases{File: c.String(passFlag.Name), EnvVar: passphraseEnv, Stderr: c.App.ErrWriter}
}

// keyDirectory is the --keys directory, whose signing asks again for a
// passphrase typed wrong on a terminal (retryKeyring).
type keyDirectory struct {
	*keys.Dir
	retry *retryKeyring
}

func newKeyDirectory(path string, pp *cliutil.Passphrases) *keyDirectory {
	d := &keys.Dir{FS: afero.NewOsFs(), Path: path, Passphrase: pp.Get, PIN: cliutil.PINPrompt}
	// Cached: a publication run again after a conflict (--repo URL)
	// does not decrypt its keys again.
	return &keyDirectory{Dir: d, retry: &retryKeyring{kr: keys.NewCache(d), pp: pp}}
}

// Signer implements keys.Keyring, with retries.
func (d *keyDirectory) Signer(keyID string) (signature.Signer, error) {
	return d.retry.Signer(keyID)
}

// retryKeyring is a keyring whose keys decrypt with passphrases from pp:
// a wrong one typed on a terminal is asked for again, up to
// cliutil.PassphraseTries times; one from a file or the environment
// fails at once, naming its source (cliutil.Passphrases.Wrong). The
// retries stay here, in the command: package keys never prompts.
type retryKeyring struct {
	kr keys.Keyring
	pp *cliutil.Passphrases
	mu sync.Mutex // one key asked for again at a time
}

func (r *retryKeyring) Signer(keyID string) (signature.Signer, error) {
	s, err := r.kr.Signer(keyID)
	if !errors.Is(err, keys.ErrWrongPassphrase) {
		return s, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for try := 1; ; try++ {
		if werr := r.pp.Wrong(err, try); werr != nil {
			return nil, werr
		}
		if s, err = r.kr.Signer(keyID); !errors.Is(err, keys.ErrWrongPassphrase) {
			return s, err
		}
	}
}
