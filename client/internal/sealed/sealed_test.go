package sealed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
)

// sealedFile returns a plaintext of n bytes, its age ciphertext, the key
// and the signed plaintext fields.
func sealedFile(t *testing.T, n int) ([]byte, []byte, *modelcrypt.ContentKey, *targets.Plaintext) {
	t.Helper()
	plain := make([]byte, n)
	rand.NewChaCha8([32]byte{9}).Read(plain)
	key, err := modelcrypt.NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	var ct bytes.Buffer
	if _, _, err := modelcrypt.EncryptStream(&ct, bytes.NewReader(plain), key.Recipient()); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(plain)
	return plain, ct.Bytes(), key, &targets.Plaintext{Length: int64(n), SHA256: hex.EncodeToString(sum[:])}
}

// TestFollow: Follow decrypts what a download writes as it writes it,
// reading from the staged file only what an attempt kept of it, and fails
// (removing its output) when an attempt rewrites bytes it read, or when
// its context ends.
func TestFollow(t *testing.T) {
	plain, ct, key, pt := sealedFile(t, 5*64<<10+77)
	half := int64(len(ct) / 2)
	for _, tc := range []struct {
		name string
		// download plays the downloader: it writes src (a file: whole here,
		// as the downloader leaves it) and feeds f.
		download func(src string, f *Feed)
		ok       bool // else it fails with errRewritten (not DECRYPT_FAILED: the ciphertext may be sound)
	}{
		{"fed whole", func(src string, f *Feed) {
			os.WriteFile(src, ct, 0o600)
			w := f.Observe(0)
			for i := 0; i < len(ct); i += 1000 {
				w.Write(ct[i:min(i+1000, len(ct))])
			}
		}, true},
		{"a staged prefix, then fed", func(src string, f *Feed) {
			os.WriteFile(src, ct, 0o600)
			f.Observe(half).Write(ct[half:])
		}, true},
		{"complete in staging, never fed", func(src string, f *Feed) {
			os.WriteFile(src, ct, 0o600)
		}, true},
		{"two attempts, the second resuming where the first stopped", func(src string, f *Feed) {
			os.WriteFile(src, ct, 0o600)
			f.Observe(0).Write(ct[:half])
			f.Observe(half).Write(ct[half:])
		}, true},
		{"rewritten from the start under it", func(src string, f *Feed) {
			os.WriteFile(src, ct, 0o600)
			f.Observe(0).Write(ct[:half])
			for !f.drained() { // the decryption has read the first half
				runtime.Gosched()
			}
			f.Observe(0).Write(ct)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "ct"), filepath.Join(dir, "plain")
			f := NewFeed()
			done := make(chan error, 1)
			go func() { done <- Follow(context.Background(), src, dst, key, pt, f) }()
			tc.download(src, f)
			f.Done()
			err := <-done
			if tc.ok {
				got, rerr := os.ReadFile(dst)
				if err != nil || rerr != nil || !bytes.Equal(got, plain) {
					t.Fatalf("Follow: %v (%v)", err, rerr)
				}
				return
			}
			if !errors.Is(err, errRewritten) || codes.CodeOf(err) == codes.DecryptFailed {
				t.Fatalf("Follow: %v, want the rewrite's error", err)
			}
			if _, err := os.Stat(dst); !os.IsNotExist(err) {
				t.Fatalf("the partial plaintext is left: %v", err)
			}
		})
	}

	t.Run("cancelled while waiting", func(t *testing.T) {
		dir := t.TempDir()
		dst := filepath.Join(dir, "plain")
		ctx, cancel := context.WithCancel(context.Background())
		f := NewFeed()
		done := make(chan error, 1)
		go func() { done <- Follow(ctx, filepath.Join(dir, "ct"), dst, key, pt, f) }()
		f.Observe(0).Write(ct[:1000])
		cancel()
		if err := <-done; codes.CodeOf(err) != codes.Cancelled {
			t.Fatalf("Follow: %v, want CANCELLED", err)
		}
		if _, err := os.Stat(dst); !os.IsNotExist(err) {
			t.Fatalf("the partial plaintext is left: %v", err)
		}
		// A writer after the decryption stopped neither blocks nor fails.
		if n, err := f.Observe(1000).Write(make([]byte, 2*maxQueued)); err != nil || n != 2*maxQueued {
			t.Fatalf("write after stop: %d %v", n, err)
		}
	})
}

// drained reports whether an attempt fed bytes and the reader has taken
// them all.
func (f *Feed) drained() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.chunks) == 0 && f.gen > 0
}
