package verifiedread

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/keyring"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// SealedReader reads a file of a version kept encrypted at rest: the
// installed file is the signed ciphertext, and the reader returns its
// plaintext. It gives the guarantees of installed.Reader, and random
// access besides:
//
//   - Open checks that the file is a regular file of the ciphertext's
//     signed length, that the content key opens it and that its plaintext
//     has the signed plaintext length (HASH_MISMATCH or DECRYPT_FAILED).
//   - Every 64 KiB chunk returned, by Read or ReadAt, was authenticated
//     (ChaCha20-Poly1305) under the content key, whose recipient the
//     signed metadata names: a changed, truncated or reordered chunk is
//     DECRYPT_FAILED on the read that reaches it.
//   - Sequential reads (Read, WriteTo, io.Copy) also hash the plaintext:
//     the Read that reaches the signed end returns the last bytes with
//     io.EOF only if its SHA-256 is the signed one (DECRYPT_FAILED
//     otherwise). After an error every Read returns it again.
//
// Nothing decrypted is written anywhere: memory is constant (a chunk).
type SealedReader struct {
	f    *os.File
	ra   io.ReaderAt
	name string
	size int64
	sum  string
	h    hash.Hash
	n    int64
	err  error
}

// OpenSealed opens the installed ciphertext path, signed as cipher, whose
// plaintext is signed as plain, with the version's content key.
func OpenSealed(sfs *safefs.FS, path string, cipher *metadata.TargetFiles, plain *targets.Plaintext, key *modelcrypt.ContentKey) (*SealedReader, error) {
	name := filepath.Base(path)
	f, err := sfs.OpenFile(path, os.O_RDONLY, 0) // no link, FIFO or device
	if err != nil {
		return nil, codes.Errorf(codes.HashMismatch, err, "%s is missing or not a regular file", name)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != cipher.Length {
		f.Close()
		return nil, codes.Errorf(codes.HashMismatch, err, "%s is not a regular file of its signed %d bytes", name, cipher.Length)
	}
	ra, size, err := modelcrypt.DecryptReaderAt(f, cipher.Length, key)
	if err == nil && size != plain.Length {
		err = &modelcrypt.Error{Code: modelcrypt.CodeDecryptFailed, Err: fmt.Errorf("plaintext of %d bytes, signed %d", size, plain.Length)}
	}
	if err != nil {
		f.Close()
		err = keyring.Code(err)
		return nil, codes.Errorf(codes.CodeOf(err), err, "%s", name)
	}
	return &SealedReader{f: f, ra: ra, name: name, size: size, sum: plain.SHA256, h: sha256.New()}, nil
}

// Size is the plaintext's signed length.
func (r *SealedReader) Size() int64 { return r.size }

// ReadAt implements io.ReaderAt over the plaintext; every chunk it
// returns is authenticated. It may be called concurrently with itself
// (not with Read).
func (r *SealedReader) ReadAt(p []byte, off int64) (int, error) {
	switch {
	case off < 0:
		return 0, fmt.Errorf("%s: negative offset %d", r.name, off)
	case off >= r.size:
		return 0, io.EOF
	}
	n, err := r.ra.ReadAt(p, off)
	if err != nil && err != io.EOF {
		// A chunk that does not authenticate is DECRYPT_FAILED; a file
		// that cannot be read fails with the filesystem's code.
		code := codes.DecryptFailed
		if me := (*modelcrypt.Error)(nil); !errors.As(err, &me) {
			code = codes.ClassifyFS(err)
		}
		err = codes.Errorf(code, keyring.Code(err), "%s at offset %d", r.name, off)
	}
	return n, err
}

// Read implements io.Reader (see SealedReader).
func (r *SealedReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if rest := r.size - r.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := r.ReadAt(p, r.n)
	r.h.Write(p[:n])
	r.n += int64(n)
	switch {
	case r.n == r.size:
		r.err = io.EOF
		if got := hex.EncodeToString(r.h.Sum(nil)); got != r.sum {
			r.err = codes.Errorf(codes.DecryptFailed, nil, "%s: plaintext SHA-256 %s, signed %s", r.name, got, r.sum)
		}
	case err == io.EOF:
		r.err = codes.Errorf(codes.DecryptFailed, nil, "%s ends at %d bytes, signed %d", r.name, r.n, r.size)
	case err != nil:
		r.err = err
	}
	return n, r.err
}

// WriteTo implements io.WriterTo with a 1 MiB buffer, with Read's
// checks: the error is nil only for an intact file.
func (r *SealedReader) WriteTo(w io.Writer) (int64, error) {
	return io.CopyBuffer(w, struct{ io.Reader }{r}, make([]byte, 1<<20))
}

// Close closes the file.
func (r *SealedReader) Close() error { return r.f.Close() }
