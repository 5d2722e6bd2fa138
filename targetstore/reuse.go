package targetstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/hashcopy"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Published indexes the payload files already published for one model,
// by SHA-256 and length, as the signed targets metadata lists them: a new
// version's file with the same bytes is stored as a second name of the
// stored file (Store.PutBundleFile) instead of a second copy.
type Published map[contentKey]PublishedFile

type contentKey struct {
	sha    string
	length int64
}

// PublishedFile is one published payload file.
type PublishedFile struct {
	Version string
	Target  *metadata.TargetFiles
}

// PublishedFiles collects the payload targets of modelID among ts (the
// signed targets of every role, as clients resolve them). Of several with
// the same bytes, the newest version's is kept, then the smallest path.
func PublishedFiles(ts map[string]*metadata.TargetFiles, modelID string) Published {
	paths := make([]string, 0, len(ts))
	for p := range ts {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	out := Published{}
	for _, p := range paths {
		tf := ts[p]
		c, err := targets.ParseCustom(p, tf.Custom)
		if err != nil || c.Kind != targets.KindPayload || c.ModelID != modelID || len(tf.Hashes["sha256"]) == 0 {
			continue
		}
		v, err := targets.ParseVersion(c.Version)
		if err != nil {
			continue
		}
		k := contentKey{hex.EncodeToString(tf.Hashes["sha256"]), tf.Length}
		if old, ok := out[k]; ok {
			if ov, err := targets.ParseVersion(old.Version); err == nil && ov.Compare(v) >= 0 {
				continue
			}
		}
		out[k] = PublishedFile{Version: c.Version, Target: tf}
	}
	return out
}

// Reused reports a payload file of a new version that has the bytes of one
// already published: its consistent-snapshot name is a hard link to the
// stored file, so the store holds no second copy (LinkedBytes), or, where
// links are impossible (another filesystem, a backend without links), a
// copy (LinkedBytes 0).
type Reused struct {
	File        string `json:"file"`
	FromVersion string `json:"from_version"`
	FromPath    string `json:"from_path"`
	Length      int64  `json:"length"`
	// LinkedBytes is what the link saved in targets/: Length, or 0 when
	// the file had to be copied.
	LinkedBytes int64 `json:"bytes_saved"`
	// Note says why the file was copied rather than linked.
	Note string `json:"note,omitempty"`
}

// lookup returns the published file with this content, if it is stored
// under its consistent-snapshot name as a regular file of its signed
// length and SHA-256 (a file removed or damaged by hand is not reused: a
// new version linked to damaged bytes would be published broken). The
// stored file is hashed again for this, one read of it: still cheaper
// than the copy a link saves (a read and a write).
func (s Store) lookup(pub Published, sha string, length int64) (PublishedFile, string, bool) {
	pf, ok := pub[contentKey{sha, length}]
	if !ok {
		return pf, "", false
	}
	p := s.path(pf.Target.Path, pf.Target.Hashes["sha256"])
	fi, err := lstat(s.Fs, p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != length || !s.holds(p, sha, length) {
		return pf, "", false
	}
	return pf, p, true
}

// holds reports whether the stored file p has exactly length bytes with
// SHA-256 sha (hex).
func (s Store) holds(p, sha string, length int64) bool {
	f, err := s.Fs.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	// A plain read, not hashcopy: checking the stored file adds no crash
	// points, so the kill tests' points still fall on the publication's
	// own copy and metadata writes.
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, length+1))
	return err == nil && n == length && hex.EncodeToString(h.Sum(nil)) == sha
}

// link names the stored file src as targetPath's (hash-addressed) file.
// The name is made as atomicfs.Link makes it: a temporary link renamed
// into place, the directory fsynced. The bytes behind it were fsynced
// when src was committed, so after a crash the new name either does not
// exist or holds the complete file; and because the name carries the
// SHA-256, a name that exists always means those bytes. Like every file
// of a publication that fails, it is removed by UndoNewDirs.
func (s Store) link(src, targetPath string, sha []byte) error {
	return atomicfs.Link(s.Fs, src, s.path(targetPath, sha))
}

// putBundleFile is PutBundleFile's work: src is the open bundle file.
func (s Store) putBundleFile(b *Bundle, name string, src afero.File, size int64, cb func(int64), pub Published, batch *atomicfs.Batch) (*metadata.TargetFiles, *Reused, error) {
	targetPath := targets.TargetPath(b.Manifest.ModelID, b.Manifest.Version, name)
	want := b.Manifest.File(name)
	// The manifest declares the file's bytes and they are published: hash
	// the file (one read, nothing written) and link.
	if want != nil && want.Size != nil && want.SHA256 != "" {
		if pf, stored, ok := s.lookup(pub, want.SHA256, *want.Size); ok {
			n, sum, err := hashcopy.Copy(io.Discard, src, *want.Size, cb)
			if errors.Is(err, hashcopy.ErrTooLong) {
				return nil, nil, fmt.Errorf("%w: %s is longer than the manifest's %d bytes", ErrBundle, name, *want.Size)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("reading %s: %w", name, err)
			}
			if err := checkWant(name, n, sum[:], want); err != nil {
				return nil, nil, err
			}
			r := &Reused{File: name, FromVersion: pf.Version, FromPath: pf.Target.Path, Length: n, LinkedBytes: n}
			if err := s.link(stored, targetPath, sum[:]); err != nil {
				if !errors.Is(err, atomicfs.ErrNoLink) {
					return nil, nil, err
				}
				// No links here: copy the bundle file after all.
				if _, err := src.Seek(0, io.SeekStart); err != nil {
					return nil, nil, err
				}
				if _, err := s.put(targetPath, src, size, cb, want, nil, batch); err != nil {
					return nil, nil, err
				}
				r.LinkedBytes, r.Note = 0, err.Error()
			}
			return &metadata.TargetFiles{Length: n, Hashes: metadata.Hashes{"sha256": sum[:]}, Path: targetPath}, r, nil
		}
	}
	// Otherwise the file is copied while hashed, as any file; if its bytes
	// turn out to be published, the copy is dropped for a link.
	var r *Reused
	tf, err := s.put(targetPath, src, size, cb, want, func(n int64, sum []byte) bool {
		pf, stored, ok := s.lookup(pub, hex.EncodeToString(sum), n)
		if !ok {
			return false
		}
		r = &Reused{File: name, FromVersion: pf.Version, FromPath: pf.Target.Path, Length: n, LinkedBytes: n}
		if err := s.link(stored, targetPath, sum); err != nil {
			r.LinkedBytes, r.Note = 0, err.Error()
			return false
		}
		return true
	}, batch)
	return tf, r, err
}

// checkWant compares a file's length and SHA-256 with its bundle manifest
// entry (nil: no entry).
func checkWant(name string, n int64, sum []byte, want *targets.FileEntry) error {
	if want == nil {
		return nil
	}
	if want.Size != nil && *want.Size != n {
		return fmt.Errorf("%w: %s is %d bytes, the manifest says %d", ErrBundle, name, n, *want.Size)
	}
	if got := hex.EncodeToString(sum); want.SHA256 != "" && want.SHA256 != got {
		return fmt.Errorf("%w: %s has SHA-256 %s, the manifest says %s", ErrBundle, name, got, want.SHA256)
	}
	return nil
}
