package client_test

// Metadata size limits: whatever length signed metadata declares, the
// client downloads at most its own limit for each role.

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/edgetuf/edgetuf/client"
)

// TestHugeSnapshotDeclaredByTimestampKey: the timestamp key alone (no
// other key) declares a 200 MB snapshot, and the server streams 200 MB.
// Before, the device downloaded and buffered it all on every poll (about
// 400 MiB allocated, 428 MB RSS in mclient). Now it reads at most the
// snapshot limit (2000000 bytes) plus one byte, allocates a few MiB, and
// fails LENGTH_EXCEEDED; with a Content-Length it refuses before reading
// the body. Not parallel: it measures the process's allocations.
func TestHugeSnapshotDeclaredByTimestampKey(t *testing.T) {
	const declared = 200_000_000
	for _, withLength := range []bool{false, true} {
		t.Run(fmt.Sprintf("Content-Length %v", withLength), func(t *testing.T) {
			r, srv, d := onV1(t)
			dir := snapshotRepo(t, r)
			f := forge(t, dir)
			sm := f.ts.Signed.Meta["snapshot.json"]
			sm.Version++ // a snapshot the device has not seen
			sm.Length = declared
			sm.Hashes = nil
			f.publishTimestamp(trustedSigner(t, r, "timestamp"))
			var written atomic.Int64
			srv.set(faultHandler(dirHandler(dir), fmt.Sprintf("/%d.snapshot.json", sm.Version), func(_ int, w http.ResponseWriter, _ *http.Request) bool {
				if withLength {
					w.Header().Set("Content-Length", fmt.Sprint(declared))
				}
				chunk := []byte(strings.Repeat(" ", 64<<10))
				for written.Load() < declared {
					n, err := w.Write(chunk)
					written.Add(int64(n))
					if err != nil {
						break
					}
				}
				return true
			}))
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res := d.wantFail(client.LengthExceeded, "1.0.0")
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("server wrote %d bytes before the client hung up; %d KiB allocated in the process during the update; %s",
				written.Load(), alloc>>10, res.Message)
			if !strings.Contains(res.Message, "Options.MaxSnapshotSize") {
				t.Fatalf("reason %q does not name the limit", res.Message)
			}
			// The socket buffers hold a few MiB that the server could write
			// without the client reading them.
			if w := written.Load(); w > client.DefaultMaxSnapshotSize+32<<20 {
				t.Fatalf("the server wrote %d bytes", w)
			}
			if alloc > 32<<20 {
				t.Fatalf("%d MiB allocated", alloc>>20)
			}
		})
	}
}

// TestMetadataLimitsEveryRole: each role's limit applies, configurable in
// Options, even to genuine metadata whose signed length is larger: a
// limit below the genuine size refuses it (LENGTH_EXCEEDED, naming the
// limit). A new root version is not signed by anything the device
// checks before downloading it, so its limit is the only bound.
func TestMetadataLimitsEveryRole(t *testing.T) {
	t.Parallel()
	size := func(t *testing.T, dir, suffix string) int64 {
		t.Helper()
		matches, _ := filepath.Glob(filepath.Join(dir, "metadata", "*"+suffix))
		var best int64
		for _, m := range matches {
			fi, err := os.Stat(m)
			if err != nil {
				t.Fatal(err)
			}
			best = max(best, fi.Size())
		}
		if best == 0 {
			t.Fatalf("no %s in %s", suffix, dir)
		}
		return best
	}
	t.Run("root", func(t *testing.T) {
		t.Parallel()
		r, srv, d := onV1(t)
		srv.set(faultHandler(dirHandler(r.Dir), "/metadata/2.root.json", func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			w.Write([]byte(strings.Repeat(" ", client.DefaultMaxRootSize+1)))
			return true
		}))
		res := d.wantFail(client.LengthExceeded, "1.0.0")
		if !strings.Contains(res.Message, "Options.MaxRootSize") {
			t.Fatalf("reason %q", res.Message)
		}
	})
	for _, tc := range []struct {
		role, suffix string
		set          func(o *client.Options, n int64)
	}{
		{"timestamp", "timestamp.json", func(o *client.Options, n int64) { o.MaxTimestampSize = n }},
		{"snapshot", ".snapshot.json", func(o *client.Options, n int64) { o.MaxSnapshotSize = n }},
		{"targets", ".targets.json", func(o *client.Options, n int64) { o.MaxTargetsSize = n }},
	} {
		t.Run(tc.role, func(t *testing.T) {
			t.Parallel()
			r, _, d := onV1(t)
			publish(t, r, smallSize, "1.1.0")
			opts := fastOpts()
			tc.set(&opts, size(t, r.Dir, tc.suffix)-1)
			d.reopen(opts)
			res := d.wantFail(client.LengthExceeded, "1.0.0")
			if !strings.Contains(res.Message, "limit for "+tc.role+" metadata") {
				t.Fatalf("reason %q", res.Message)
			}
		})
	}
	t.Run("delegated role", func(t *testing.T) {
		t.Parallel()
		r, _, d := onV1Delegated(t)
		top, role := size(t, r.Dir, ".targets.json"), size(t, r.Dir, ".det-team.json")
		if role <= top {
			t.Fatalf("the role's metadata (%d bytes) is not larger than targets.json (%d)", role, top)
		}
		opts := fastOpts()
		opts.MaxTargetsSize = role - 1
		d.reopen(opts)
		res := d.wantFail(client.LengthExceeded, "1.0.0")
		if !strings.Contains(res.Message, "limit for delegated targets metadata") {
			t.Fatalf("reason %q", res.Message)
		}
		d.reopen(fastOpts())
		d.mustUpdate("1.1.0")
	})
}
