package keys

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fileKeyPath writes the fixture key file of typ to a temporary
// NAME.key with the given mode and returns its path.
func fileKeyPath(t *testing.T, typ Type, mode os.FileMode) (string, *Key) {
	t.Helper()
	ks, files := fixtures(t)
	p := filepath.Join(t.TempDir(), "holder"+KeySuffix)
	if err := os.WriteFile(p, files[typ], 0o600); err != nil {
		t.Fatal(err)
	}
	chmod(t, p, mode)
	return p, ks[typ]
}

// countingPassphrase returns the test passphrase (or, for the first
// wrong calls, a wrong one), counting the calls and recording the
// purposes asked for.
type countingPassphrase struct {
	mu       sync.Mutex
	calls    int
	wrong    int
	delay    time.Duration
	purposes []string
}

func (c *countingPassphrase) get(purpose string, confirm bool) ([]byte, error) {
	time.Sleep(c.delay) // widens the window in which a racing caller would ask too
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.purposes = append(c.purposes, purpose)
	if confirm {
		return nil, errors.New("an existing key's passphrase is never confirmed")
	}
	if c.calls <= c.wrong {
		return []byte("not-the-passphrase"), nil
	}
	return testPassphrase, nil
}

// TestFileKeyringSigns: the file's key ID and name are known without the
// passphrase, which is asked for once, on first use, naming the key; the
// signer signs with the file's key.
func TestFileKeyringSigns(t *testing.T) {
	t.Parallel()
	for _, typ := range []Type{Ed25519, ECDSAP256} {
		p, k := fileKeyPath(t, typ, 0o600)
		pp := &countingPassphrase{}
		fk, err := OpenKeyFile(p, pp.get)
		if err != nil {
			t.Fatal(err)
		}
		if fk.KeyID() != k.ID() || fk.Name() != k.Name {
			t.Fatalf("%s: KeyID %s, Name %q; want %s, %q", typ, fk.KeyID(), fk.Name(), k.ID(), k.Name)
		}
		if pp.calls != 0 {
			t.Fatalf("%s: passphrase asked for %d times by OpenKeyFile, want 0", typ, pp.calls)
		}
		for i := range 2 {
			s, err := fk.Signer(k.ID())
			if err != nil {
				t.Fatal(err)
			}
			payload := fmt.Appendf(nil, "payload %d", i)
			sig, err := s.SignMessage(bytes.NewReader(payload))
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(k.Public, payload, sig); err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
		}
		want := fmt.Sprintf("key %s (%s)", k.Name, ShortID(k.ID()))
		if pp.calls != 1 || pp.purposes[0] != want {
			t.Fatalf("%s: passphrase asked for %d times (%q), want once for %q", typ, pp.calls, pp.purposes, want)
		}
	}
}

// TestFileKeyringFirstUseConcurrent: goroutines that need the key at once
// wait for one decryption: the passphrase is asked for once, and (under
// go test -race) the lazily decrypted key is never read while written.
func TestFileKeyringFirstUseConcurrent(t *testing.T) {
	t.Parallel()
	p, k := fileKeyPath(t, Ed25519, 0o600)
	pp := &countingPassphrase{delay: 20 * time.Millisecond}
	fk, err := OpenKeyFile(p, pp.get)
	if err != nil {
		t.Fatal(err)
	}
	const workers = 8
	var failed atomic.Int32
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := fk.Signer(k.ID())
			if err == nil {
				payload := fmt.Appendf(nil, "payload %d", i)
				var sig []byte
				if sig, err = s.SignMessage(bytes.NewReader(payload)); err == nil {
					err = Verify(k.Public, payload, sig)
				}
			}
			if err != nil {
				failed.Add(1)
				t.Errorf("goroutine %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if failed.Load() == 0 && pp.calls != 1 {
		t.Fatalf("passphrase asked for %d times by %d goroutines, want once", pp.calls, workers)
	}
}

// TestFileKeyringWrongPassphrase: a wrong passphrase fails with
// ErrWrongPassphrase and is not remembered: the next use asks again.
func TestFileKeyringWrongPassphrase(t *testing.T) {
	t.Parallel()
	p, k := fileKeyPath(t, Ed25519, 0o600)
	pp := &countingPassphrase{wrong: 1}
	fk, err := OpenKeyFile(p, pp.get)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fk.Signer(k.ID()); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v, want ErrWrongPassphrase", err)
	}
	if _, err := fk.Signer(k.ID()); err != nil {
		t.Fatalf("right passphrase after a wrong one: %v", err)
	}
	if pp.calls != 2 {
		t.Fatalf("passphrase asked for %d times, want 2", pp.calls)
	}

	none, err := OpenKeyFile(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := none.Signer(k.ID()); err == nil || !strings.Contains(err.Error(), "needs a passphrase and none was given") {
		t.Fatalf("no passphrase source: %v", err)
	}
}

// TestFileKeyringOtherKey: another key ID is refused with ErrKeyNotFound,
// naming the key, without asking for the passphrase.
func TestFileKeyringOtherKey(t *testing.T) {
	t.Parallel()
	p, _ := fileKeyPath(t, Ed25519, 0o600)
	ks, _ := fixtures(t)
	pp := &countingPassphrase{}
	fk, err := OpenKeyFile(p, pp.get)
	if err != nil {
		t.Fatal(err)
	}
	other := ks[ECDSAP256].ID()
	_, err = fk.Signer(other)
	if !errors.Is(err, ErrKeyNotFound) || err.Error() != fmt.Sprintf("key %s: key not found", ShortID(other)) {
		t.Fatalf("other key: %v, want %q", err, fmt.Sprintf("key %s: key not found", ShortID(other)))
	}
	if pp.calls != 0 {
		t.Fatalf("passphrase asked for %d times for a key the file does not hold", pp.calls)
	}
}

// TestOpenKeyFileRefusals: a key file group or others may read or write
// is refused before it is read; so are a missing file, one larger than a
// key file can be, and one that is not a key file (named by its path).
func TestOpenKeyFileRefusals(t *testing.T) {
	t.Parallel()
	pass := func(string, bool) ([]byte, error) { return testPassphrase, nil }
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		p, _ := fileKeyPath(t, Ed25519, mode)
		_, err := OpenKeyFile(p, pass)
		wantInsecure(t, fmt.Sprintf("mode %04o", mode), err, p, mode, "chmod 600 "+p)
		if !strings.Contains(err.Error(), "private key file "+p) {
			t.Fatalf("mode %04o: %v, want it to name the private key file", mode, err)
		}
	}

	dir := t.TempDir()
	if _, err := OpenKeyFile(filepath.Join(dir, "missing.key"), pass); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v, want ErrNotExist", err)
	}

	big := filepath.Join(dir, "big.key")
	if err := os.WriteFile(big, bytes.Repeat([]byte{' '}, maxKeyFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyFile(big, pass); err == nil || err.Error() != fmt.Sprintf("%s: larger than %d bytes", big, maxKeyFileSize) {
		t.Fatalf("oversized file: %v", err)
	}

	notKey := filepath.Join(dir, "pub.key")
	if err := os.WriteFile(notKey, []byte(`{"keytype":"ed25519"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyFile(notKey, pass); err == nil || !strings.HasPrefix(err.Error(), notKey+": ") {
		t.Fatalf("not a key file: %v, want an error starting with its path", err)
	}
}
