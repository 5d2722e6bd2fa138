package storage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"syscall"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
)

// lockName is the flock(2) file inside a file:// directory. Writers hold it
// exclusively around check-then-rename, readers shared around reading an
// object's attributes and opening it, so that an ETag always describes the
// bytes it was read with.
const lockName = ".storage.lock"

// fileblobTemp is the name of a fileblob write in progress (or of one a
// crash interrupted): never an object.
var fileblobTemp = regexp.MustCompile(`\.[0-9a-f]+\.tmp$`)

// fileBackend is a local directory through gocloud's fileblob, with what
// fileblob lacks for publishing: conditional writes that hold across
// processes (fileblob's IfNotExist is a stat under an in-process mutex),
// ETags that change with every write (fileblob's are mtime-size, equal for
// two same-sized writes within one clock tick) and fsync before the rename
// and of the directories after it.
type fileBackend struct {
	blobBackend
	dir string
}

func openFileBackend(_ context.Context, dir, desc string) (Backend, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", desc, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s: not a directory", ErrBadURL, desc)
	}
	bucket, err := fileblob.OpenBucket(dir, &fileblob.Options{NoTempDir: true})
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", desc, err)
	}
	return &fileBackend{blobBackend: blobBackend{bucket: bucket, desc: desc, fl: fileFlavor{}}, dir: dir}, nil
}

// fileFlavor: the ETag is the content's MD5 (fileblob's sidecar) with the
// file's inode, modification time and size. IfMatch is checked by
// fileBackend under the lock.
type fileFlavor struct{}

func (fileFlavor) etag(a *blob.Attributes) string {
	var fi os.FileInfo
	var ino uint64
	if a.As(&fi) {
		ino = inode(fi)
	}
	return `"` + hex.EncodeToString(a.MD5) + "-" + strconv.FormatUint(ino, 16) + "-" +
		strconv.FormatInt(a.ModTime.UnixNano(), 16) + "-" + strconv.FormatInt(a.Size, 16) + `"`
}

// readerAttrs is unused: fileBackend.Open reads the attributes under the lock.
func (fileFlavor) readerAttrs(*blob.Reader) Attrs { return Attrs{} }

// listETag is unused: fileBackend.List stats each object under the lock.
func (fileFlavor) listETag(*blob.ListObject) string { return "" }

func (fileFlavor) beforeWrite(PutOptions) (func(func(any) bool) error, error) { return nil, nil }

// lock takes the directory's lock, shared or exclusive, and returns its
// release. A reader of a directory where the lock file cannot be created
// (a read-only mount, someone else's directory) goes without: nobody can
// write there through this backend either.
func (b *fileBackend) lock(exclusive bool) (func(), error) {
	p := filepath.Join(b.dir, lockName)
	f, err := os.Open(p) // flock needs no write access
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	}
	if err != nil {
		if !exclusive && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
			return func() {}, nil
		}
		return nil, fmt.Errorf("storage: lock %s: %w", b.desc, err)
	}
	if err := flock(f, exclusive); err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: lock %s: %w", b.desc, err)
	}
	return func() { funlock(f); f.Close() }, nil
}

// Open implements Backend.
func (b *fileBackend) Open(ctx context.Context, name string) (io.ReadCloser, Attrs, error) {
	if err := checkName(name); err != nil {
		return nil, Attrs{}, err
	}
	unlock, err := b.lock(false)
	if err != nil {
		return nil, Attrs{}, err
	}
	defer unlock()
	a, err := b.blobBackend.Stat(ctx, name)
	if err != nil {
		return nil, Attrs{}, err
	}
	// The open file keeps the inode the attributes describe, whatever
	// renames follow once the lock is released.
	r, err := b.bucket.NewReader(ctx, name, nil)
	if err != nil {
		return nil, Attrs{}, b.mapErr("open", name, err)
	}
	return r, a, nil
}

// Stat implements Backend.
func (b *fileBackend) Stat(ctx context.Context, name string) (Attrs, error) {
	if err := checkName(name); err != nil {
		return Attrs{}, err
	}
	unlock, err := b.lock(false)
	if err != nil {
		return Attrs{}, err
	}
	defer unlock()
	return b.blobBackend.Stat(ctx, name)
}

// Put implements Backend: the bytes go to a temporary file next to name
// and are fsynced without the lock; the condition is checked and the file
// renamed under it; the directories are fsynced before Put returns.
func (b *fileBackend) Put(ctx context.Context, name string, r io.Reader, o PutOptions) error {
	wopts, err := b.writerOptions(name, o)
	if err != nil {
		return err
	}
	naive := filepath.Join(b.dir, filepath.FromSlash(name))
	created := b.firstMissingDir(filepath.Dir(naive))
	var tmp *os.File
	wopts.BeforeWrite = func(as func(any) bool) error {
		if !as(&tmp) || tmp == nil {
			return errHookUnavailable
		}
		return nil
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.bucket.NewWriter(wctx, name, wopts)
	if err != nil {
		return b.mapErr("put", name, err)
	}
	abort := func(err error) error {
		cancel() // fileblob then removes the temporary file
		_ = w.Close()
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		return abort(b.mapErr("put", name, err))
	}
	if err := tmp.Sync(); err != nil {
		return abort(b.mapErr("put", name, err))
	}
	unlock, err := b.lock(true)
	if err != nil {
		return abort(err)
	}
	defer unlock()
	if err := b.checkLocked(ctx, name, o); err != nil {
		return abort(err)
	}
	if err := w.Close(); err != nil {
		return b.mapErr("put", name, err)
	}
	real := fileblobTemp.ReplaceAllString(tmp.Name(), "")
	stop := filepath.Dir(real) // the directory that gained an entry
	switch {
	case real != naive:
		stop = b.dir // fileblob escaped the name: sync the whole chain
	case created != "":
		stop = filepath.Dir(created)
	}
	return b.mapErr("put", name, b.syncAfterRename(real, stop))
}

// checkLocked is a Put's precondition, under the exclusive lock.
func (b *fileBackend) checkLocked(ctx context.Context, name string, o PutOptions) error {
	if !o.IfAbsent && o.IfMatch == "" {
		return nil
	}
	a, err := b.blobBackend.Stat(ctx, name)
	switch {
	case err != nil && !isNotExist(err):
		return err
	case o.IfAbsent && err == nil:
		return fmt.Errorf("storage: put %s in %s: exists: %w", name, b.desc, ErrPrecondition)
	case o.IfMatch != "" && (err != nil || a.ETag != o.IfMatch):
		return fmt.Errorf("storage: put %s in %s: changed since read: %w", name, b.desc, ErrPrecondition)
	}
	return nil
}

// syncAfterRename makes a renamed object durable: its sidecar, then every
// directory from the object's up to stop (the outermost one that gained
// an entry).
func (b *fileBackend) syncAfterRename(real, stop string) error {
	if err := syncPath(real + ".attrs"); err != nil && !os.IsNotExist(err) {
		return err
	}
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		if err := syncPath(d); err != nil {
			return err
		}
		if d == stop || len(d) <= len(b.dir) {
			return nil
		}
	}
}

// firstMissingDir is the outermost directory of dir's chain under the
// root that does not exist yet ("" when dir exists).
func (b *fileBackend) firstMissingDir(dir string) string {
	missing := ""
	for d := dir; len(d) > len(b.dir); d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = d
	}
	return missing
}

// Delete implements Backend.
func (b *fileBackend) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	unlock, err := b.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	if err := b.blobBackend.Delete(ctx, name); err != nil {
		return err
	}
	return b.mapErr("delete", name, syncPath(filepath.Dir(filepath.Join(b.dir, filepath.FromSlash(name)))))
}

// List implements Backend: fileblob walks directories, which is not the
// lexical order of names ("a-c" < "a/b"), so the names are sorted first.
func (b *fileBackend) List(ctx context.Context, prefix string, fn func(string, Attrs) error) error {
	var names []string
	err := b.blobBackend.List(ctx, prefix, func(name string, _ Attrs) error {
		if name != lockName && !fileblobTemp.MatchString(name) {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, n := range names {
		a, err := b.Stat(ctx, n)
		if isNotExist(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if err := fn(n, a); err != nil {
			return err
		}
	}
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, ErrNotExist) }

// syncPath fsyncs a file or directory.
func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
