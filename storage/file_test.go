package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/edgetuf/edgetuf/storage"
)

const (
	childEnv      = "EDGETUF_STORAGE_TEST_CHILD"
	childRounds   = 20
	childCount    = 4
	claimsPerTest = 20
)

// TestFileConditionsAcrossProcesses: four processes publish into one
// file:// directory at once. Each increments a counter by compare-and-swap
// and claims names with IfAbsent: no increment is lost and every name has
// exactly one owner, whose bytes it holds. (fileblob's own IfNotExist is a
// stat under an in-process mutex; across processes only the flock holds.)
func TestFileConditionsAcrossProcesses(t *testing.T) {
	if u := os.Getenv(childEnv); u != "" {
		runChild(t, u)
		return
	}
	u := fileURL(t)
	b := openURL(t, u)
	ctx := context.Background()
	if err := b.Put(ctx, "counter", strings.NewReader("0"), storage.PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	outs := make([]string, childCount)
	var wg sync.WaitGroup
	for i := range childCount {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestFileConditionsAcrossProcesses$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+u, "EDGETUF_CHILD_ID="+strconv.Itoa(i))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("child %d: %v\n%s", i, err, out)
			}
			outs[i] = string(out)
		}()
	}
	wg.Wait()
	if got := readAll(t, b, "counter"); got != strconv.Itoa(childCount*childRounds) {
		t.Errorf("counter = %s after %d compare-and-swap increments: updates were lost", got, childCount*childRounds)
	}
	owners := map[string][]int{}
	for i, out := range outs {
		for _, line := range strings.Split(out, "\n") {
			if name, ok := strings.CutPrefix(line, "won "); ok {
				owners[name] = append(owners[name], i)
			}
		}
	}
	for n := range claimsPerTest {
		name := fmt.Sprintf("metadata/%d.snapshot.json", n+1)
		if len(owners[name]) != 1 {
			t.Errorf("%s was created by %v, want exactly one", name, owners[name])
			continue
		}
		if got := readAll(t, b, name); got != fmt.Sprintf("child %d", owners[name][0]) {
			t.Errorf("%s holds %q, its creator was child %d", name, got, owners[name][0])
		}
	}
}

// runChild is one publisher process of TestFileConditionsAcrossProcesses.
func runChild(t *testing.T, u string) {
	b := openURL(t, u)
	ctx := context.Background()
	id := os.Getenv("EDGETUF_CHILD_ID")
	for n := range claimsPerTest {
		name := fmt.Sprintf("metadata/%d.snapshot.json", n+1)
		err := b.Put(ctx, name, strings.NewReader("child "+id), storage.PutOptions{IfAbsent: true})
		switch {
		case err == nil:
			fmt.Println("won " + name)
		case !errors.Is(err, storage.ErrPrecondition):
			t.Fatal(err)
		}
	}
	for done := 0; done < childRounds; {
		r, a, err := b.Open(ctx, "counter")
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(string(data))
		if err != nil {
			t.Fatalf("counter holds %q: a reader saw a partial write", data)
		}
		err = b.Put(ctx, "counter", strings.NewReader(strconv.Itoa(n+1)), storage.PutOptions{IfMatch: a.ETag})
		if err == nil {
			done++
		} else if !errors.Is(err, storage.ErrPrecondition) {
			t.Fatal(err)
		}
	}
}

func readAll(t *testing.T, b storage.Backend, name string) string {
	t.Helper()
	r, _, err := b.Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestFileNamesStayInside: names that would address something outside the
// directory (or are not plain relative names) are refused by every
// operation, and nothing is written outside.
func TestFileNamesStayInside(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "repo")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := openURL(t, "file://"+dir)
	ctx := context.Background()
	for _, name := range []string{"../escape", "/etc/passwd", "a/../../escape", "a//b", "./a", "a/", "", "a/./b", `a\..\escape`, "a\x00b"} {
		if err := b.Put(ctx, name, strings.NewReader("x"), storage.PutOptions{}); err == nil {
			t.Errorf("Put(%q) succeeded", name)
		}
		if _, err := b.Stat(ctx, name); err == nil || errors.Is(err, storage.ErrNotExist) {
			t.Errorf("Stat(%q) = %v, want a refusal", name, err)
		}
		if _, _, err := b.Open(ctx, name); err == nil {
			t.Errorf("Open(%q) succeeded", name)
		}
		if err := b.Delete(ctx, name); err == nil {
			t.Errorf("Delete(%q) succeeded", name)
		}
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Errorf("the parent directory holds %d entries, want only the repository", len(entries))
	}
}

// TestFileListHidesItsOwnFiles: the lock file and fileblob's temporary
// files (a write in progress, or one a crash interrupted) are not objects.
func TestFileListHidesItsOwnFiles(t *testing.T) {
	dir := t.TempDir()
	b := openURL(t, "file://"+dir)
	ctx := context.Background()
	if err := b.Put(ctx, "metadata/timestamp.json", strings.NewReader("{}"), storage.PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "metadata", "2.snapshot.json.18a2b3c4d5e6f708.tmp"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := b.List(ctx, "", func(n string, _ storage.Attrs) error { names = append(names, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "metadata/timestamp.json" {
		t.Fatalf("List = %v, want only metadata/timestamp.json", names)
	}
}

// TestFileFailedPutLeavesNothing: a Put whose reader fails leaves neither
// the name nor a temporary file behind.
func TestFileFailedPutLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	b := openURL(t, "file://"+dir)
	err := b.Put(context.Background(), "targets/a.bin", io.MultiReader(strings.NewReader("some bytes"), failingReader{}), storage.PutOptions{})
	if err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && fi.Name() != ".storage.lock" {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestFileReadOnlyDirectoryReadable: a repository directory the reader
// may not write (a read-only mount, another user's) is still readable:
// the shared lock is skipped where its file cannot be created; writing
// fails.
func TestFileReadOnlyDirectoryReadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to read-only directories anyway")
	}
	dir := t.TempDir()
	b := openURL(t, "file://"+dir)
	ctx := context.Background()
	if err := b.Put(ctx, "mrepo.json", strings.NewReader("{}"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, ".storage.lock")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	ro := openURL(t, "file://"+dir)
	if got := readAll(t, ro, "mrepo.json"); got != "{}" {
		t.Fatalf("read %q", got)
	}
	if err := ro.Put(ctx, "mrepo.json", strings.NewReader("x"), storage.PutOptions{}); err == nil {
		t.Fatal("Put into a read-only directory succeeded")
	}
}
