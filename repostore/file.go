package repostore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// streamFile reads a large object (a model file) with ranged reads: one
// open stream for sequential reading, a new one after a Seek, one ranged
// request per ReadAt. Nothing is held beyond io.Copy's buffer.
type streamFile struct {
	objectFile
	s   *sessionFs
	obj string
	off int64
	rc  io.ReadCloser
}

func (f *streamFile) Read(p []byte) (int, error) {
	if f.off >= f.size {
		return 0, io.EOF
	}
	if f.rc == nil {
		rc, err := f.s.b.OpenRange(f.s.ctx, f.obj, f.off, f.size-f.off)
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		f.rc = rc
	}
	n, err := f.rc.Read(p)
	f.off += int64(n)
	if errors.Is(err, io.EOF) && f.off < f.size {
		err = &fs.PathError{Op: "read", Path: f.name, Err: io.ErrUnexpectedEOF}
	}
	return n, err
}

func (f *streamFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	want := int64(len(p))
	if off+want > f.size {
		want = f.size - off
	}
	rc, err := f.s.b.OpenRange(f.s.ctx, f.obj, off, want)
	if err != nil {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p[:want])
	if err == nil && want < int64(len(p)) {
		err = io.EOF
	}
	return n, err
}

func (f *streamFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.size
	}
	if offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	if offset != f.off && f.rc != nil {
		f.rc.Close()
		f.rc = nil
	}
	f.off = offset
	return offset, nil
}

func (f *streamFile) Close() error {
	if f.rc != nil {
		err := f.rc.Close()
		f.rc = nil
		return err
	}
	return nil
}

// dirFile is an open directory: its entries are listed on the first
// Readdir.
type dirFile struct {
	s       *sessionFs
	name    string
	obj     string
	info    os.FileInfo
	entries []os.FileInfo
	listed  bool
}

func (d *dirFile) Readdir(count int) ([]os.FileInfo, error) {
	if !d.listed {
		es, err := d.s.readDir(d.name, d.obj)
		if err != nil {
			return nil, err
		}
		sort.Slice(es, func(i, j int) bool { return es[i].Name() < es[j].Name() })
		d.entries, d.listed = es, true
	}
	if count <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	if count > len(d.entries) {
		count = len(d.entries)
	}
	out := d.entries[:count]
	d.entries = d.entries[count:]
	return out, nil
}

func (d *dirFile) Readdirnames(count int) ([]string, error) {
	es, err := d.Readdir(count)
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name()
	}
	return names, err
}

func (d *dirFile) Close() error                       { return nil }
func (d *dirFile) Name() string                       { return d.name }
func (d *dirFile) Stat() (os.FileInfo, error)         { return d.info, nil }
func (d *dirFile) Sync() error                        { return nil }
func (d *dirFile) Read([]byte) (int, error)           { return 0, d.isDir() }
func (d *dirFile) ReadAt([]byte, int64) (int, error)  { return 0, d.isDir() }
func (d *dirFile) Seek(int64, int) (int64, error)     { return 0, d.isDir() }
func (d *dirFile) Truncate(int64) error               { return d.isDir() }
func (d *dirFile) Write([]byte) (int, error)          { return 0, d.isDir() }
func (d *dirFile) WriteAt([]byte, int64) (int, error) { return 0, d.isDir() }
func (d *dirFile) WriteString(string) (int, error)    { return 0, d.isDir() }

func (d *dirFile) isDir() error {
	return &fs.PathError{Op: "read", Path: d.name, Err: syscall.EISDIR}
}

// readSmall reads a small object whole into a buffer of exactly its size
// (io.ReadAll's doubling would leave up to twice the bytes as garbage).
// size is what the backend said the object holds (0: not said); the
// bytes must match it, and never exceed cacheObject.
func readSmall(r io.Reader, size int64) ([]byte, error) {
	if size < 0 || size > cacheObject {
		return nil, fmt.Errorf("object changed while read (%d bytes, at most %d expected)", size, cacheObject)
	}
	if size == 0 {
		data, err := io.ReadAll(io.LimitReader(r, cacheObject+1))
		if err == nil && len(data) > cacheObject {
			err = fmt.Errorf("object changed while read (over %d bytes, 0 expected)", cacheObject)
		}
		return data, err
	}
	data := make([]byte, size)
	n, err := io.ReadFull(r, data)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return nil, fmt.Errorf("object changed while read (%d bytes, %d expected)", n, size)
	}
	if err != nil {
		return nil, err
	}
	var extra [1]byte
	switch m, err := io.ReadFull(r, extra[:]); {
	case m > 0:
		return nil, fmt.Errorf("object changed while read (more than the %d bytes expected)", size)
	case err != io.EOF:
		return nil, err
	}
	return data, nil
}

// objectInfo is the os.FileInfo of a stored object or directory.
type objectInfo struct {
	name string
	size int64
	dir  bool
}

func (i objectInfo) Name() string { return i.name }
func (i objectInfo) Size() int64  { return i.size }
func (i objectInfo) Mode() os.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i objectInfo) ModTime() time.Time { return time.Time{} }
func (i objectInfo) IsDir() bool        { return i.dir }
func (i objectInfo) Sys() any           { return nil }

// objectFile is what the read-only files of stored objects share: a name,
// a size, and refusals of every write.
type objectFile struct {
	name string
	size int64
}

func (f *objectFile) Name() string { return f.name }
func (f *objectFile) Stat() (os.FileInfo, error) {
	return objectInfo{name: filepath.Base(f.name), size: f.size}, nil
}
func (f *objectFile) Sync() error                        { return nil }
func (f *objectFile) Readdir(int) ([]os.FileInfo, error) { return nil, errReadOnly(f.name) }
func (f *objectFile) Readdirnames(int) ([]string, error) { return nil, errReadOnly(f.name) }
func (f *objectFile) Truncate(int64) error               { return errReadOnly(f.name) }
func (f *objectFile) Write([]byte) (int, error)          { return 0, errReadOnly(f.name) }
func (f *objectFile) WriteAt([]byte, int64) (int, error) { return 0, errReadOnly(f.name) }
func (f *objectFile) WriteString(string) (int, error)    { return 0, errReadOnly(f.name) }

// bytesFile is a read-only afero.File over a cached object.
type bytesFile struct {
	*bytes.Reader
	objectFile
}

func newBytesFile(name string, data []byte) *bytesFile {
	return &bytesFile{Reader: bytes.NewReader(data), objectFile: objectFile{name: name, size: int64(len(data))}}
}

func (f *bytesFile) Close() error { return nil }

func errReadOnly(name string) error {
	return &fs.PathError{Op: "write", Path: name, Err: syscall.EBADF}
}
