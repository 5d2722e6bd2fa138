package storagetest

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/storage"
)

// broken is storage.Memory with one semantic of a Backend broken.
type broken struct {
	*storage.Memory
	fault string
}

func (b broken) Put(ctx context.Context, name string, r io.Reader, o storage.PutOptions) error {
	switch b.fault {
	case "ignores-if-absent":
		o.IfAbsent = false
	case "ignores-if-match":
		o.IfMatch = ""
	case "drops-cache-control":
		o.CacheControl = ""
	case "ignores-cancel":
		ctx = context.WithoutCancel(ctx)
	}
	return b.Memory.Put(ctx, name, r, o)
}

func (b broken) Stat(ctx context.Context, name string) (storage.Attrs, error) {
	a, err := b.Memory.Stat(ctx, name)
	if b.fault == "constant-etag" {
		a.ETag = `"same"`
	}
	if b.fault == "bare-not-exist" && err != nil {
		err = errors.New("no such object")
	}
	return a, err
}

func (b broken) OpenRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	if b.fault == "range-ignores-length" {
		n = -1
	}
	return b.Memory.OpenRange(ctx, name, off, n)
}

func (b broken) List(ctx context.Context, prefix string, fn func(string, storage.Attrs) error) error {
	if b.fault != "unsorted-list" {
		return b.Memory.List(ctx, prefix, fn)
	}
	type entry struct {
		name string
		a    storage.Attrs
	}
	var all []entry
	b.Memory.List(ctx, prefix, func(n string, a storage.Attrs) error { all = append(all, entry{n, a}); return nil })
	slices.Reverse(all)
	for _, e := range all {
		if err := fn(e.name, e.a); err != nil {
			return err
		}
	}
	return nil
}

// TestBrokenBackendChild runs the suite on one broken backend; it is what
// TestSuiteCatchesBrokenBackends runs in a child process, and it skips
// otherwise.
func TestBrokenBackendChild(t *testing.T) {
	fault := os.Getenv("STORAGETEST_FAULT")
	if fault == "" {
		t.Skip("run by TestSuiteCatchesBrokenBackends")
	}
	var opts []Option
	if fault != "buffers-everything" {
		opts = append(opts, HoldsDataInMemory())
	}
	Run(t, func(*testing.T) storage.Backend { return broken{storage.NewMemory(), fault} }, opts...)
}

// TestSuiteCatchesBrokenBackends: for each semantic the suite checks, a
// backend that lacks it fails the suite, in the case that checks it.
func TestSuiteCatchesBrokenBackends(t *testing.T) {
	for fault, cases := range map[string][]string{
		"ignores-if-absent":    {"IfAbsent", "IfAbsentConcurrent"},
		"ignores-if-match":     {"IfMatch", "IfMatchConcurrent"},
		"drops-cache-control":  {"CacheControl"},
		"ignores-cancel":       {"CancelledPut"},
		"constant-etag":        {"ETagChangesWithContent"},
		"bare-not-exist":       {"NotExist"},
		"range-ignores-length": {"OpenRange"},
		"unsorted-list":        {"List"},
		"buffers-everything":   {"Stream64MiB"},
	} {
		t.Run(fault, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenBackendChild$", "-test.v")
			cmd.Env = append(os.Environ(), "STORAGETEST_FAULT="+fault)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a backend that %s:\n%s", fault, out)
			}
			for _, c := range cases {
				if !strings.Contains(string(out), "--- FAIL: TestBrokenBackendChild/"+c+" ") {
					t.Errorf("case %s did not fail on a backend that %s:\n%s", c, fault, out)
				}
			}
		})
	}
}
