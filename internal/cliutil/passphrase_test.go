package cliutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/fileperm"
)

// TestPassphraseFilePermissions: a --passphrase-file that group or others
// may read or write is refused before it is read, naming the file, its
// mode and the chmod that fixes it, as ssh refuses an unprotected private
// key. (The check reads the mode bits, so it holds when tests run as
// root.)
func TestPassphraseFilePermissions(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "pass.txt")
	if err := os.WriteFile(p, []byte("secret\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pp := &Passphrases{File: p, EnvVar: "EDGETUF_TEST_UNSET_PASSPHRASE"}
	for _, m := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o606} {
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
		_, err := pp.Get("online keys", false)
		if !errors.Is(err, fileperm.ErrInsecure) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "chmod 600 "+p) {
			t.Fatalf("mode %04o: %v", m, err)
		}
	}
	for _, m := range []os.FileMode{0o600, 0o400} {
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
		got, err := pp.Get("online keys", false)
		if err != nil || string(got) != "secret" {
			t.Fatalf("mode %04o: %q, %v", m, got, err)
		}
	}
	// Only the first line is used, and it is read with a bound.
	long := filepath.Join(t.TempDir(), "long.txt")
	if err := os.WriteFile(long, []byte(strings.Repeat("x", 100<<10)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Passphrases{File: long}).Get("k", false); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("a first line of 100 KiB: %v", err)
	}
}

// fakeTTY is a terminal whose person types answers, one per prompt.
type fakeTTY struct {
	answers []string
	prompts []string
	said    []string
}

func (f *fakeTTY) ReadPassword(prompt string) ([]byte, error) {
	f.prompts = append(f.prompts, prompt)
	if len(f.answers) == 0 {
		return nil, errors.New("EOF")
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	return []byte(a), nil
}

func (f *fakeTTY) Say(line string) { f.said = append(f.said, line) }

// TestNewPassphraseRetries: a new passphrase whose confirmation has a typo
// is asked again, up to three times; the third mismatch is a one-line
// error naming what the passphrase was for.
func TestNewPassphraseRetries(t *testing.T) {
	t.Parallel()
	tty := &fakeTTY{answers: []string{"secret", "secert", "secret", "secret"}}
	pp := &Passphrases{EnvVar: "EDGETUF_TEST_UNSET_PASSPHRASE", TTY: tty}
	got, err := pp.Get("online keys", true)
	if err != nil || string(got) != "secret" {
		t.Fatalf("typo then match: %q, %v", got, err)
	}
	if len(tty.prompts) != 4 || tty.prompts[0] != "Passphrase for online keys" || tty.prompts[1] != "Repeat passphrase for online keys" ||
		len(tty.said) != 1 || tty.said[0] != "Passphrases do not match; try again (2 of 3)." {
		t.Fatalf("prompts %q, said %q", tty.prompts, tty.said)
	}

	tty = &fakeTTY{answers: []string{"a", "b", "a", "c", "a", "d", "a", "a"}}
	pp = &Passphrases{EnvVar: "EDGETUF_TEST_UNSET_PASSPHRASE", TTY: tty}
	_, err = pp.Get("root key root-1 (1 of 3)", true)
	if err == nil || err.Error() != "passphrases for root key root-1 (1 of 3) do not match (3 tries)" || len(tty.prompts) != 6 || len(tty.answers) != 2 {
		t.Fatalf("three mismatches: %v; prompts %q", err, tty.prompts)
	}

	// An existing key's passphrase is asked once.
	tty = &fakeTTY{answers: []string{"secret"}}
	pp = &Passphrases{EnvVar: "EDGETUF_TEST_UNSET_PASSPHRASE", TTY: tty}
	if got, err := pp.Get("key targets", false); err != nil || string(got) != "secret" || len(tty.prompts) != 1 {
		t.Fatalf("%q, %v, %q", got, err, tty.prompts)
	}
}

// TestWrongPassphrase: a wrong passphrase typed on a terminal may be
// typed again (the terminal says so) until the third try; one from a file
// or the environment fails at once, naming where it came from.
func TestWrongPassphrase(t *testing.T) {
	wrong := errors.New("key targets (0123abcd): wrong passphrase")
	tty := &fakeTTY{}
	pp := &Passphrases{EnvVar: "EDGETUF_TEST_UNSET_PASSPHRASE", TTY: tty}
	if !pp.Interactive() {
		t.Fatal("a terminal is interactive")
	}
	for try := 1; try < PassphraseTries; try++ {
		if err := pp.Wrong(wrong, try); err != nil {
			t.Fatalf("try %d: %v", try, err)
		}
	}
	if err := pp.Wrong(wrong, PassphraseTries); !errors.Is(err, wrong) || err.Error() != "key targets (0123abcd): wrong passphrase (3 tries)" {
		t.Fatalf("last try: %v", err)
	}
	if want := []string{"key targets (0123abcd): wrong passphrase; try again (2 of 3).", "key targets (0123abcd): wrong passphrase; try again (3 of 3)."}; strings.Join(tty.said, "|") != strings.Join(want, "|") {
		t.Fatalf("said %q", tty.said)
	}

	tty = &fakeTTY{}
	pp = &Passphrases{File: "pass.txt", EnvVar: "EDGETUF_TEST_UNSET_PASSPHRASE", TTY: tty}
	if pp.Interactive() {
		t.Fatal("a file is not interactive")
	}
	if err := pp.Wrong(wrong, 1); !errors.Is(err, wrong) || err.Error() != "key targets (0123abcd): wrong passphrase (from --passphrase-file pass.txt)" || len(tty.said) != 0 {
		t.Fatalf("file: %v, said %q", err, tty.said)
	}
	t.Setenv("EDGETUF_TEST_SET_PASSPHRASE", "wrong")
	pp = &Passphrases{EnvVar: "EDGETUF_TEST_SET_PASSPHRASE", TTY: tty}
	if err := pp.Wrong(wrong, 1); !errors.Is(err, wrong) || err.Error() != "key targets (0123abcd): wrong passphrase (from EDGETUF_TEST_SET_PASSPHRASE)" || len(tty.said) != 0 {
		t.Fatalf("environment: %v, said %q", err, tty.said)
	}
}
