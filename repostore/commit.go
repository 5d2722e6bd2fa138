package repostore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/storage"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Cache-Control of published objects: a consistent-snapshot name
// (targets/**/<sha256>.<file>, metadata/N.<role>.json) never changes its
// bytes, so a CDN may keep it for a year; timestamp.json is replaced by
// every publication and may be served stale for at most
// TimestampMaxAge seconds; the signing journal (staged/) and mrepo.json
// are for publishers only.
const (
	CacheImmutable = "public, max-age=31536000, immutable"
	CacheTimestamp = "public, max-age=30"
	CacheNoStore   = "no-store"
	// TimestampMaxAge is the max-age of CacheTimestamp: how stale a CDN
	// may serve timestamp.json (docs/deployment.md).
	TimestampMaxAge = 30
)

// The steps of a commit, in the order they run (docs/design.md section 6).
type step int

const (
	stepTargets   step = iota // targets/**: content-addressed, IfAbsent
	stepStaged                // staged/**: journal, IfMatch (IfAbsent when new)
	stepRoles                 // metadata/N.<delegated role>.json: IfAbsent
	stepTargetsMD             // metadata/N.targets.json: IfAbsent
	stepSnapshot              // metadata/N.snapshot.json: IfAbsent, the commit point
	stepTimestamp             // metadata/timestamp.json: IfMatch
	stepRoot                  // metadata/N.root.json: IfAbsent
	stepConfig                // mrepo.json: IfAbsent or IfMatch
	nSteps
)

var (
	versionedMeta    = regexp.MustCompile(`^` + repofiles.MetadataDir + `/([1-9][0-9]{0,18})\.(.+)\.json$`)
	contentAddressed = regexp.MustCompile(`^[0-9a-f]{64}\.`)
)

const (
	timestampObject = repofiles.MetadataDir + "/timestamp.json"
	configObject    = "mrepo.json" // repoconfig.File
	stagedPrefix    = "staged/"    // staged.Dir
)

// upload is one object to write.
type upload struct {
	obj     string
	version int64 // of a versioned metadata name
	cc      string
}

// classify says in which step obj is written and with which
// Cache-Control; a name the layout does not know is refused (fail
// closed: nothing unexpected reaches the bucket).
func classify(obj string) (step, upload, error) {
	u := upload{obj: obj, cc: CacheImmutable}
	switch {
	case strings.HasPrefix(obj, repofiles.TargetsDir+"/"):
		if !contentAddressed.MatchString(path.Base(obj)) {
			u.cc = CacheNoStore // key envelopes: replaced when a device is granted again
		}
		return stepTargets, u, nil
	case strings.HasPrefix(obj, stagedPrefix):
		u.cc = CacheNoStore
		return stepStaged, u, nil
	case obj == timestampObject:
		u.cc = CacheTimestamp
		return stepTimestamp, u, nil
	case obj == configObject:
		u.cc = CacheNoStore
		return stepConfig, u, nil
	}
	m := versionedMeta.FindStringSubmatch(obj)
	if m == nil {
		return 0, u, fmt.Errorf("refusing to publish %s: not a name of the repository layout", obj)
	}
	u.version, _ = strconv.ParseInt(m[1], 10, 64)
	switch m[2] {
	case metadata.ROOT:
		return stepRoot, u, nil
	case metadata.SNAPSHOT:
		return stepSnapshot, u, nil
	case metadata.TARGETS:
		return stepTargetsMD, u, nil
	case metadata.TIMESTAMP:
		return 0, u, fmt.Errorf("refusing to publish %s: timestamp.json is never versioned", obj)
	}
	return stepRoles, u, nil
}

// hidden reports whether a scratch name is never uploaded: temporary
// files (.tmp-*), the writer lock (.mrepo.lock), the target store's
// scratch (targets/.tmp), every other dot file, and tmp/ (the private
// scratch space of add-target --encrypt).
func hidden(obj string) bool {
	if strings.HasPrefix(obj, "tmp/") {
		return true
	}
	for _, part := range strings.Split(obj, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

// plan lists the session's files to upload, by step.
func (s *Session) plan() ([nSteps][]upload, error) {
	var steps [nSteps][]upload
	err := afero.Walk(s.fs.scratch, s.fs.root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		obj, _ := s.fs.object(p)
		if fi.IsDir() || hidden(obj) {
			return nil
		}
		st, u, err := classify(obj)
		if err != nil {
			return err
		}
		steps[st] = append(steps[st], u)
		return nil
	})
	for i := range steps {
		sort.Slice(steps[i], func(a, b int) bool { return steps[i][a].obj < steps[i][b].obj })
	}
	return steps, err
}

// uploadParallel is how many target files are uploaded at once.
const uploadParallel = 8

// Commit publishes the session's writes in the safe order (docs/design.md
// section 6). Before the snapshot is written nothing a client follows has
// changed: a name taken by another publisher is ErrConflict. Once
// N.snapshot.json is written the publication exists (the next publisher
// builds on it); losing the race on timestamp.json afterwards is not an
// error but CommitResult.TimestampLost.
func (s *Session) Commit(ctx context.Context) (*CommitResult, error) {
	steps, err := s.plan()
	if err != nil {
		return nil, err
	}
	// A root version another publisher took already is a conflict found
	// before anything is visible (run again on its root), rather than
	// one found after the snapshot (committedError).
	for _, u := range steps[stepRoot] {
		if _, err := s.b.Stat(ctx, u.obj); err == nil {
			return nil, fmt.Errorf("%w: %s was written by another publisher first", ErrConflict, u.obj)
		} else if !errors.Is(err, storage.ErrNotExist) {
			return nil, err
		}
	}
	res := &CommitResult{}
	if err := s.putAll(ctx, steps[stepTargets], res, s.putTarget); err != nil {
		return nil, err
	}
	// The signing journal is replaced by compare-and-swap: holders signing
	// the same staged file at once each add their signature to what they
	// read, and an unconditional write would drop the other's.
	for _, u := range steps[stepStaged] {
		if err := s.put(ctx, u, s.casOptions(u.obj), res); err != nil {
			return nil, conflictOr(u.obj, err)
		}
	}
	for _, st := range []step{stepRoles, stepTargetsMD, stepSnapshot} {
		for _, u := range steps[st] {
			if err := s.putNew(ctx, u, res); err != nil {
				return nil, err
			}
			if st == stepSnapshot && u.version > res.Snapshot {
				res.Snapshot = u.version
			}
		}
	}
	timestampWritten := false
	for _, u := range steps[stepTimestamp] {
		err := s.put(ctx, u, s.casOptions(u.obj), res)
		if errors.Is(err, storage.ErrPrecondition) {
			res.TimestampLost = true
			continue
		}
		if err != nil {
			return nil, err
		}
		timestampWritten = true
	}
	// From here on a lost race is not a conflict once the snapshot or
	// timestamp.json is out: running the operation again would publish it
	// a second time on top of the first.
	afterCommit := func(obj string, err error) error {
		if !errors.Is(err, storage.ErrPrecondition) || (res.Snapshot == 0 && !timestampWritten) {
			return conflictOr(obj, err)
		}
		return &CommittedError{Snapshot: res.Snapshot, Timestamp: timestampWritten, Object: obj, Err: err}
	}
	for _, u := range steps[stepRoot] {
		if err := s.put(ctx, u, storage.PutOptions{IfAbsent: true}, res); err != nil {
			return nil, afterCommit(u.obj, err)
		}
	}
	for _, u := range steps[stepConfig] {
		if err := s.put(ctx, u, s.casOptions(u.obj), res); err != nil {
			return nil, afterCommit(u.obj, err)
		}
	}
	return res, s.deleteRemoved(ctx, res)
}

// CommittedError is Commit's (and Run's) failure when a write that comes
// after the commit point (a rotation's N.root.json, mrepo.json) lost to
// another publisher: what the session wrote up to its snapshot and
// timestamp.json is published and stays, Object is the other publisher's.
// It is not retried (not ErrConflict). Its code (for --json) is
// PARTIALLY_PUBLISHED.
type CommittedError struct {
	Snapshot  int64 // the snapshot version published (0: none)
	Timestamp bool  // timestamp.json was published too
	Object    string
	Err       error
}

func (e *CommittedError) Error() string {
	what := "timestamp.json"
	switch {
	case e.Snapshot > 0 && e.Timestamp:
		what = fmt.Sprintf("snapshot %d and timestamp.json", e.Snapshot)
	case e.Snapshot > 0:
		what = fmt.Sprintf("snapshot %d", e.Snapshot)
	}
	return fmt.Sprintf("PARTIALLY_PUBLISHED: this publication's %s are published, but %s was written by another publisher first: this publication's %s is not published", what, e.Object, e.Object)
}
func (e *CommittedError) Unwrap() error     { return e.Err }
func (e *CommittedError) ErrorCode() string { return "PARTIALLY_PUBLISHED" }

// casOptions is the condition of an overwrite: the object is still what
// the session read (IfMatch its ETag), or still absent if it was.
func (s *Session) casOptions(obj string) storage.PutOptions {
	s.fs.mu.Lock()
	etag, seen := s.fs.firstETags[obj]
	s.fs.mu.Unlock()
	if !seen || etag == "" {
		return storage.PutOptions{IfAbsent: true}
	}
	return storage.PutOptions{IfMatch: etag}
}

// putNew writes a versioned metadata name that must not exist yet.
func (s *Session) putNew(ctx context.Context, u upload, res *CommitResult) error {
	return conflictOr(u.obj, s.put(ctx, u, storage.PutOptions{IfAbsent: true}, res))
}

func conflictOr(obj string, err error) error {
	if errors.Is(err, storage.ErrPrecondition) {
		return fmt.Errorf("%w: %s was written by another publisher first", ErrConflict, obj)
	}
	return err
}

// putTarget writes a target file. A content-addressed name that exists
// with the same length holds the same bytes (its name is their SHA-256):
// another publisher of the same file, or an earlier attempt of this one.
func (s *Session) putTarget(ctx context.Context, u upload, res *CommitResult) error {
	if u.cc != CacheImmutable {
		return s.put(ctx, u, storage.PutOptions{}, res)
	}
	err := s.put(ctx, u, storage.PutOptions{IfAbsent: true}, res)
	if !errors.Is(err, storage.ErrPrecondition) {
		return err
	}
	fi, serr := s.fs.scratch.Stat(s.fs.local(u.obj))
	a, aerr := s.fs.b.Stat(ctx, u.obj)
	if serr == nil && aerr == nil && a.Size == fi.Size() {
		return nil
	}
	return conflictOr(u.obj, err)
}

// putAll runs put for every upload, uploadParallel at a time; the first
// error wins.
func (s *Session) putAll(ctx context.Context, us []upload, res *CommitResult, put func(context.Context, upload, *CommitResult) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	work := make(chan upload)
	for i := 0; i < uploadParallel; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local CommitResult
			for u := range work {
				if err := put(ctx, u, &local); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			res.Uploaded += local.Uploaded
			mu.Unlock()
		}()
	}
	for _, u := range us {
		if ctx.Err() != nil {
			break
		}
		work <- u
	}
	close(work)
	wg.Wait()
	return firstErr
}

// put uploads one scratch file.
func (s *Session) put(ctx context.Context, u upload, o storage.PutOptions, res *CommitResult) error {
	f, err := s.fs.scratch.Open(s.fs.local(u.obj))
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	o.CacheControl, o.Size, o.SizeKnown = u.cc, fi.Size(), true
	o.ContentType = "application/octet-stream"
	if strings.HasSuffix(u.obj, ".json") {
		o.ContentType = "application/json"
	}
	if err := s.b.Put(ctx, u.obj, f, o); err != nil {
		return fmt.Errorf("publishing %s to %s: %w", u.obj, s.b, err)
	}
	res.Uploaded++
	return nil
}

// deleteRemoved deletes the objects the session removed (staged files
// now published), last.
func (s *Session) deleteRemoved(ctx context.Context, res *CommitResult) error {
	s.fs.mu.Lock()
	var names []string
	for obj := range s.fs.deleted {
		names = append(names, obj)
	}
	s.fs.mu.Unlock()
	sort.Strings(names)
	for _, obj := range names {
		if err := s.b.Delete(ctx, obj); err != nil {
			return fmt.Errorf("removing %s from %s: %w", obj, s.b, err)
		}
		res.Deleted++
	}
	return nil
}
