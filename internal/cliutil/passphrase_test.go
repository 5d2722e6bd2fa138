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
