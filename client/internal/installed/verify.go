package installed

import (
	"context"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"io"
	"path/filepath"
	"sort"
)

// CheckSizesSigned checks, without reading them, that the signed files
// and nothing else are in dir, each a regular file with its signed length.
func CheckSizesSigned(sfs *safefs.FS, dir string, fs map[string]*metadata.TargetFiles) error {
	if err := onlySigned(sfs, dir, fs); err != nil {
		return err
	}
	for name, tf := range fs {
		fi, err := sfs.Lstat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != tf.Length {
			return codes.Errorf(codes.HashMismatch, err, "%s is missing, not a regular file, or has the wrong size", name)
		}
	}
	return nil
}

// VerifyDir re-hashes an installed version against signed metadata: every
// signed file present, a regular file with its length and SHA-256, and
// nothing else. It stops with CANCELLED when ctx ends.
func VerifyDir(ctx context.Context, sfs *safefs.FS, dir string, fs map[string]*metadata.TargetFiles) error {
	if err := onlySigned(sfs, dir, fs); err != nil {
		return err
	}
	names := make([]string, 0, len(fs))
	for n := range fs {
		names = append(names, n)
	}
	sort.Strings(names)
	buf := make([]byte, 1<<20)
	for _, name := range names {
		if err := verifyFileIn(ctx, sfs, filepath.Join(dir, name), fs[name], buf); err != nil {
			return err
		}
	}
	return nil
}

// VerifyFile checks one file against its signed length and SHA-256; path
// is not followed if it is a link, and must be a regular file.
func VerifyFile(path string, tf *metadata.TargetFiles, buf []byte) error {
	return verifyFileIn(context.Background(), safefs.New(filepath.Dir(path)), path, tf, buf)
}

func verifyFileIn(ctx context.Context, sfs *safefs.FS, path string, tf *metadata.TargetFiles, buf []byte) error {
	r, err := OpenReader(sfs, path, tf)
	if err != nil {
		return err
	}
	defer r.Close()
	for err == nil {
		if err = ctx.Err(); err != nil {
			return codes.Errorf(codes.StopCode(ctx), context.Cause(ctx), "verifying %s", filepath.Base(path))
		}
		_, err = r.Read(buf)
	}
	if err == io.EOF {
		return nil
	}
	return err
}

// ContextReader returns r, stopping (with ctx's error) when ctx ends:
// re-hashing or decrypting a large model must not outlast a stop request.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// onlySigned refuses a directory that cannot be listed or holds a file
// that is not signed.
func onlySigned(sfs *safefs.FS, dir string, fs map[string]*metadata.TargetFiles) error {
	entries, err := sfs.ReadDir(dir)
	if err != nil {
		return codes.Errorf(codes.HashMismatch, err, "installed version")
	}
	for _, e := range entries {
		if fs[e.Name()] == nil {
			return codes.Errorf(codes.HashMismatch, nil, "%s: unexpected file %s", dir, e.Name())
		}
	}
	return nil
}
