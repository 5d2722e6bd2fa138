// Package storagetest is the test suite every storage.Backend passes: the
// semantics the repository writer builds lock-free publishing on
// (conditional creation, compare-and-swap, ETags, Cache-Control, ranged
// reads, listing, streaming, cancellation). Each implementation's tests
// call Run with a constructor of fresh, empty backends; it is test support
// only.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/edgetuf/edgetuf/storage"
)

// Option adjusts Run to what a backend is.
type Option func(*config)

type config struct {
	inMemory bool
}

// HoldsDataInMemory is for backends that keep objects in this process's
// memory (storage.Memory): the 64 MiB streaming test then checks the
// content only, not that the Put did not buffer it.
func HoldsDataInMemory() Option { return func(c *config) { c.inMemory = true } }

// Run runs the suite, each case as a subtest on a fresh, empty backend
// that newBackend returns; Run closes it when the subtest ends.
func Run(t *testing.T, newBackend func(t *testing.T) storage.Backend, opts ...Option) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	cases := []struct {
		name string
		fn   func(t *testing.T, b storage.Backend)
	}{
		{"PutOpenStat", testPutOpenStat},
		{"NotExist", testNotExist},
		{"IfAbsent", testIfAbsent},
		{"IfAbsentConcurrent", testIfAbsentConcurrent},
		{"IfMatch", testIfMatch},
		{"IfMatchConcurrent", testIfMatchConcurrent},
		{"ETagChangesWithContent", testETagChanges},
		{"CacheControl", testCacheControl},
		{"OpenRange", testOpenRange},
		{"List", testList},
		{"Delete", testDelete},
		{"CancelledPut", testCancelledPut},
		{"Stream64MiB", func(t *testing.T, b storage.Backend) { testStream(t, b, c.inMemory) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			t.Cleanup(func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, b)
		})
	}
}

var ctx = context.Background()

func put(t *testing.T, b storage.Backend, name, data string, o storage.PutOptions) error {
	t.Helper()
	o.Size, o.SizeKnown = int64(len(data)), true
	return b.Put(ctx, name, strings.NewReader(data), o)
}

func mustPut(t *testing.T, b storage.Backend, name, data string, o storage.PutOptions) {
	t.Helper()
	if err := put(t, b, name, data, o); err != nil {
		t.Fatalf("Put %s: %v", name, err)
	}
}

// Read returns the content of name in b and the attributes Open returned;
// any failure is fatal to t.
func Read(t testing.TB, b storage.Backend, name string) (string, storage.Attrs) {
	t.Helper()
	r, a, err := b.Open(ctx, name)
	if err != nil {
		t.Fatalf("Open %s: %v", name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return string(data), a
}

func stat(t *testing.T, b storage.Backend, name string) storage.Attrs {
	t.Helper()
	a, err := b.Stat(ctx, name)
	if err != nil {
		t.Fatalf("Stat %s: %v", name, err)
	}
	return a
}

func wantContent(t *testing.T, b storage.Backend, name, want string) {
	t.Helper()
	if got, _ := Read(t, b, name); got != want {
		t.Fatalf("%s holds %q, want %q", name, got, want)
	}
}

func wantNotExist(t *testing.T, b storage.Backend, name string) {
	t.Helper()
	_, err := b.Stat(ctx, name)
	if !errors.Is(err, storage.ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat %s = %v, want storage.ErrNotExist (and fs.ErrNotExist)", name, err)
	}
}

func wantPrecondition(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, storage.ErrPrecondition) {
		t.Fatalf("%s: err = %v, want storage.ErrPrecondition", what, err)
	}
}

func testPutOpenStat(t *testing.T, b storage.Backend) {
	name := "metadata/1.root.json"
	mustPut(t, b, name, `{"signed":1}`, storage.PutOptions{ContentType: "application/json"})
	got, a := Read(t, b, name)
	if got != `{"signed":1}` || a.Size != int64(len(got)) {
		t.Fatalf("Open: %q, size %d", got, a.Size)
	}
	if a.ETag == "" {
		t.Fatal("Open returned no ETag")
	}
	if s := stat(t, b, name); s.Size != a.Size || s.ETag != a.ETag {
		t.Fatalf("Stat %+v and Open %+v disagree", s, a)
	}
	// An unconditional Put replaces the object; an empty object is one.
	mustPut(t, b, name, "", storage.PutOptions{})
	if got, a := Read(t, b, name); got != "" || a.Size != 0 {
		t.Fatalf("after overwrite with nothing: %q, size %d", got, a.Size)
	}
	if b.String() == "" {
		t.Error("String is empty")
	}
}

func testNotExist(t *testing.T, b storage.Backend) {
	mustPut(t, b, "metadata/1.root.json", "x", storage.PutOptions{})
	for _, name := range []string{"metadata/2.root.json", "metadata", "metadata/1.root.json/x", "none"} {
		wantNotExist(t, b, name)
		if _, _, err := b.Open(ctx, name); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("Open %s = %v, want storage.ErrNotExist", name, err)
		}
		if r, err := b.OpenRange(ctx, name, 0, 1); !errors.Is(err, storage.ErrNotExist) {
			if err == nil {
				r.Close()
			}
			t.Errorf("OpenRange %s = %v, want storage.ErrNotExist", name, err)
		}
	}
}

func testIfAbsent(t *testing.T, b storage.Backend) {
	name := "metadata/7.snapshot.json"
	mustPut(t, b, name, "first", storage.PutOptions{IfAbsent: true})
	wantPrecondition(t, put(t, b, name, "second", storage.PutOptions{IfAbsent: true}), "IfAbsent on an existing name")
	wantContent(t, b, name, "first")
}

// concurrently runs 8 writers of name (writer i writes "writer i") and
// returns which succeeded; every failure must be ErrPrecondition.
func concurrently(t *testing.T, b storage.Backend, name string, o storage.PutOptions) []int {
	t.Helper()
	const writers = 8
	errs := make([]error, writers)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			data := fmt.Sprintf("writer %d", i)
			errs[i] = b.Put(ctx, name, strings.NewReader(data), storage.PutOptions{IfAbsent: o.IfAbsent, IfMatch: o.IfMatch, Size: int64(len(data)), SizeKnown: true})
		}()
	}
	start.Done()
	wg.Wait()
	var won []int
	for i, err := range errs {
		if err == nil {
			won = append(won, i)
		} else if !errors.Is(err, storage.ErrPrecondition) {
			t.Errorf("writer %d: %v, want success or storage.ErrPrecondition", i, err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d of 8 concurrent conditional writers succeeded (%v), want exactly 1", len(won), won)
	}
	wantContent(t, b, name, fmt.Sprintf("writer %d", won[0]))
	return won
}

func testIfAbsentConcurrent(t *testing.T, b storage.Backend) {
	concurrently(t, b, "metadata/8.snapshot.json", storage.PutOptions{IfAbsent: true})
}

func testIfMatch(t *testing.T, b storage.Backend) {
	name := "metadata/timestamp.json"
	// IfMatch on a name that does not exist fails and creates nothing.
	wantPrecondition(t, put(t, b, name, "v0", storage.PutOptions{IfMatch: `"0123456789abcdef"`}), "IfMatch on a missing name")
	wantNotExist(t, b, name)

	mustPut(t, b, name, "v1", storage.PutOptions{IfAbsent: true})
	v1 := stat(t, b, name).ETag
	mustPut(t, b, name, "v2", storage.PutOptions{IfMatch: v1})
	wantContent(t, b, name, "v2")
	// The ETag read before the last write is stale now.
	wantPrecondition(t, put(t, b, name, "v3", storage.PutOptions{IfMatch: v1}), "IfMatch with a stale ETag")
	wantPrecondition(t, put(t, b, name, "v3", storage.PutOptions{IfMatch: `"not-an-etag"`}), "IfMatch with a made-up ETag")
	wantContent(t, b, name, "v2")
	_, a := Read(t, b, name)
	mustPut(t, b, name, "v3", storage.PutOptions{IfMatch: a.ETag})
	wantContent(t, b, name, "v3")
}

func testIfMatchConcurrent(t *testing.T, b storage.Backend) {
	name := "metadata/timestamp.json"
	mustPut(t, b, name, "start", storage.PutOptions{})
	concurrently(t, b, name, storage.PutOptions{IfMatch: stat(t, b, name).ETag})
}

func testETagChanges(t *testing.T, b storage.Backend) {
	name := "metadata/timestamp.json"
	seen := map[string]string{}
	for _, data := range []string{"a", "b", "ab", strings.Repeat("x", 1000), strings.Repeat("x", 999) + "y"} {
		mustPut(t, b, name, data, storage.PutOptions{})
		etag := stat(t, b, name).ETag
		if prev, ok := seen[etag]; ok {
			t.Fatalf("ETag %s for both %q and %q", etag, prev, data)
		}
		seen[etag] = data
	}
}

func testCacheControl(t *testing.T, b storage.Backend) {
	for name, cc := range map[string]string{
		"metadata/3.targets.json": "public, max-age=31536000, immutable",
		"metadata/timestamp.json": "public, max-age=30",
		"mrepo.json":              "no-store",
	} {
		mustPut(t, b, name, "{}", storage.PutOptions{CacheControl: cc})
		if got := stat(t, b, name).CacheControl; got != cc {
			t.Errorf("Stat %s: Cache-Control %q, want %q", name, got, cc)
		}
		if _, a := Read(t, b, name); a.CacheControl != cc {
			t.Errorf("Open %s: Cache-Control %q, want %q", name, a.CacheControl, cc)
		}
	}
}

func readRange(t *testing.T, b storage.Backend, name string, off, n int64) string {
	t.Helper()
	r, err := b.OpenRange(ctx, name, off, n)
	if err != nil {
		t.Fatalf("OpenRange %s %d+%d: %v", name, off, n, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading range %d+%d: %v", off, n, err)
	}
	return string(data)
}

func testOpenRange(t *testing.T, b storage.Backend) {
	name := "targets/m/0123.model.bin"
	mustPut(t, b, name, "0123456789", storage.PutOptions{})
	for _, c := range []struct {
		off, n int64
		want   string
	}{{0, 10, "0123456789"}, {3, 4, "3456"}, {7, -1, "789"}, {0, -1, "0123456789"}, {9, 1, "9"}, {5, 100, "56789"}} {
		if got := readRange(t, b, name, c.off, c.n); got != c.want {
			t.Errorf("OpenRange(%d, %d) = %q, want %q", c.off, c.n, got, c.want)
		}
	}
}

func testList(t *testing.T, b storage.Backend) {
	names := []string{"metadata/2.root.json", "metadata/1.root.json", "metadata/10.root.json", "metadatax", "targets/a/b/c.bin", "targets/a/b.bin", "mrepo.json"}
	for _, n := range names {
		mustPut(t, b, n, n, storage.PutOptions{})
	}
	list := func(prefix string) []string {
		var got []string
		err := b.List(ctx, prefix, func(name string, a storage.Attrs) error {
			if a.Size != int64(len(name)) {
				t.Errorf("List: %s has size %d, want %d", name, a.Size, len(name))
			}
			got = append(got, name)
			return nil
		})
		if err != nil {
			t.Fatalf("List %q: %v", prefix, err)
		}
		return got
	}
	for prefix, want := range map[string][]string{
		"metadata/": {"metadata/1.root.json", "metadata/10.root.json", "metadata/2.root.json"},
		"metadata":  {"metadata/1.root.json", "metadata/10.root.json", "metadata/2.root.json", "metadatax"},
		"targets/a": {"targets/a/b.bin", "targets/a/b/c.bin"},
		"":          {"metadata/1.root.json", "metadata/10.root.json", "metadata/2.root.json", "metadatax", "mrepo.json", "targets/a/b.bin", "targets/a/b/c.bin"},
		"nothing/":  nil,
	} {
		if got := list(prefix); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("List %q = %v, want %v", prefix, got, want)
		}
	}
	// An error from fn stops the listing and is returned.
	stop := errors.New("stop")
	calls := 0
	err := b.List(ctx, "metadata/", func(string, storage.Attrs) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with fn failing: err %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func testDelete(t *testing.T, b storage.Backend) {
	name := "staged/targets/m.json"
	mustPut(t, b, name, "x", storage.PutOptions{})
	for range 2 { // deleting a missing name is not an error
		if err := b.Delete(ctx, name); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		wantNotExist(t, b, name)
	}
	// A deleted name can be created again, conditionally.
	mustPut(t, b, name, "y", storage.PutOptions{IfAbsent: true})
	wantContent(t, b, name, "y")
}

// cancelAfter is a reader of n bytes that cancels a context once it has
// handed out half of them.
type cancelAfter struct {
	n, done int64
	cancel  context.CancelFunc
}

func (r *cancelAfter) Read(p []byte) (int, error) {
	if r.done >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.done)]
	clear(p)
	r.done += int64(len(p))
	if r.done >= r.n/2 {
		r.cancel()
	}
	return len(p), nil
}

func testCancelledPut(t *testing.T, b storage.Backend) {
	// Cancelled before it starts: refused, nothing written.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Put(cctx, "targets/before.bin", strings.NewReader("x"), storage.PutOptions{}); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	wantNotExist(t, b, "targets/before.bin")

	// Cancelled halfway through the upload: fails, and leaves nothing
	// behind, neither a new object nor a part of one over an old one.
	const size = 16 << 20
	for _, name := range []string{"targets/new.bin", "targets/old.bin"} {
		if name == "targets/old.bin" {
			mustPut(t, b, name, "old", storage.PutOptions{})
		}
		cctx, cancel := context.WithCancel(ctx)
		err := b.Put(cctx, name, &cancelAfter{n: size, cancel: cancel}, storage.PutOptions{Size: size, SizeKnown: true})
		cancel()
		if err == nil {
			t.Fatalf("Put %s cancelled halfway succeeded", name)
		}
		if name == "targets/new.bin" {
			wantNotExist(t, b, name)
		} else {
			wantContent(t, b, name, "old")
		}
	}
}

// pattern is a deterministic stream of n pseudo-random bytes (not
// compressible, not repeated) that records the largest live heap seen
// while it is read, sampled after a garbage collection every 4 MiB.
type pattern struct {
	rng      *rand.ChaCha8
	n, done  int64
	next     int64
	base     uint64
	peakHeap uint64
}

func newPattern(n int64) *pattern {
	return &pattern{rng: rand.NewChaCha8([32]byte{'e', 'd', 'g', 'e', 't', 'u', 'f'}), n: n, base: liveHeap()}
}

// reference is the same stream, without the heap sampling.
func reference(n int64) *pattern {
	p := newPattern(n)
	p.next = math.MaxInt64
	return p
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.done >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.done)]
	p.rng.Read(b)
	p.done += int64(len(b))
	if p.done >= p.next {
		p.next += 4 << 20
		if h := liveHeap(); h > p.base && h-p.base > p.peakHeap {
			p.peakHeap = h - p.base
		}
	}
	return len(b), nil
}

func testStream(t *testing.T, b storage.Backend, inMemory bool) {
	const size = 64 << 20
	name := "targets/models/big/1.0.0/0123.model.bin"
	src := newPattern(size)
	if err := b.Put(ctx, name, src, storage.PutOptions{Size: size, SizeKnown: true, IfAbsent: true}); err != nil {
		t.Fatalf("Put of %d bytes: %v", size, err)
	}
	if src.done != size {
		t.Fatalf("Put read %d of %d bytes", src.done, size)
	}
	// Half the object is the bound: a backend that buffers upload parts
	// must keep their size times their number well below it.
	if !inMemory && src.peakHeap > size/2 {
		t.Errorf("Put held %d MiB of a %d MiB object in memory at once: it must stream", src.peakHeap>>20, size>>20)
	}
	if a := stat(t, b, name); a.Size != size {
		t.Fatalf("stored size %d, want %d", a.Size, size)
	}
	want := sha256.New()
	io.Copy(want, reference(size))
	r, _, err := b.Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := sha256.New()
	if n, err := io.Copy(got, r); err != nil || n != size {
		t.Fatalf("reading back: %d bytes, %v", n, err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("the object read back differs from what was written")
	}
	// A range deep inside the object.
	const off = 40<<20 + 7
	ref := reference(off + 100)
	io.CopyN(io.Discard, ref, off)
	wantRange := make([]byte, 100)
	io.ReadFull(ref, wantRange)
	if gotRange := readRange(t, b, name, off, 100); gotRange != string(wantRange) {
		t.Fatal("OpenRange deep inside a large object returned other bytes")
	}
}
