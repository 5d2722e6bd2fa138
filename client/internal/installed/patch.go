package installed

import (
	"context"
	"errors"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/devstate"
	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/crashpoint"
	"github.com/edgetuf/edgetuf/internal/directio"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"os"
	"time"
)

// Base is the installed file a patch rebuilds another from.
type Base struct {
	File    string                // the payload file's name
	Version string                // the installed version the patch applies to
	Path    string                // the installed base file
	Target  *metadata.TargetFiles // the base version's signed target of File
	Work    *delta.Budget         // the update's patch work budget
}

// ApplyPatch writes to dest the file that patchPath rebuilds from the
// installed base, fsyncs it, and checks it against the signed target tf.
func ApplyPatch(ctx context.Context, p Base, tf *metadata.TargetFiles, patchPath, dest string, maxDuration time.Duration) error {
	base, err := devstate.OpenRegular(p.Path) // an installed file: never a link or FIFO
	if err != nil {
		return codes.Errorf(codes.HashMismatch, err, "installed base %s %s", p.Version, p.File)
	}
	defer base.Close()
	bfi, err := base.Stat()
	if err != nil || !bfi.Mode().IsRegular() || bfi.Size() != p.Target.Length {
		return codes.Errorf(codes.HashMismatch, err, "installed base %s %s has changed", p.Version, p.File)
	}
	patch, err := devstate.OpenRegular(patchPath)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staged patch of %s", p.File)
	}
	defer patch.Close()
	pfi, err := patch.Stat()
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staged patch of %s", p.File)
	}
	// The header names what the patch was made from and what it rebuilds:
	// both must be what the signed metadata says, before any work. A
	// compact patch names only a prefix of each SHA-256 (HashPrefix
	// bytes): an integrity check; Apply is given the signed hashes below.
	hdr, err := delta.ReadHeader(patch, pfi.Size())
	if err != nil {
		return codes.Errorf(codes.DeltaFailed, err, "patch of %s from %s", p.File, p.Version)
	}
	baseSum, targetSum := p.Target.Hashes["sha256"], tf.Hashes["sha256"]
	switch {
	case !hdr.BaseIs(p.Target.Length, baseSum):
		return codes.Errorf(codes.DeltaFailed, nil, "patch of %s from %s: made for another base file (%d bytes, SHA-256 %x)", p.File, p.Version, hdr.BaseLength, hdr.BaseSHA256[:hdr.HashPrefix])
	case !hdr.TargetIs(tf.Length, targetSum):
		return codes.Errorf(codes.DeltaFailed, nil, "patch of %s from %s: rebuilds another file (%d bytes, SHA-256 %x)", p.File, p.Version, hdr.TargetLength, hdr.TargetSHA256[:hdr.HashPrefix])
	}

	f, err := safefs.OpenFile(dest, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "staging %s", p.File)
	}
	defer f.Close()
	w := &checkedWriter{ctx: ctx, f: f, limit: tf.Length}
	// Direct I/O where available, as for downloads (package directio).
	if dw := directio.Open(dest, f, 0); dw != nil {
		defer dw.Close()
		w.direct = dw
	}
	// The work budget bounds the work deterministically; MaxDuration is a
	// secondary guard.
	err = safeApply(base, bfi.Size(), patch, pfi.Size(), w, delta.Limits{
		MaxOutput: tf.Length, MaxPatchRatio: 1, MaxDuration: maxDuration, Work: p.Work,
		BaseSHA256: baseSum, TargetSHA256: targetSum,
	})
	if w.direct != nil && err == nil {
		if ferr := w.direct.Flush(); ferr != nil {
			return codes.Errorf(codes.ClassifyFS(ferr), ferr, "writing %s", p.File)
		}
	}
	if err != nil {
		switch {
		case w.err != nil && ctx.Err() != nil:
			return codes.Errorf(codes.Network, ctx.Err(), "patching %s", p.File)
		case w.err != nil && errors.Is(w.err, errTooLong):
			return codes.Errorf(codes.DeltaFailed, w.err, "patch of %s from %s", p.File, p.Version)
		case w.err != nil:
			return codes.Errorf(codes.ClassifyFS(w.err), w.err, "writing %s", p.File)
		case errors.Is(err, delta.ErrTarget), errors.Is(err, delta.ErrBase):
			// A wrong output, or a base that does not read as the patch
			// expects: the installed base was changed, or the patch is bad
			// (a signed patch can be hostile too). Only the base's hash
			// tells which; a patch's fault never blames the base.
			if verr := VerifyFile(p.Path, p.Target, make([]byte, 1<<20)); verr != nil {
				return codes.Errorf(codes.HashMismatch, verr, "%s rebuilt from the installed %s: %v; re-hashed, the installed base", p.File, p.Version, err)
			}
		}
		return codes.Errorf(codes.DeltaFailed, err, "patch of %s from %s", p.File, p.Version)
	}
	// The final check is Apply's: it hashed every byte it handed to w and
	// failed with ErrTarget (above) unless the output has the length of
	// the header, checked above to be the signed one, and the signed
	// SHA-256 it was given (not just the prefix a compact patch names).
	// Hashing again here would read the model a second time.
	if w.n != tf.Length {
		return codes.Errorf(codes.HashMismatch, nil, "%s rebuilt from %s: %d bytes, signed %d", p.File, p.Version, w.n, tf.Length)
	}
	if err := f.Sync(); err != nil {
		return codes.Errorf(codes.ClassifyFS(err), err, "syncing %s", p.File)
	}
	return nil
}

// safeApply is delta.Apply, with a panic (a bug the patch found) turned
// into an error: a hostile patch must not take the application down.
// Apply itself recovers panics in each of its goroutines (delta's
// ErrInternal); this covers the caller's side of the call.
func safeApply(base *os.File, baseLen int64, patch *os.File, patchLen int64, w *checkedWriter, lim delta.Limits) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("applying the patch panicked: %v", r)
		}
	}()
	_, err = delta.Apply(base, baseLen, patch, patchLen, w, lim)
	return err
}

var errTooLong = errors.New("the patch writes more than the signed length")

// checkedWriter writes the rebuilt file, never past the signed length,
// and stops when the update is cancelled.
type checkedWriter struct {
	ctx    context.Context
	f      *os.File
	direct *directio.Writer // writes instead of f when set
	n      int64
	limit  int64
	err    error
}

func (w *checkedWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if err := w.ctx.Err(); err != nil {
		w.err = err
		return 0, err
	}
	if int64(len(p)) > w.limit-w.n {
		w.err = errTooLong
		return 0, w.err
	}
	var n int
	var err error
	if w.direct != nil {
		n, err = w.direct.Write(p)
	} else {
		n, err = w.f.Write(p)
	}
	if (w.n+int64(n))>>20 > w.n>>20 {
		crashpoint.Hit("client.delta.written") // every MiB of the rebuilt file
	}
	w.n += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}
