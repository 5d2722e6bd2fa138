package fileperm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		mode                os.FileMode
		secretOK, trustedOK bool
	}{
		{0o600, true, true}, {0o400, true, true}, {0o640, false, true}, {0o644, false, true},
		{0o604, false, true}, {0o620, false, false}, {0o602, false, false}, {0o666, false, false},
	} {
		p := filepath.Join(dir, "f")
		os.WriteFile(p, nil, 0o600)
		if err := os.Chmod(p, c.mode); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		err = Secret(fi, p, "private key")
		if (err == nil) != c.secretOK || (err != nil && (!errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), "chmod 600 "+p))) {
			t.Errorf("Secret %04o: %v", c.mode, err)
		}
		err = NotWritable(fi, p, "public key")
		if (err == nil) != c.trustedOK || (err != nil && !strings.Contains(err.Error(), "chmod go-w "+p)) {
			t.Errorf("NotWritable %04o: %v", c.mode, err)
		}
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	fi, _ := os.Stat(dir)
	if err := NotWritable(fi, dir, "key directory"); err == nil || !strings.Contains(err.Error(), "mode 0777") || !strings.Contains(err.Error(), "chmod 700 "+dir) {
		t.Fatalf("world-writable directory: %v", err)
	}
}
