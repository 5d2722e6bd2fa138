package verifiedread

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// fuzzContentKey is a content key for the fuzz corpus only. Test-only.
const fuzzContentKey = "AGE-SECRET-KEY-1WG9YR7E6DRP5VJZXJ8RP7Z0Q8R558W3RCRT6MXRJE9K004S5ZFVSCS0NQE"

// fuzzPlain is the plaintext of the corpus's valid file (testdata/fuzz/
// FuzzSealedRead/valid, encrypted under fuzzContentKey).
var fuzzPlain = bytes.Repeat([]byte("weights "), 12)

// FuzzSealedRead: an installed file kept encrypted at rest is untrusted
// bytes. Whatever it holds (signed as it is, so it passes the length
// check), opening and reading it never panics, returns no more than the
// signed plaintext length, and a full read ends in io.EOF only with
// exactly the signed plaintext; every failure is DECRYPT_FAILED (or
// HASH_MISMATCH at Open). Random-access reads return authenticated
// plaintext or an error. Seed corpus: testdata/fuzz/FuzzSealedRead.
func FuzzSealedRead(f *testing.F) {
	key, err := modelcrypt.ParseContentKey(fuzzContentKey)
	if err != nil {
		f.Fatal(err)
	}
	var ct bytes.Buffer
	if _, _, err := modelcrypt.EncryptStream(&ct, bytes.NewReader(bytes.Repeat(fuzzPlain, 1000)), key.Recipient()); err != nil {
		f.Fatal(err)
	}
	f.Add(ct.Bytes()) // several chunks
	sum := sha256.Sum256(fuzzPlain)
	plain := &targets.Plaintext{Length: int64(len(fuzzPlain)), SHA256: hex.EncodeToString(sum[:])}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "model.bin")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cipher := &metadata.TargetFiles{Length: int64(len(data))}
		r, err := OpenSealed(safefs.New(dir), path, cipher, plain, key)
		if err != nil {
			if c := codes.CodeOf(err); c != codes.DecryptFailed && c != codes.HashMismatch {
				t.Fatalf("Open: code %s: %v", c, err)
			}
			return
		}
		defer r.Close()
		buf := make([]byte, 17)
		if n, err := r.ReadAt(buf, 5); err != nil && err != io.EOF && codes.CodeOf(err) != codes.DecryptFailed {
			t.Fatalf("ReadAt: %v", err)
		} else if err == nil && !bytes.Equal(buf[:n], fuzzPlain[5:5+n]) {
			t.Fatalf("ReadAt returned %q, not the plaintext", buf[:n])
		}
		got, err := io.ReadAll(r)
		if int64(len(got)) > plain.Length {
			t.Fatalf("read %d bytes, signed %d", len(got), plain.Length)
		}
		if err == nil && !bytes.Equal(got, fuzzPlain) {
			t.Fatalf("a full read succeeded with %q", got)
		}
		if err != nil && codes.CodeOf(err) != codes.DecryptFailed {
			t.Fatalf("Read: %v", err)
		}
	})
}
