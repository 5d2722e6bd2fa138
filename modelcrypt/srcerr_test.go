package modelcrypt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

// failingReader returns its data up to n bytes, then err.
type failingReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// failingReaderAt reads from r until fail is set.
type failingReaderAt struct {
	r    io.ReaderAt
	fail error
}

func (f *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if f.fail != nil {
		return 0, f.fail
	}
	return f.r.ReadAt(p, off)
}

// TestSourceErrorIsNotDecryptFailed: a source that fails to be read (a
// disk error, a download rewritten under the reader) is that failure,
// not DECRYPT_FAILED: nothing was found wrong with the ciphertext, and a
// caller must not condemn the version for it.
func TestSourceErrorIsNotDecryptFailed(t *testing.T) {
	key, _ := NewContentKey()
	plain := bytes.Repeat([]byte("model "), 50000)
	var ct bytes.Buffer
	if _, _, err := EncryptStream(&ct, bytes.NewReader(plain), key.Recipient()); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(plain)
	eio := errors.New("input/output error")
	for _, cut := range []int{10, 100 << 10} { // in the header, in the payload
		src := &failingReader{r: bytes.NewReader(ct.Bytes()), n: cut, err: eio}
		err := DecryptVerified(io.Discard, src, key, int64(len(plain)), hex.EncodeToString(sum[:]))
		if !errors.Is(err, eio) || codeOf(err) != "" {
			t.Errorf("DecryptVerified with the source failing at %d: %v (code %q), want the source's error", cut, err, codeOf(err))
		}
	}
	src := &failingReaderAt{r: bytes.NewReader(ct.Bytes())}
	ra, _, err := DecryptReaderAt(src, int64(ct.Len()), key)
	if err != nil {
		t.Fatal(err)
	}
	src.fail = eio
	if _, err := ra.ReadAt(make([]byte, 1000), 200<<10); !errors.Is(err, eio) || codeOf(err) != "" {
		t.Errorf("ReadAt past the failing source: %v (code %q), want the source's error", err, codeOf(err))
	}
}
