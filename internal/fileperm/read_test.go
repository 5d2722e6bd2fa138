package fileperm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadSecret: a secret is read from a regular file that only its
// owner can access, bounded; a link is refused when asked (and followed
// otherwise), and so are a directory, a FIFO, a file others can read and
// one over the bound.
func TestReadSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "pin")
	if err := os.WriteFile(p, []byte("1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadSecret(p, "PIN file", 5, true); err != nil || string(data) != "1234\n" {
		t.Fatalf("ReadSecret = %q, %v", data, err)
	}
	if _, err := ReadSecret(p, "PIN file", 4, false); err == nil || !strings.Contains(err.Error(), "larger than 4 bytes") {
		t.Fatalf("over the bound: %v", err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecret(link, "PIN file", 64, true); err == nil || !strings.Contains(err.Error(), "is a symbolic link") {
		t.Fatalf("link with noFollow: %v", err)
	}
	if _, err := ReadSecret(link, "PIN file", 64, false); err != nil {
		t.Fatalf("link followed: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{dir, fifo} {
		f, err := os.OpenFile(fifo, os.O_RDWR, 0) // a writer, so that opening the FIFO for reading does not block
		if err != nil {
			t.Fatal(err)
		}
		_, err = ReadSecret(bad, "PIN file", 64, true)
		f.Close()
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("%s: %v", bad, err)
		}
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecret(p, "PIN file", 64, true); !errors.Is(err, ErrInsecure) {
		t.Fatalf("mode 0640: %v", err)
	}
}
