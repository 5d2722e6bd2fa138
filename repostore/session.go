// Package repostore runs repository operations on a storage.Backend (S3,
// GCS, Azure, a file:// directory), without a local copy of the
// repository and without a lock: a Session gives the writer (package repo),
// the auditor and the server an afero.Fs whose reads go to the backend and
// whose writes go to a local scratch directory, and Commit publishes the
// writes in TUF's safe order with the backend's conditional writes, so
// that of two publishers building on the same state exactly one commits
// and the other runs again on the new state (Run). docs/design.md section
// 6, "Publishing to object storage", gives the order and why it is safe.
//
// It knows nothing of keys or of the writer: what an operation does is
// the caller's function; only the names of the repository layout
// (internal/repofiles) tell it which condition each write takes.
package repostore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgetuf/edgetuf/storage"
	"github.com/spf13/afero"
)

// ErrConflict is returned (wrapped) by Commit when a versioned name the
// session wrote was taken by another publisher first. Nothing a client
// follows has changed; run the whole operation again on the new state
// (Run does).
var ErrConflict = errors.New("conflict with another publisher")

// Session is one attempt at a repository operation on a Backend: reads go
// to the backend (small objects cached), writes go to a local scratch
// directory, and Commit publishes them in the safe order with conditions.
type Session struct {
	b       storage.Backend
	dir     string // scratch directory
	fs      *sessionFs
	removed bool
}

// Begin starts a session on b with its scratch files in a new directory
// under scratchDir (os.TempDir() when empty).
func Begin(ctx context.Context, b storage.Backend, scratchDir string) (*Session, error) {
	dir, err := os.MkdirTemp(scratchDir, "mrepo-session-")
	if err != nil {
		return nil, fmt.Errorf("scratch directory: %w", err)
	}
	root := filepath.Join(dir, "repo")
	if err := os.Mkdir(root, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Session{b: b, dir: dir, fs: newSessionFs(ctx, b, root)}, nil
}

// BeginLive starts a session for a long-running reader (mrepo serve):
// nothing is cached, so every read sees the backend's current objects. It
// is never committed.
func BeginLive(ctx context.Context, b storage.Backend, scratchDir string) (*Session, error) {
	s, err := Begin(ctx, b, scratchDir)
	if err == nil {
		s.fs.live = true
	}
	return s, err
}

// Fs is the repository as the session sees it: what repo.Open,
// audit.Verify, status and server are given.
func (s *Session) Fs() afero.Fs { return s.fs }

// Dir is the repository directory inside Fs(): a path of the session's
// own (in its scratch directory), so that a writer's paths, locks and
// messages never mix two sessions. Paths outside it are the OS
// filesystem's (the bundle a writer publishes).
func (s *Session) Dir() string { return s.fs.root }

// Describe returns err with the session's repository directory, a
// scratch path that means nothing to the user, replaced by the backend's
// description (its URL without credentials) in its message; errors.Is and
// errors.As see err as before.
func (s *Session) Describe(err error) error {
	if err == nil || !strings.Contains(err.Error(), s.Dir()) {
		return err
	}
	return &describedError{err: err, msg: strings.ReplaceAll(err.Error(), s.Dir(), s.b.String())}
}

type describedError struct {
	err error
	msg string
}

func (e *describedError) Error() string { return e.msg }
func (e *describedError) Unwrap() error { return e.err }

// Close removes the scratch directory. A session not committed leaves
// nothing in the backend.
func (s *Session) Close() error {
	if s.removed {
		return nil
	}
	s.removed = true
	return os.RemoveAll(s.dir)
}

// CommitResult is what a Commit published.
type CommitResult struct {
	// Uploaded is the number of objects written, Deleted of objects
	// removed.
	Uploaded, Deleted int
	// Snapshot is the version of the snapshot committed (0: none).
	Snapshot int64
	// TimestampLost: another publisher replaced timestamp.json after this
	// session read it, so this session's timestamp was not written (its
	// snapshot is committed all the same; Run rolls the timestamp
	// forward).
	TimestampLost bool
	// Attempts is the number of sessions Run needed (1 without a
	// conflict); Commit leaves it 0.
	Attempts int
}
