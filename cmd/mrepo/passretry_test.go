package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/cliutil"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/spf13/afero"
)

// typist is a terminal whose person types answers, one per prompt.
type typist struct {
	answers []string
	prompts int
	said    []string
}

func (f *typist) ReadPassword(string) ([]byte, error) {
	f.prompts++
	if len(f.answers) == 0 {
		return nil, errors.New("EOF")
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return []byte(a), nil
}

func (f *typist) Say(line string) { f.said = append(f.said, line) }

// keyDirWith writes one online key, encrypted with pass, to a new key
// directory.
func keyDirWith(t *testing.T, pass string) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	k, err := keys.Generate("targets", keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&keys.Dir{FS: afero.NewOsFs(), Path: dir}).Write(k, []byte(pass)); err != nil {
		t.Fatal(err)
	}
	return dir, k.ID()
}

// TestSigningRetriesWrongPassphrase: at signing time, a wrong passphrase
// typed on a terminal is asked again (the terminal says so), and the
// right one then signs; three wrong ones fail with one line. From the
// environment (or a file) a wrong passphrase fails at once, naming its
// source, without a prompt.
func TestSigningRetriesWrongPassphrase(t *testing.T) {
	dir, id := keyDirWith(t, "right")
	tty := &typist{answers: []string{"wrong", "right"}}
	kd := newKeyDirectory(dir, &cliutil.Passphrases{EnvVar: "EDGETUF_TEST_UNSET_PASSPHRASE", TTY: tty})
	if _, err := kd.Signer(id); err != nil {
		t.Fatalf("wrong then right: %v", err)
	}
	if tty.prompts != 2 || len(tty.said) != 1 || !strings.HasSuffix(tty.said[0], ": wrong passphrase; try again (2 of 3).") {
		t.Fatalf("prompts %d, said %q", tty.prompts, tty.said)
	}

	tty = &typist{answers: []string{"a", "b", "c", "right"}}
	kd = newKeyDirectory(dir, &cliutil.Passphrases{EnvVar: "EDGETUF_TEST_UNSET_PASSPHRASE", TTY: tty})
	_, err := kd.Signer(id)
	if !errors.Is(err, keys.ErrWrongPassphrase) || !strings.HasSuffix(err.Error(), "): wrong passphrase (3 tries)") || tty.prompts != 3 {
		t.Fatalf("three wrong: %v, prompts %d", err, tty.prompts)
	}

	t.Setenv("EDGETUF_TEST_PASSPHRASE", "wrong")
	tty = &typist{answers: []string{"right"}}
	kd = newKeyDirectory(dir, &cliutil.Passphrases{EnvVar: "EDGETUF_TEST_PASSPHRASE", TTY: tty})
	_, err = kd.Signer(id)
	if !errors.Is(err, keys.ErrWrongPassphrase) || !strings.HasSuffix(err.Error(), "): wrong passphrase (from EDGETUF_TEST_PASSPHRASE)") || tty.prompts != 0 {
		t.Fatalf("environment: %v, prompts %d", err, tty.prompts)
	}
}
