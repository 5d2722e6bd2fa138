// Package storage is where a repository's files live: a Backend with a
// local-directory implementation and object-storage implementations
// (s3://, gs://, azblob://, file:// through gocloud.dev/blob) behind it,
// as restic keeps its repositories behind one backend interface.
//
// A Backend stores whole objects under slash-separated names relative to
// the repository root ("metadata/3.snapshot.json", "targets/models/m/1.0.0/<sha>.model.bin").
// It offers exactly what a lock-free publisher needs (docs/deployment.md):
//
//   - conditional creation (PutOptions.IfAbsent): of two writers of the
//     same new name exactly one succeeds, the other gets ErrPrecondition;
//     versioned metadata names (N.snapshot.json) are the commit point;
//   - compare-and-swap on the one overwritten object (PutOptions.IfMatch
//     with the ETag a Stat or Open returned): timestamp.json never moves
//     backwards when two publishers race;
//   - Cache-Control per object, so a CDN may cache consistent-snapshot
//     names forever and timestamp.json only briefly.
//
// It knows nothing of TUF: what the names mean and in which order they are
// written is the repository writer's.
package storage

import (
	"context"
	"errors"
	"io"
)

// ErrPrecondition is returned (wrapped) by Put when IfAbsent is set and the
// name exists, or IfMatch is set and the object's current ETag differs or
// it does not exist. Callers test it with errors.Is.
var ErrPrecondition = errors.New("storage: precondition failed")

// ErrNotExist is returned (wrapped) by Open and Stat for a name that does
// not exist. It wraps io/fs.ErrNotExist, so errors.Is(err, fs.ErrNotExist)
// holds too.
var ErrNotExist = notExist{}

// Attrs describes a stored object.
type Attrs struct {
	Size         int64
	ETag         string // opaque; changes whenever the content does
	CacheControl string // as stored ("" when the backend keeps none)
}

// PutOptions are the conditions and headers of one Put.
type PutOptions struct {
	// IfAbsent makes the write fail with ErrPrecondition if name exists.
	IfAbsent bool
	// IfMatch, when not empty, makes the write fail with ErrPrecondition
	// unless name exists with exactly this ETag.
	IfMatch string
	// CacheControl is stored with the object and sent by HTTP front ends
	// (S3, GCS, Azure, a CDN in front of them).
	CacheControl string
	// ContentType, when not empty, is stored with the object.
	ContentType string
	// Size, when known (>= 0 and not 0 by accident: set SizeKnown), lets a
	// backend choose a single request over a multipart upload.
	Size      int64
	SizeKnown bool
}

// Backend stores a repository's objects. Implementations are safe for
// concurrent use. Every method honours ctx.
type Backend interface {
	// Open opens name for reading from offset 0, with its attributes as
	// of the read. A name that does not exist is ErrNotExist.
	Open(ctx context.Context, name string) (io.ReadCloser, Attrs, error)
	// OpenRange reads length bytes of name from offset (length < 0: to
	// the end).
	OpenRange(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error)
	// Stat returns name's attributes; ErrNotExist if absent.
	Stat(ctx context.Context, name string) (Attrs, error)
	// Put writes name from r, atomically: readers see the old object or
	// the whole new one, never a part. A failed or refused Put leaves
	// nothing behind under name.
	Put(ctx context.Context, name string, r io.Reader, o PutOptions) error
	// List calls fn for every object whose name starts with prefix, in
	// lexical order of name. Listing is the slow operation on object
	// storage: the repository writer never lists in its hot path.
	List(ctx context.Context, prefix string, fn func(name string, a Attrs) error) error
	// Delete removes name; deleting a missing name is not an error.
	Delete(ctx context.Context, name string) error
	// String describes the backend for messages, without credentials.
	String() string
	// Close releases the backend's resources.
	Close() error
}

type notExist struct{}

func (notExist) Error() string { return "storage: object does not exist" }
func (notExist) Unwrap() error { return fsErrNotExist }
