package installed

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"github.com/edgetuf/edgetuf/internal/directio"
	"github.com/edgetuf/edgetuf/internal/hashcopy"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// LocalSource is an installed file whose bytes may be the ones a version
// being installed needs.
type LocalSource struct {
	ModelID, Version, File string
	path                   string
}

// Local indexes the payload files installed on the device, every version
// of every model in the state directory, by the SHA-256 and length that
// each installed version's manifest gives them. Those manifests were
// checked against the signed metadata when their version was installed
// (CheckManifest), but the index is only a hint: a file found through it
// is used only after its bytes, copied, match the wanted signed length and
// SHA-256 (Local.Copy), exactly as a download is checked. A file's name
// or existence alone never makes it a source.
type Local struct {
	sfs *safefs.FS
	by  map[string][]LocalSource
}

func localKey(sha []byte, length int64) string {
	return fmt.Sprintf("%x/%d", sha, length)
}

// ScanLocal reads the installed manifests under stateDir/models/: every
// <model>/<version>/ directory whose names are a model ID and a version
// (never a link, never a hidden install or staging directory). Manifests
// that cannot be read or parsed add nothing.
func ScanLocal(stateDir string) *Local {
	l := &Local{sfs: safefs.New(stateDir), by: map[string][]LocalSource{}}
	models := filepath.Join(stateDir, devstate.ModelsDir)
	ms, _ := l.sfs.ReadDir(models)
	for _, me := range ms {
		if !me.IsDir() || targets.CheckModelID(me.Name()) != nil {
			continue
		}
		vs, _ := l.sfs.ReadDir(filepath.Join(models, me.Name()))
		for _, ve := range vs {
			if _, err := targets.ParseVersion(ve.Name()); err != nil || !ve.IsDir() {
				continue
			}
			dir := filepath.Join(models, me.Name(), ve.Name())
			data, err := l.sfs.ReadFile(filepath.Join(dir, targets.ManifestName), targets.MaxManifestSize)
			if err != nil {
				continue
			}
			m, err := targets.ParsePublishedManifest(data)
			if err != nil || m.ModelID != me.Name() || m.Version != ve.Name() {
				continue
			}
			for _, f := range m.Files {
				sha, err := hex.DecodeString(f.SHA256)
				if err != nil || f.Size == nil {
					continue
				}
				k := localKey(sha, *f.Size)
				l.by[k] = append(l.by[k], LocalSource{ModelID: m.ModelID, Version: m.Version, File: f.Path, path: filepath.Join(dir, f.Path)})
			}
		}
	}
	return l
}

// Find lists the installed files indexed with tf's signed SHA-256 and
// length that are there, regular files of that length (one missing or of
// another size is no candidate), those of modelID first, then by model
// and version, newest first.
func (l *Local) Find(tf *metadata.TargetFiles, modelID string) []LocalSource {
	var srcs []LocalSource
	for _, src := range l.by[localKey(tf.Hashes["sha256"], tf.Length)] {
		if fi, err := l.sfs.Lstat(src.path); err == nil && fi.Mode().IsRegular() && fi.Size() == tf.Length {
			srcs = append(srcs, src)
		}
	}
	sort.SliceStable(srcs, func(i, j int) bool {
		a, b := srcs[i], srcs[j]
		if (a.ModelID == modelID) != (b.ModelID == modelID) {
			return a.ModelID == modelID
		}
		if a.ModelID != b.ModelID {
			return a.ModelID < b.ModelID
		}
		av, _ := targets.ParseVersion(a.Version)
		bv, _ := targets.ParseVersion(b.Version)
		return av.Compare(bv) > 0
	})
	return srcs
}

// Copy makes dest (a staging file, created or truncated) a copy of the
// installed file src, and checks it against tf's signed length and
// hashes as a download is checked: a reflink (a copy-on-write clone, on
// filesystems that have them) whose bytes are then read and hashed, else
// a streamed copy hashed while written. The copy is fsynced. It returns
// whether it was a reflink. On any failure dest is removed and the error
// is HASH_MISMATCH for a source that is not what its manifest said (a
// damaged or replaced installed file), CANCELLED or INTERRUPTED when ctx
// ended (codes.StopCode), or the filesystem's error; the caller then
// downloads the file.
func (l *Local) Copy(ctx context.Context, src LocalSource, tf *metadata.TargetFiles, dest string) (reflinked bool, err error) {
	in, err := l.sfs.OpenFile(src.path, os.O_RDONLY, 0)
	if err != nil {
		return false, codes.Errorf(codes.HashMismatch, err, "installed %s %s %s", src.ModelID, src.Version, src.File)
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != tf.Length {
		return false, codes.Errorf(codes.HashMismatch, err, "installed %s %s %s is not a regular file of %d bytes", src.ModelID, src.Version, src.File, tf.Length)
	}
	out, err := safefs.OpenFile(dest, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return false, codes.Errorf(codes.ClassifyFS(err), err, "staging %s", filepath.Base(dest))
	}
	defer func() {
		out.Close()
		if err != nil {
			os.Remove(dest)
		}
	}()
	h := transport.NewTargetHash(tf)
	var n int64
	if reflinked = reflink(out, in); reflinked {
		// The clone shares the source's blocks: read it back, hashed.
		n, _, err = hashcopy.CopyFrom(io.Discard, ctxReader{ctx, out}, tf.Length, h, nil)
	} else {
		var w io.Writer = out
		dw := directio.Open(dest, out, 0) // as for downloads (package directio)
		if dw != nil {
			defer dw.Close()
			w = dw
		}
		n, _, err = hashcopy.CopyFrom(w, ctxReader{ctx, in}, tf.Length, h, nil)
		if err == nil && dw != nil {
			err = dw.Flush()
		}
	}
	what := fmt.Sprintf("%s copied from the installed %s %s", filepath.Base(src.path), src.ModelID, src.Version)
	switch {
	case err != nil && ctx.Err() != nil:
		return false, codes.Errorf(codes.StopCode(ctx), context.Cause(ctx), "%s", what)
	case errors.Is(err, hashcopy.ErrTooLong):
		return false, codes.Errorf(codes.HashMismatch, err, "%s: longer than signed", what)
	case err != nil:
		return false, codes.Errorf(codes.ClassifyFS(err), err, "%s", what)
	case n != tf.Length:
		return false, codes.Errorf(codes.HashMismatch, nil, "%s: %d bytes, signed %d", what, n, tf.Length)
	}
	if alg, _, _, bad := h.Mismatch(); bad {
		return false, codes.Errorf(codes.HashMismatch, nil, "%s: does not match its signed %s (the installed file is damaged)", what, alg)
	}
	if err := out.Sync(); err != nil {
		return false, codes.Errorf(codes.ClassifyFS(err), err, "syncing %s", what)
	}
	return reflinked, nil
}
