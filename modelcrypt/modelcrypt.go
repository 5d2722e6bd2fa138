// Package modelcrypt encrypts model payloads and delivers their keys: the
// format of an encrypted payload file, of a version's content key, and of
// the key envelopes that carry a content key to a device.
//
// Everything here is filippo.io/age, unchanged:
//
//   - A version's content key is an age X25519 identity
//     ("AGE-SECRET-KEY-1..."); its recipient ("age1...") is recorded in the
//     version's signed metadata (targets.Encryption.Recipient).
//   - An encrypted payload file (or patch) is an age file for that one
//     recipient: a header, then the STREAM construction with
//     ChaCha20-Poly1305 over 64 KiB chunks, so truncation, reordering and
//     every flipped bit are detected, chunk by chunk, while streaming.
//     `age -d -i KEYFILE` decrypts it.
//   - A key envelope is a small age file for a device's (or the fleet's)
//     P-256 key, as an age "p256tag" recipient (filippo.io/age/tag,
//     "age1tag1..."): HPKE with DHKEM(P-256), the stanza that hardware
//     keys (TPM, PKCS#11 tokens, YubiKeys) can open with one ECDH. Its
//     plaintext is a Grant: the content key bound to one model version.
//
// The package knows nothing of TUF and reads no files: callers give it
// readers and writers, and check lengths and hashes against signed
// metadata with DecryptVerified. Every failure to decrypt is an *Error
// with code DECRYPT_FAILED (a source that cannot be read fails with its
// own error); KEY_UNAVAILABLE is for callers that find no key to try.
package modelcrypt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"

	"filippo.io/age"
)

// Scheme names this format in signed metadata (targets.Encryption.Scheme).
const Scheme = "age-v1"

// The stable codes of this package's errors (docs/error-codes.md).
const (
	// CodeDecryptFailed: a wrong key, an envelope for another device or
	// version, a failed authentication tag, a truncated or reordered file,
	// or a plaintext whose length or SHA-256 is not the signed one.
	CodeDecryptFailed = "DECRYPT_FAILED"
	// CodeKeyUnavailable: no key to try (no envelope for this device, the
	// key service refused).
	CodeKeyUnavailable = "KEY_UNAVAILABLE"
)

// Error is every failure of this package.
type Error struct {
	Code string
	Err  error
}

func (e *Error) Error() string { return e.Code + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func decryptErr(format string, args ...any) error {
	return &Error{Code: CodeDecryptFailed, Err: fmt.Errorf(format, args...)}
}

// ContentKey is the key of one model version: an age X25519 identity.
// Its String form is the secret; never log it.
type ContentKey struct {
	id *age.X25519Identity
}

// NewContentKey generates a fresh content key.
func NewContentKey() (*ContentKey, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	return &ContentKey{id: id}, nil
}

// ParseContentKey parses the "AGE-SECRET-KEY-1..." form.
func ParseContentKey(s string) (*ContentKey, error) {
	id, err := age.ParseX25519Identity(strings.TrimSpace(s))
	if err != nil {
		return nil, decryptErr("invalid content key: %v", err)
	}
	return &ContentKey{id: id}, nil
}

// String returns the secret form ("AGE-SECRET-KEY-1...").
func (k *ContentKey) String() string { return k.id.String() }

// Recipient returns the public form ("age1..."), recorded in signed metadata.
func (k *ContentKey) Recipient() string { return k.id.Recipient().String() }

// CheckRecipient reports whether s is a content key recipient ("age1...",
// X25519).
func CheckRecipient(s string) error {
	if _, err := age.ParseX25519Recipient(s); err != nil {
		return fmt.Errorf("invalid content key recipient: %v", err)
	}
	return nil
}

// Encrypt returns a writer that encrypts what is written to it for the
// content key recipient and writes the age file to dst. Close it to write
// the last chunk; Close does not close dst.
func Encrypt(dst io.Writer, recipient string) (io.WriteCloser, error) {
	r, err := age.ParseX25519Recipient(recipient)
	if err != nil {
		return nil, fmt.Errorf("invalid content key recipient: %v", err)
	}
	return age.Encrypt(dst, r)
}

// EncryptStream encrypts src into dst for the recipient and returns the
// plaintext's length and SHA-256 (hex), hashed while read.
func EncryptStream(dst io.Writer, src io.Reader, recipient string) (int64, string, error) {
	w, err := Encrypt(dst, recipient)
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), src)
	if err != nil {
		return n, "", err
	}
	if err := w.Close(); err != nil {
		return n, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// Decrypt returns a reader of src's plaintext. Every chunk is
// authenticated before it is returned, and a truncated or reordered file
// fails; every failure, from Decrypt or a Read, is an *Error with code
// DECRYPT_FAILED, except that an error reading src is returned as it is.
// The reader alone does not bound the length or check a
// hash: use DecryptVerified, or check them.
func Decrypt(src io.Reader, key *ContentKey) (io.Reader, error) {
	s := &sourceReader{r: src}
	r, err := age.Decrypt(s, key.id)
	if err != nil {
		return nil, s.failed(decryptErr("%v", err))
	}
	return errReader{r, s}, nil
}

// DecryptReaderAt gives random access to the plaintext of an encrypted
// file of size bytes; every chunk read is authenticated. It returns the
// plaintext size. Errors are *Error with code DECRYPT_FAILED, or src's
// own read error.
func DecryptReaderAt(src io.ReaderAt, size int64, key *ContentKey) (io.ReaderAt, int64, error) {
	s := &sourceReaderAt{r: src}
	r, n, err := age.DecryptReaderAt(s, size, key.id)
	if err != nil {
		return nil, 0, s.failed(decryptErr("%v", err))
	}
	return errReaderAt{r, s}, n, nil
}

type errReader struct {
	r   io.Reader
	src *sourceReader
}

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = e.src.failed(decryptErr("%v", err))
	}
	return n, err
}

// sourceReader remembers the error its source returned: a source that
// cannot be read (a disk error, a staged file rewritten under the
// reader) is that failure, returned as it is, not DECRYPT_FAILED, which
// says the ciphertext or the key is wrong.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// failed is the source's error if it failed, else err.
func (s *sourceReader) failed(err error) error {
	if s.err != nil {
		return s.err
	}
	return err
}

// sourceReaderAt is sourceReader for an io.ReaderAt read concurrently.
type sourceReaderAt struct {
	r   io.ReaderAt
	mu  sync.Mutex
	err error
}

func (s *sourceReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}
	return n, err
}

func (s *sourceReaderAt) failed(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	return err
}

type errReaderAt struct {
	r   io.ReaderAt
	src *sourceReaderAt
}

func (e errReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := e.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = e.src.failed(decryptErr("%v", err))
	}
	return n, err
}

// DecryptVerified decrypts src into dst and checks the plaintext against
// its signed length and SHA-256 (hex): it never writes more than length
// bytes, and fails (DECRYPT_FAILED) on a longer or shorter plaintext or
// another hash. dst has received unverified bytes when it fails: write
// only to staging, and remove it on error. Errors from dst or from
// reading src are returned as they are (not DECRYPT_FAILED).
func DecryptVerified(dst io.Writer, src io.Reader, key *ContentKey, length int64, sha256Hex string) error {
	h := sha256.New()
	return DecryptVerifiedTo(io.MultiWriter(dst, h), func() ([]byte, error) { return h.Sum(nil), nil }, src, key, length, sha256Hex)
}

// DecryptVerifiedTo is DecryptVerified for a dst that hashes what it is
// written itself, such as one that hashes and writes on another goroutine
// (so that hashing overlaps decryption): once the plaintext is written,
// closeSum must finish the writes and return the SHA-256 of all of it, or
// dst's error (returned as it is). closeSum is not called when decryption
// fails first.
func DecryptVerifiedTo(dst io.Writer, closeSum func() ([]byte, error), src io.Reader, key *ContentKey, length int64, sha256Hex string) error {
	r, err := Decrypt(src, key)
	if err != nil {
		return err
	}
	n, err := copyBounded(dst, r, length)
	if err != nil {
		return err
	}
	if n != length {
		return decryptErr("plaintext is %d bytes, the signed length is %d", n, length)
	}
	sum, err := closeSum()
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(sum); got != sha256Hex {
		return decryptErr("plaintext SHA-256 %s is not the signed %s", got, sha256Hex)
	}
	return nil
}

// copyBounded copies at most limit bytes, then reads once more: a
// plaintext longer than limit fails, and so does a file whose end is only
// found to be damaged (truncated, not marked last) past the limit.
func copyBounded(dst io.Writer, r io.Reader, limit int64) (int64, error) {
	// One age chunk (64 KiB) per read and write, not io.Copy's 32 KiB.
	n, err := io.CopyBuffer(dst, io.LimitReader(r, limit), make([]byte, 64<<10))
	if err != nil {
		return n, err
	}
	var one [1]byte
	m, err := io.ReadFull(r, one[:])
	if m > 0 {
		return n, decryptErr("plaintext is longer than the signed %d bytes", limit)
	}
	if err != io.EOF {
		return n, err
	}
	return n, nil
}
