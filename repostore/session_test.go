package repostore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/storage"
	"github.com/edgetuf/edgetuf/storage/storagetest"
	"github.com/spf13/afero"
)

func put(t *testing.T, b storage.Backend, name, data string) {
	t.Helper()
	if err := b.Put(context.Background(), name, strings.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func newSession(t *testing.T, b storage.Backend) *Session {
	t.Helper()
	s, err := Begin(context.Background(), b, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// countingBackend counts the requests that reach the backend.
type countingBackend struct {
	storage.Backend
	opens, ranges, lists int
}

func (c *countingBackend) Open(ctx context.Context, name string) (io.ReadCloser, storage.Attrs, error) {
	c.opens++
	return c.Backend.Open(ctx, name)
}

func (c *countingBackend) OpenRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	c.ranges++
	return c.Backend.OpenRange(ctx, name, off, n)
}

func (c *countingBackend) List(ctx context.Context, prefix string, fn func(string, storage.Attrs) error) error {
	c.lists++
	return c.Backend.List(ctx, prefix, fn)
}

// TestSessionReads: small objects are read once and kept; a large one
// is streamed with ranged reads; directories are listed from the backend
// merged with the session's own files; paths outside the repository are
// the OS filesystem's.
func TestSessionReads(t *testing.T) {
	cb := &countingBackend{Backend: storage.NewMemory()}
	put(t, cb, "metadata/1.root.json", `{"x":1}`)
	big := bytes.Repeat([]byte("w"), cacheObject+10)
	put(t, cb, "targets/m/big.bin", string(big))
	s := newSession(t, cb)
	fsys, dir := s.Fs(), s.Dir()
	for i := 0; i < 3; i++ {
		if data, err := afero.ReadFile(fsys, filepath.Join(dir, "metadata/1.root.json")); err != nil || string(data) != `{"x":1}` {
			t.Fatalf("read: %q, %v", data, err)
		}
	}
	if cb.opens != 1 {
		t.Errorf("%d opens of an object read 3 times, want 1 (then the cache)", cb.opens)
	}
	if n := len(s.fs.data); n != 1 {
		t.Errorf("%d objects cached after reading one object 3 times", n)
	}
	f, err := fsys.Open(filepath.Join(dir, "targets/m/big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(int64(len(big)-4), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(tail) != "wwww" || cb.ranges != 1 || cb.opens != 1 {
		t.Errorf("tail %q, %v; %d ranged reads, %d opens", tail, err, cb.ranges, cb.opens)
	}
	if err := afero.WriteFile(fsys, filepath.Join(dir, "metadata/2.root.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	names, err := afero.ReadDir(fsys, filepath.Join(dir, "metadata"))
	if err != nil || len(names) != 2 || names[0].Name() != "1.root.json" || names[1].Name() != "2.root.json" {
		t.Errorf("ReadDir: %v, %v", names, err)
	}
	outside := filepath.Join(t.TempDir(), "bundle.txt")
	if err := os.WriteFile(outside, []byte("local"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := afero.ReadFile(fsys, outside); err != nil || string(data) != "local" {
		t.Errorf("outside the repository: %q, %v", data, err)
	}
	if _, err := fsys.Stat(filepath.Join(dir, "metadata/9.root.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing object: %v", err)
	}
}

// TestCommitUploadsOnlyTheLayout: temporary files, the lock and other
// dot files are never uploaded; a removed object is deleted last; a
// name outside the layout makes the commit fail before anything is
// written.
func TestCommitUploadsOnlyTheLayout(t *testing.T) {
	b := storage.NewMemory()
	put(t, b, "staged/root.json", "{}")
	s := newSession(t, b)
	fsys, dir := s.Fs(), s.Dir()
	write := func(name string) {
		t.Helper()
		if err := afero.WriteFile(fsys, filepath.Join(dir, name), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{".mrepo.lock", "metadata/.tmp-123", "targets/.tmp/x", "tmp/plain", "metadata/2.targets.json"} {
		write(n)
	}
	if err := fsys.Remove(filepath.Join(dir, "staged/root.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat(filepath.Join(dir, "staged/root.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a removed object is still seen: %v", err)
	}
	res, err := s.Commit(context.Background())
	if err != nil || res.Uploaded != 1 || res.Deleted != 1 {
		t.Fatalf("commit: %+v, %v", res, err)
	}
	var names []string
	b.List(context.Background(), "", func(n string, _ storage.Attrs) error { names = append(names, n); return nil })
	if strings.Join(names, " ") != "metadata/2.targets.json" {
		t.Errorf("backend holds %v", names)
	}

	s2 := newSession(t, b)
	if err := afero.WriteFile(s2.Fs(), filepath.Join(s2.Dir(), "metadata/3.targets.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(s2.Fs(), filepath.Join(s2.Dir(), "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Commit(context.Background()); err == nil || !strings.Contains(err.Error(), "refusing to publish notes.txt") {
		t.Fatalf("commit of an unknown name: %v", err)
	}
	if _, err := b.Stat(context.Background(), "metadata/3.targets.json"); !errors.Is(err, storage.ErrNotExist) {
		t.Error("a refused commit wrote to the backend")
	}
}

// TestTargetConflict: a hash-named target that exists with the same
// length is the same file (accepted); another length under that name is
// a conflict, as is any taken versioned metadata name.
func TestTargetConflict(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	name := "targets/m/1.0.0/" + sha + ".model.bin"
	for _, tc := range []struct {
		stored   string
		conflict bool
	}{{"same", false}, {"longer", true}} {
		b := storage.NewMemory()
		put(t, b, name, tc.stored)
		s := newSession(t, b)
		if err := afero.WriteFile(s.Fs(), filepath.Join(s.Dir(), name), []byte("same"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := s.Commit(context.Background())
		if errors.Is(err, ErrConflict) != tc.conflict {
			t.Errorf("stored %q: commit error %v, want conflict %v", tc.stored, err, tc.conflict)
		}
	}
}

// TestDescribe: an error naming the session's scratch path names the
// backend instead, and still unwraps.
func TestDescribe(t *testing.T) {
	s := newSession(t, storage.NewMemory())
	err := s.Describe(&fs.PathError{Op: "stat", Path: filepath.Join(s.Dir(), "mrepo.json"), Err: fs.ErrNotExist})
	if err.Error() != "stat memory/mrepo.json: file does not exist" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Describe: %v", err)
	}
}

// TestSessionRereadChanged: a session whose cache is full reads
// timestamp.json again after another publisher replaced it. Its
// compare-and-swap must still be on the bytes it read first: the second
// read is a conflict, and the session's timestamp never overwrites the
// other publisher's.
func TestSessionRereadChanged(t *testing.T) {
	ctx := context.Background()
	b := storage.NewMemory()
	put(t, b, "metadata/timestamp.json", "first")
	s := newSession(t, b)
	s.fs.cacheLimit = 0 // nothing fits: every read goes to the backend
	name := filepath.Join(s.Dir(), "metadata", "timestamp.json")
	if data, err := afero.ReadFile(s.Fs(), name); err != nil || string(data) != "first" {
		t.Fatalf("first read: %q, %v", data, err)
	}
	put(t, b, "metadata/timestamp.json", "other publisher")
	_, err := afero.ReadFile(s.Fs(), name)
	if !errors.Is(err, ErrConflict) {
		t.Errorf("second read of a replaced object: %v, want ErrConflict", err)
	}
	if err := afero.WriteFile(s.Fs(), name, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := s.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimestampLost {
		t.Error("the session's timestamp was written over another publisher's")
	}
	if got, _ := storagetest.Read(t, b, "metadata/timestamp.json"); got != "other publisher" {
		t.Errorf("timestamp.json is %q", got)
	}
}

// TestStagedCompareAndSwap: two holders sign the same staged file at once,
// each from the version it read. The second to commit must not replace
// the first's (dropping its signature): it is a conflict, and its retry
// starts from the first's file.
func TestStagedCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	b := storage.NewMemory()
	put(t, b, "staged/snapshot.json", "unsigned")
	var sessions [2]*Session
	for i := range sessions {
		sessions[i] = newSession(t, b)
		name := filepath.Join(sessions[i].Dir(), "staged", "snapshot.json")
		if _, err := afero.ReadFile(sessions[i].Fs(), name); err != nil {
			t.Fatal(err)
		}
		if err := afero.WriteFile(sessions[i].Fs(), name, []byte(fmt.Sprintf("signed by holder %d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sessions[0].Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sessions[1].Commit(ctx); !errors.Is(err, ErrConflict) {
		t.Errorf("second holder's commit: %v, want ErrConflict", err)
	}
	if got, _ := storagetest.Read(t, b, "staged/snapshot.json"); got != "signed by holder 0" {
		t.Errorf("staged/snapshot.json is %q", got)
	}
}

// TestSessionReadSeesFirstBytes: an object is kept from its first read,
// so that reading it again in the session sees the same bytes even after
// another publisher replaced it (the session's compare-and-swap finds
// that out at commit).
func TestSessionReadSeesFirstBytes(t *testing.T) {
	b := storage.NewMemory()
	put(t, b, "metadata/timestamp.json", "first")
	s := newSession(t, b)
	name := filepath.Join(s.Dir(), "metadata", "timestamp.json")
	if data, err := afero.ReadFile(s.Fs(), name); err != nil || string(data) != "first" {
		t.Fatalf("read: %q, %v", data, err)
	}
	put(t, b, "metadata/timestamp.json", "other publisher")
	if data, err := afero.ReadFile(s.Fs(), name); err != nil || string(data) != "first" {
		t.Errorf("second read of a replaced object: %q, %v, want the first bytes", data, err)
	}
}

// lyingBackend answers Open with a size that is not the object's.
type lyingBackend struct {
	storage.Backend
	size int64
}

func (l *lyingBackend) Open(ctx context.Context, name string) (io.ReadCloser, storage.Attrs, error) {
	rc, a, err := l.Backend.Open(ctx, name)
	a.Size = l.size
	return rc, a, err
}

// TestSessionReadSizeMismatch: a small object whose bytes are fewer or
// more than the size its read reported (changed while read, or a
// lying server) fails the read; a size past the small-object limit is
// refused before anything is allocated.
func TestSessionReadSizeMismatch(t *testing.T) {
	for _, size := range []int64{3, 5, cacheObject + 1, -1} {
		lb := &lyingBackend{Backend: storage.NewMemory(), size: size}
		put(t, lb, "mrepo.json", "four")
		s := newSession(t, lb)
		_, err := afero.ReadFile(s.Fs(), filepath.Join(s.Dir(), "mrepo.json"))
		if err == nil || !strings.Contains(err.Error(), "changed while read") {
			t.Errorf("size %d for 4 bytes: %v, want a read error", size, err)
		}
	}
	lb := &lyingBackend{Backend: storage.NewMemory(), size: 4}
	put(t, lb, "mrepo.json", "four")
	s := newSession(t, lb)
	if data, err := afero.ReadFile(s.Fs(), filepath.Join(s.Dir(), "mrepo.json")); err != nil || string(data) != "four" {
		t.Errorf("right size: %q, %v", data, err)
	}
}

// statCounter counts Stat requests too.
type statCounter struct {
	countingBackend
	stats int
}

func (c *statCounter) Stat(ctx context.Context, name string) (storage.Attrs, error) {
	c.stats++
	return c.Backend.Stat(ctx, name)
}

// TestSessionMetadataReadWithoutStat: a role in metadata/ is read with
// one request, no Stat before it; an absent one is remembered as absent
// (its later write is a create-if-absent: another publisher's object
// made in between is never overwritten); a large one is still streamed.
func TestSessionMetadataReadWithoutStat(t *testing.T) {
	ctx := context.Background()
	sc := &statCounter{countingBackend: countingBackend{Backend: storage.NewMemory()}}
	put(t, sc, "metadata/1.bins-0.json", "bin")
	big := bytes.Repeat([]byte("s"), cacheObject+10)
	put(t, sc, "metadata/2.snapshot.json", string(big))
	s := newSession(t, sc)
	meta := func(n string) string { return filepath.Join(s.Dir(), "metadata", n) }
	if data, err := afero.ReadFile(s.Fs(), meta("1.bins-0.json")); err != nil || string(data) != "bin" {
		t.Fatalf("read: %q, %v", data, err)
	}
	if sc.stats != 0 || sc.opens != 1 {
		t.Errorf("reading a role: %d Stat, %d Open requests, want 0 and 1", sc.stats, sc.opens)
	}
	if data, err := afero.ReadFile(s.Fs(), meta("2.snapshot.json")); err != nil || !bytes.Equal(data, big) {
		t.Errorf("large role: %d bytes, %v", len(data), err)
	}
	if sc.ranges == 0 {
		t.Error("a large role was not streamed with ranged reads")
	}
	if _, err := s.Fs().Open(meta("timestamp.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("absent role: %v", err)
	}
	if _, err := s.Fs().Stat(meta("timestamp.json")); !errors.Is(err, fs.ErrNotExist) || sc.stats != 0 {
		t.Errorf("absent role stated again: %v, %d Stat requests", err, sc.stats)
	}
	put(t, sc, "metadata/timestamp.json", "other publisher")
	if err := afero.WriteFile(s.Fs(), meta("timestamp.json"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Commit(ctx); err == nil && !res.TimestampLost {
		t.Error("the session's timestamp was written over another publisher's")
	}
	if got, _ := storagetest.Read(t, sc, "metadata/timestamp.json"); got != "other publisher" {
		t.Errorf("timestamp.json is %q", got)
	}
}
