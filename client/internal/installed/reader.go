package installed

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Reader reads an installed file sequentially while hashing it against its
// signed length and hashes: it never returns more than the signed length,
// and the Read that reaches the signed end returns the last bytes with
// either io.EOF (the file is intact) or a HASH_MISMATCH error (its hash
// differs, or it holds more bytes than signed: a grown file fails at the
// signed length + 1). A file that ends early fails on the Read that finds
// its end. After an error every Read returns it again. Memory is constant
// whatever the file's size; the file is read once.
type Reader struct {
	f      *os.File
	name   string
	length int64
	h      *transport.TargetHash
	n      int64
	err    error
}

// OpenReader opens the installed file path (a regular file: never through
// a link, never a FIFO or device) for a verified read against tf. A file
// that is missing, not a regular file, or not of the signed length now
// fails HASH_MISMATCH at once.
func OpenReader(sfs *safefs.FS, path string, tf *metadata.TargetFiles) (*Reader, error) {
	name := filepath.Base(path)
	// A FIFO or device file is refused before it is opened (opening a
	// FIFO blocks), a link is not followed.
	f, err := sfs.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) && !safefs.IsUnsafe(err) {
		return nil, codes.Errorf(codes.HashMismatch, err, "%s is missing", name)
	}
	if err != nil {
		return nil, codes.Errorf(codes.HashMismatch, err, "%s is not a regular file", name)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, codes.Errorf(codes.HashMismatch, err, "%s is not a regular file", name)
	}
	if fi.Size() != tf.Length {
		f.Close()
		return nil, codes.Errorf(codes.HashMismatch, nil, "%s is %d bytes, signed %d", name, fi.Size(), tf.Length)
	}
	return &Reader{f: f, name: name, length: tf.Length, h: transport.NewTargetHash(tf)}, nil
}

// Read implements io.Reader (see Reader).
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if rest := r.length - r.n; int64(len(p)) > rest {
		p = p[:rest]
	} else if len(p) == 0 {
		return 0, nil
	}
	var n int
	var err error
	if len(p) > 0 {
		n, err = r.f.Read(p)
	}
	r.h.Write(p[:n])
	r.n += int64(n)
	switch {
	case r.n == r.length:
		r.err = r.finish()
	case err == io.EOF:
		r.err = codes.Errorf(codes.HashMismatch, nil, "%s is %d bytes, signed %d", r.name, r.n, r.length)
	case err != nil:
		r.err = codes.Errorf(codes.HashMismatch, err, "reading %s", r.name)
	}
	return n, r.err
}

// finish checks, at the signed length, that the file ends there and that
// its hashes match: io.EOF if so.
func (r *Reader) finish() error {
	var one [1]byte
	if k, err := r.f.Read(one[:]); k > 0 {
		return codes.Errorf(codes.HashMismatch, nil, "%s is longer than its signed %d bytes", r.name, r.length)
	} else if err != nil && err != io.EOF {
		return codes.Errorf(codes.HashMismatch, err, "reading %s", r.name)
	}
	if alg, _, _, bad := r.h.Mismatch(); bad {
		if alg == "" {
			return codes.Errorf(codes.HashMismatch, nil, "%s has no signed hash the client supports", r.name)
		}
		return codes.Errorf(codes.HashMismatch, nil, "%s does not match its signed %s", r.name, alg)
	}
	return io.EOF
}

// WriteTo implements io.WriterTo with a 1 MiB buffer (io.Copy uses it),
// with Read's checks: the error is nil only for an intact file.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 1<<20)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			k, werr := w.Write(buf[:n])
			total += int64(k)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }
