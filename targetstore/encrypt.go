package targetstore

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/hashcopy"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// An encrypted version's payload files and patches are stored as age
// files for its content key (package modelcrypt): the target (what is
// signed, transferred and hashed) is the ciphertext, and the target's
// custom metadata records the plaintext's length and SHA-256
// (targets.Plaintext). Plaintext never lands under targets/: patches are
// computed between plaintexts decrypted into TmpDir (not published), and
// removed after.

// TmpDir is the repository's private scratch directory (mode 0700, never
// served): decrypted payloads and plaintext patches live there while a
// publication computes patches of an encrypted version. The repository
// writer removes what a crashed writer left there.
const TmpDir = "tmp"

// EncryptedFiles are an encrypted version's content key and its payload
// files' signed plaintexts (by file name).
type EncryptedFiles struct {
	Key   *modelcrypt.ContentKey
	Plain map[string]*targets.Plaintext
}

// PutPayloads stores every payload file of bundle b as its target, with
// its custom metadata (targets.PayloadCustom), and returns the targets by
// path, the completed manifest's file entries and the files reused. A
// plaintext version's files are stored several at once, committed with
// one directory fsync (putPlainFiles); one whose bytes pub lists is
// linked (PutBundleFile). When enc is set the version is encrypted: each file is
// encrypted for enc.Key (PutBundleFileEncrypted, never linked), its
// target custom gets its plaintext field (critical), the entry lists the
// plaintext (what a device installs), and enc.Plain records it.
func (s Store) PutPayloads(b *Bundle, pub Published, enc *EncryptedFiles, progress func(file string, done, total int64)) (map[string]*metadata.TargetFiles, []targets.FileEntry, []Reused, error) {
	out := map[string]*metadata.TargetFiles{}
	var entries []targets.FileEntry
	var reused []Reused
	var plainTfs []*metadata.TargetFiles
	var plainRs []*Reused
	if enc == nil {
		var err error
		if plainTfs, plainRs, err = s.putPlainFiles(b, pub, progress); err != nil {
			return nil, nil, nil, err
		}
	}
	for i, name := range b.Files {
		var tf *metadata.TargetFiles
		var r *Reused
		var plain *targets.Plaintext
		var err error
		if enc != nil {
			tf, plain, err = s.PutBundleFileEncrypted(b, name, progress, enc.Key.Recipient())
		} else {
			tf, r = plainTfs[i], plainRs[i]
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if r != nil {
			reused = append(reused, *r)
		}
		pc := targets.PayloadCustom(b.Manifest, name)
		entry := targets.FileEntry{Path: name, SHA256: hex.EncodeToString(tf.Hashes["sha256"]), Size: &tf.Length}
		if plain != nil {
			pc.Plaintext, pc.Critical = plain, []string{targets.FieldPlaintext}
			enc.Plain[name] = plain
			entry.SHA256, entry.Size = plain.SHA256, &plain.Length
		}
		if tf.Custom, err = pc.Marshal(); err != nil {
			return nil, nil, nil, err
		}
		out[tf.Path] = tf
		entries = append(entries, entry)
	}
	return out, entries, reused, nil
}

// PutBundleFileEncrypted is PutBundleFile for an encrypted version: the
// bundle file is read once, its plaintext hashed (and checked against the
// manifest's entry), encrypted for the content key recipient, and the
// ciphertext hashed while it is written to the temporary file that
// becomes the target. It returns the ciphertext's target and the
// plaintext's length and SHA-256. Nothing is linked: each version's
// ciphertext is its own.
func (s Store) PutBundleFileEncrypted(b *Bundle, name string, progress func(file string, done, total int64), recipient string) (*metadata.TargetFiles, *targets.Plaintext, error) {
	src, _, cb, err := s.openBundleFile(b, name, progress)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	want := b.Manifest.File(name)
	limit := int64(-1)
	if want != nil && want.Size != nil {
		limit = *want.Size
	}
	return s.putEncrypted(targets.TargetPath(b.Manifest.ModelID, b.Manifest.Version, name), src, limit, cb, want, recipient, nil)
}

// putEncrypted stores the encryption of src (at most limit plaintext
// bytes, -1: no limit) for recipient as targetPath. Four stages run
// concurrently: read and hash the plaintext (hashcopy), encrypt, hash the
// ciphertext, write it (hashcopy again, through the store's Put). keep,
// if set, sees the ciphertext's length before it is named: when it
// returns false the ciphertext is dropped and the result has no target
// (only the plaintext).
func (s Store) putEncrypted(targetPath string, src io.Reader, limit int64, progress func(int64), want *targets.FileEntry, recipient string, keep func(n int64) bool) (*metadata.TargetFiles, *targets.Plaintext, error) {
	if err := modelcrypt.CheckRecipient(recipient); err != nil {
		return nil, nil, err
	}
	pr, pw := io.Pipe()
	type plainResult struct {
		n   int64
		sum [32]byte
		err error
	}
	plain := make(chan plainResult, 1)
	go func() {
		var res plainResult
		enc, err := modelcrypt.Encrypt(pw, recipient)
		if err == nil {
			res.n, res.sum, err = hashcopy.Copy(enc, src, limit, progress)
			if errors.Is(err, hashcopy.ErrTooLong) {
				err = fmt.Errorf("%w: %s is longer than the manifest's %d bytes", ErrBundle, filepath.Base(targetPath), limit)
			}
			if err == nil {
				err = enc.Close()
			}
		}
		res.err = err
		pw.CloseWithError(err)
		plain <- res
	}()
	kept := true
	tf, err := s.put(targetPath, pr, limit, nil, nil, func(n int64, _ []byte) bool {
		// The ciphertext is complete: name it only if the plaintext was
		// read whole, is what the manifest says, and keep wants it.
		res := <-plain
		plain <- res
		kept = res.err == nil && checkWant(filepath.Base(targetPath), res.n, res.sum[:], want) == nil && (keep == nil || keep(n))
		return !kept // true: put drops the copy
	}, nil)
	pr.CloseWithError(errors.New("stopped"))
	res := <-plain
	if res.err != nil {
		return nil, nil, res.err
	}
	if err := checkWant(filepath.Base(targetPath), res.n, res.sum[:], want); err != nil {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	if !kept {
		tf = nil
	}
	return tf, &targets.Plaintext{Length: res.n, SHA256: hex.EncodeToString(res.sum[:])}, nil
}

// tmpFile creates a private temporary file in TmpDir (0700) for
// plaintext: mode 0600, removed by Abort.
func (s Store) tmpFile() (*atomicfs.File, error) {
	dir := filepath.Join(s.Dir, TmpDir)
	if err := s.Fs.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := s.Fs.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	return atomicfs.Create(s.Fs, dir, 0o600)
}

// plainFile is one side of a patch: the plaintext of a stored target
// with its length and SHA-256, as a TargetFiles (the stored file itself
// for a plaintext target; a verified decryption in TmpDir for an
// encrypted one). close removes the decryption.
type plainFile struct {
	f     afero.File
	tf    *metadata.TargetFiles
	close func()
}

// openPlain opens the plaintext of the stored target tf: as stored when
// enc is nil, else decrypted with enc.Key into TmpDir and checked against
// its signed plaintext (modelcrypt.DecryptVerified).
func (s Store) openPlain(tf *metadata.TargetFiles, file string, enc *EncryptedFiles) (*plainFile, error) {
	stored, err := s.Open(tf)
	if err != nil {
		return nil, err
	}
	if enc == nil {
		return &plainFile{f: stored, tf: tf, close: func() { stored.Close() }}, nil
	}
	defer stored.Close()
	pt := enc.Plain[file]
	if pt == nil {
		return nil, fmt.Errorf("stored target %s: no signed plaintext length and SHA-256", tf.Path)
	}
	tmp, err := s.tmpFile()
	if err != nil {
		return nil, err
	}
	// Hashed and written on a goroutine of its own (hashcopy.Writer), in
	// 1 MiB writes, overlapping the decryption; read in 1 MiB reads.
	aw := hashcopy.NewWriter(&crashEveryMiB{w: tmp})
	err = modelcrypt.DecryptVerifiedTo(aw, aw.CloseSum, bufio.NewReaderSize(io.LimitReader(stored, tf.Length), hashcopy.BufferSize), enc.Key, pt.Length, pt.SHA256)
	aw.Close() // stops its goroutine if the decryption failed first
	if err != nil {
		tmp.Abort()
		return nil, fmt.Errorf("decrypting stored target %s: %w", tf.Path, err)
	}
	f, err := s.Fs.Open(tmp.Name())
	if err != nil {
		tmp.Abort()
		return nil, err
	}
	sum, err := hex.DecodeString(pt.SHA256)
	if err != nil {
		f.Close()
		tmp.Abort()
		return nil, err
	}
	return &plainFile{
		f:     f,
		tf:    &metadata.TargetFiles{Length: pt.Length, Hashes: metadata.Hashes{"sha256": sum}, Path: tf.Path},
		close: func() { f.Close(); tmp.Abort() },
	}, nil
}

// openBundleFile opens the payload file name of b without following
// symlinks and returns it with a progress callback for its bytes.
func (s Store) openBundleFile(b *Bundle, name string, progress func(file string, done, total int64)) (afero.File, int64, func(int64), error) {
	src, err := s.Fs.OpenFile(filepath.Join(b.Dir, name), os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%w: %s: %v", ErrBundle, name, err)
	}
	fi, err := src.Stat()
	if err != nil {
		src.Close()
		return nil, 0, nil, err
	}
	if !fi.Mode().IsRegular() {
		src.Close()
		return nil, 0, nil, fmt.Errorf("%w: %s is not a regular file", ErrBundle, name)
	}
	var cb func(int64)
	total := fi.Size()
	if progress != nil {
		cb = func(done int64) { progress(name, done, total) }
	}
	return src, total, cb, nil
}

// crashEveryMiB passes a crash point (targetstore.decrypted) each time
// another MiB of plaintext is written to the scratch file, so that the
// kill tests also die in the middle of a decryption.
type crashEveryMiB struct {
	w io.Writer
	n int64
}

func (c *crashEveryMiB) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	before := c.n
	c.n += int64(n)
	if c.n>>20 != before>>20 {
		crashpoint.Hit("targetstore.decrypted")
	}
	return n, err
}
