package client_test

// Transfer faults: endless data, dropped and stalled connections, servers
// that ignore or mangle Range, damaged staging files, low storage.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

const bigSize = 1 << 20 // large enough for several cut points, small enough to be quick

// faultHandler lets fault answer the requests whose URL path ends in
// suffix; n counts them from 0. fault returns false to let the genuine
// handler answer.
func faultHandler(inner http.Handler, suffix string, fault func(n int, w http.ResponseWriter, req *http.Request) bool) http.Handler {
	var mu sync.Mutex
	count := 0
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, suffix) {
			mu.Lock()
			n := count
			count++
			mu.Unlock()
			if fault(n, w, req) {
				return
			}
		}
		inner.ServeHTTP(w, req)
	})
}

// cutWriter passes through left bytes of the body, then drops the
// connection.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if int64(len(p)) < w.left {
		n, err := w.ResponseWriter.Write(p)
		w.left -= int64(n)
		return n, err
	}
	w.ResponseWriter.Write(p[:w.left])
	w.ResponseWriter.(http.Flusher).Flush()
	panic(http.ErrAbortHandler) // net/http closes the connection
}

// cut serves the genuine response but drops the connection after k bytes.
func cut(inner http.Handler, k int64, w http.ResponseWriter, req *http.Request) {
	inner.ServeHTTP(&cutWriter{ResponseWriter: w, left: k}, req)
}

// onV1Big is onV1 with 1.1.0 (bigSize) published; the device has not seen it.
func onV1Big(t *testing.T) (*testrepo.Repo, *server, *device) {
	t.Helper()
	r, srv, d := onV1(t)
	publish(t, r, bigSize, "1.1.0")
	return r, srv, d
}

// otherBytes is the size of 1.1.0's manifest and labels.txt.
func otherBytes(t *testing.T, r *testrepo.Repo) int64 {
	t.Helper()
	var n int64
	for _, f := range []string{targets.ManifestName, "labels.txt"} {
		fi, err := os.Stat(r.TargetFile(t, targets.TargetPath(model, "1.1.0", f)))
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

func ranges(rs []reqInfo) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Range)
	}
	return out
}

// TestEndlessPayloadCutOff: the server streams past the signed length.
func TestEndlessPayloadCutOff(t *testing.T) {
	r, srv, d := onV1Big(t)
	genuine, err := os.ReadFile(r.TargetFile(t, targets.TargetPath(model, "1.1.0", "model.bin")))
	if err != nil {
		t.Fatal(err)
	}
	var written atomic.Int64
	const giveUp = 256 << 20
	srv.set(faultHandler(dirHandler(r.Dir), ".model.bin", func(_ int, w http.ResponseWriter, req *http.Request) bool {
		// No Content-Length: the genuine bytes, then zeros until the
		// client hangs up.
		w.Header().Set("Content-Type", "application/octet-stream")
		n, err := w.Write(genuine)
		written.Add(int64(n))
		zeros := make([]byte, 64<<10)
		for err == nil && written.Load() < giveUp {
			n, err = w.Write(zeros)
			written.Add(int64(n))
		}
		return true
	}))
	var maxDone, maxTotal atomic.Int64
	opts := fastOpts()
	opts.Progress = func(file string, done, total int64) {
		if file == "model.bin" {
			if done > maxDone.Load() {
				maxDone.Store(done)
			}
			maxTotal.Store(total)
		}
	}
	d.reopen(opts)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d.wantFail(client.LengthExceeded, "1.0.0")
	runtime.ReadMemStats(&after)
	// The client streams with a few fixed buffers: what it allocates in
	// all (server included, it shares the process) stays far below what
	// the server offered.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 48<<20 {
		t.Fatalf("%d MiB allocated during the update", alloc>>20)
	}
	d.wantNotInstalled("1.1.0")
	if maxTotal.Load() != bigSize || maxDone.Load() > bigSize {
		t.Fatalf("progress reached %d of %d: past the signed length", maxDone.Load(), maxTotal.Load())
	}
	if _, err := os.Stat(d.path("staging", model, "1.1.0", "model.bin.part")); !os.IsNotExist(err) {
		t.Fatalf("the overlong staged file was kept (%v)", err)
	}
	// The client hung up right after the signed length: the server could
	// only push what the socket buffers hold.
	if w := written.Load(); w >= giveUp || w > bigSize+32<<20 {
		t.Fatalf("the server wrote %d bytes before the client hung up", w)
	}
}

// TestEndlessMetadataCutOff: metadata is bounded too.
func TestEndlessMetadataCutOff(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	srv.set(faultHandler(dirHandler(r.Dir), "/metadata/timestamp.json", func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.Write([]byte(`{"signed":{"_type":"timestamp","spec_version":"1.0","version":99,"expires":"2099-01-01T00:00:00Z","meta":{"snapshot.json":{"version":1}}},"signatures":[],"pad":"`))
		zeros := []byte(strings.Repeat("0", 64<<10))
		for i := 0; i < 1024; i++ {
			if _, err := w.Write(zeros); err != nil {
				break
			}
		}
		return true
	}))
	d.wantFail(client.LengthExceeded, "1.0.0")
}

// TestResumeAfterDrops: the connection drops three times; each retry
// resumes where the last one stopped.
func TestResumeAfterDrops(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1Big(t)
	const k = 200 << 10
	srv.set(faultHandler(dirHandler(r.Dir), ".model.bin", func(n int, w http.ResponseWriter, req *http.Request) bool {
		if n < 3 {
			cut(dirHandler(r.Dir), k, w, req)
			return true
		}
		return false
	}))
	res := d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
	want := []string{"", fmt.Sprintf("bytes=%d-", k), fmt.Sprintf("bytes=%d-", 2*k), fmt.Sprintf("bytes=%d-", 3*k)}
	if got := ranges(srv.requests("/targets/models/det/1.1.0/")[2:]); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("model.bin requests with Range %q, want %q", got, want)
	}
	if total := bigSize + otherBytes(t, r); res.BytesDownloaded != total {
		t.Fatalf("downloaded %d bytes, the files are %d: resuming must not fetch anything twice", res.BytesDownloaded, total)
	}
}

// TestResumeAfterStall: a connection that stops sending is abandoned after
// StallTimeout and the transfer resumes on a new one.
func TestResumeAfterStall(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	const size = 3 << 20 // three buffers of the downloader
	publish(t, r, size, "1.1.0")
	opts := fastOpts()
	timers := client.UseManualTimers(&opts)
	d.reopen(opts)
	const k = 1 << 20 // one buffer of the downloader: written to staging as it arrives
	data, err := os.ReadFile(r.TargetFile(t, targets.TargetPath(model, "1.1.0", "model.bin")))
	if err != nil {
		t.Fatal(err)
	}
	stalled := make(chan struct{})
	srv.set(faultHandler(dirHandler(r.Dir), ".model.bin", func(n int, w http.ResponseWriter, req *http.Request) bool {
		if n > 0 {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write(data[:k])
		w.(http.Flusher).Flush()
		close(stalled)
		<-req.Context().Done() // stall until the client gives up
		return true
	}))
	done := make(chan *client.Result)
	go func() {
		res, err := d.c.Update(context.Background(), client.UpdateRequest{ModelID: model})
		if err != nil {
			t.Errorf("update: %v", err)
		}
		done <- res
	}()
	// Once the first k bytes are staged and nothing more comes, the stall
	// watchdog fires (by the test's hand, not after real time).
	<-stalled
	waitFor(t, "the first bytes to be staged", func() bool { return d.stagedFiles()["1.1.0/model.bin.part"] == k })
	if n := timers.Fire(opts.StallTimeout); n != 1 {
		t.Fatalf("%d stall watchdogs running, want the stalled download's", n)
	}
	res := <-done
	if res.Version != "1.1.0" {
		t.Fatalf("after the stall: %+v", res)
	}
	if got := ranges(srv.requests("/targets/models/det/1.1.0/")[2:]); fmt.Sprint(got) != fmt.Sprint([]string{"", fmt.Sprintf("bytes=%d-", k)}) {
		t.Fatalf("model.bin requests with Range %q", got)
	}
	if total := size + otherBytes(t, r); res.BytesDownloaded != total {
		t.Fatalf("downloaded %d, want %d", res.BytesDownloaded, total)
	}
	d.wantActive("1.1.0")
}

// TestServerIgnoresRange: a server that always answers 200 makes the
// client start over, and the update still completes.
func TestServerIgnoresRange(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1Big(t)
	const k = 100 << 10
	inner := dirHandler(r.Dir)
	srv.set(faultHandler(inner, ".model.bin", func(n int, w http.ResponseWriter, req *http.Request) bool {
		req.Header.Del("Range")
		if n == 0 {
			cut(inner, k, w, req)
			return true
		}
		return false
	}))
	res := d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
	if got := ranges(srv.requests("/targets/models/det/1.1.0/")[2:]); fmt.Sprint(got) != fmt.Sprint([]string{"", fmt.Sprintf("bytes=%d-", k)}) {
		t.Fatalf("model.bin requests with Range %q (all: %v)", got, srv.requests("/"))
	}
	if total := bigSize + otherBytes(t, r) + k; res.BytesDownloaded != total {
		t.Fatalf("downloaded %d, want %d (the cut-off part, then everything again)", res.BytesDownloaded, total)
	}
}

// TestContentRangeHandling: a 206 that starts earlier than asked is
// skipped forward; one that starts later than asked is never used.
func TestContentRangeHandling(t *testing.T) {
	t.Parallel()
	t.Run("earlier", func(t *testing.T) {
		r, srv, d := onV1Big(t)
		const k = 100 << 10
		inner := dirHandler(r.Dir)
		srv.set(faultHandler(inner, ".model.bin", func(n int, w http.ResponseWriter, req *http.Request) bool {
			switch n {
			case 0:
				cut(inner, k, w, req)
			case 1:
				if req.Header.Get("Range") != fmt.Sprintf("bytes=%d-", k) {
					t.Errorf("second request Range %q", req.Header.Get("Range"))
				}
				req.Header.Set("Range", fmt.Sprintf("bytes=%d-", k-1000))
				inner.ServeHTTP(w, req)
			default:
				return false
			}
			return true
		}))
		d.mustUpdate("1.1.0")
		d.wantActive("1.1.0")
	})
	t.Run("later", func(t *testing.T) {
		r, srv, d := onV1Big(t)
		const k = 100 << 10
		inner := dirHandler(r.Dir)
		srv.set(faultHandler(inner, ".model.bin", func(n int, w http.ResponseWriter, req *http.Request) bool {
			if n == 0 {
				cut(inner, k, w, req)
				return true
			}
			// Skips 1000 bytes the client does not have.
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", k+1000))
			inner.ServeHTTP(w, req)
			return true
		}))
		opts := fastOpts()
		opts.Retries = 2
		d.reopen(opts)
		d.wantFail(client.Network, "1.0.0")
		if n := len(srv.requests("/targets/models/det/1.1.0/")) - 2; n != 3 {
			t.Fatalf("%d model.bin requests, want 3 (Retries 2)", n)
		}
		// What was kept is the genuine prefix: the fixed server completes it.
		if got := d.stagedFiles()["1.1.0/model.bin.part"]; got != k {
			t.Fatalf("staged %d bytes, want %d", got, k)
		}
		srv.set(inner)
		res := d.mustUpdate("1.1.0")
		if res.BytesResumed < k {
			t.Fatalf("%+v: the staged prefix was not reused", res)
		}
		d.wantActive("1.1.0")
	})
}

// interrupted leaves 1.1.0's model.bin partly staged: every transfer is
// cut after k bytes and the update fails after its retries.
func interrupted(t *testing.T, r *testrepo.Repo, srv *server, d *device, k int64) {
	t.Helper()
	inner := dirHandler(r.Dir)
	srv.set(faultHandler(inner, ".model.bin", func(_ int, w http.ResponseWriter, req *http.Request) bool {
		cut(inner, k, w, req)
		return true
	}))
	opts := fastOpts()
	opts.Retries = 1
	d.reopen(opts)
	d.wantFail(client.Network, "1.0.0")
	if got := d.stagedFiles()["1.1.0/model.bin.part"]; got != 2*k {
		t.Fatalf("staged %d bytes of model.bin, want %d", got, 2*k)
	}
	srv.set(inner)
	srv.reset()
	d.reopen(fastOpts())
}

// TestResumeAcrossRuns: a failed update keeps what arrived; the next one
// re-hashes it and downloads only the rest.
func TestResumeAcrossRuns(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1Big(t)
	const k = 150 << 10
	interrupted(t, r, srv, d, k)
	res := d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
	if res.BytesDownloaded != bigSize-2*k || res.BytesResumed != 2*k+otherBytes(t, r) {
		t.Fatalf("downloaded %d, resumed %d; want %d and %d", res.BytesDownloaded, res.BytesResumed, bigSize-2*k, 2*k+otherBytes(t, r))
	}
	if got := ranges(srv.requests("/targets/")); fmt.Sprint(got) != fmt.Sprint([]string{fmt.Sprintf("bytes=%d-", 2*k)}) {
		t.Fatalf("requests %v: only the rest of model.bin should be fetched", srv.requests("/targets/"))
	}
	if len(d.stagedFiles()) != 0 {
		t.Fatalf("staging not cleaned: %v", d.stagedFiles())
	}
}

// TestCorruptStagingDetected damages staged files between runs.
func TestCorruptStagingDetected(t *testing.T) {
	t.Parallel()
	t.Run("partial file", func(t *testing.T) {
		r, srv, d := onV1Big(t)
		const k = 150 << 10
		interrupted(t, r, srv, d, k)
		flipByte(t, d.path("staging", model, "1.1.0", "model.bin.part"), 1000)
		// The damaged prefix is only detectable by the final hash: the
		// download must then start over rather than fail the update.
		res := d.mustUpdate("1.1.0")
		d.wantActive("1.1.0")
		if got := ranges(srv.requests("/targets/")); fmt.Sprint(got) != fmt.Sprint([]string{fmt.Sprintf("bytes=%d-", 2*k), ""}) {
			t.Fatalf("requests with Range %q: want the rest, then everything again", got)
		}
		if res.BytesResumed >= 2*k {
			t.Fatalf("%+v: the damaged prefix was counted as kept", res)
		}
	})
	for _, tc := range []struct {
		name string
		size int
	}{{"full length", bigSize}, {"overlong", bigSize + 10}} {
		t.Run(tc.name, func(t *testing.T) {
			r, srv, d := onV1Big(t)
			dir := d.path("staging", model, "1.1.0")
			os.MkdirAll(dir, 0o700)
			os.WriteFile(filepath.Join(dir, "model.bin.part"), payload(99, tc.size), 0o600)
			res := d.mustUpdate("1.1.0")
			d.wantActive("1.1.0")
			if res.BytesResumed != 0 || res.BytesDownloaded != bigSize+otherBytes(t, r) {
				t.Fatalf("%+v", res)
			}
			if got := ranges(srv.requests("/targets/models/det/1.1.0/")); fmt.Sprint(got) != "[  ]" {
				t.Fatalf("Range headers %q: the staged copy must be discarded whole", got)
			}
		})
	}
	t.Run("leftovers of a killed process", func(t *testing.T) {
		_, _, d := onV1Big(t)
		for _, p := range []string{d.path("models", model, ".install-1.1.0-123"), d.path("models", model, "1.1.0")} {
			os.MkdirAll(p, 0o700)
			os.WriteFile(filepath.Join(p, "model.bin"), []byte("half"), 0o600)
		}
		d.mustUpdate("1.1.0")
		d.wantActive("1.1.0")
		entries, _ := os.ReadDir(d.path("models", model))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				t.Fatalf("leftover %s not removed", e.Name())
			}
		}
	})
}

// TestInsufficientStorage: the space check runs before any payload byte
// is fetched, and counts what is already staged.
func TestInsufficientStorage(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1Big(t)
	need := bigSize + otherBytes(t, r)
	const margin = 16 << 20 // the client's minimum margin
	var free atomic.Int64
	var asked atomic.Value
	opts := fastOpts()
	opts.FreeSpace = func(p string) (uint64, error) {
		asked.Store(p)
		return uint64(free.Load()), nil
	}
	d.reopen(opts)

	free.Store(need + margin - 1)
	res := d.wantFail(client.InsufficientStorage, "1.0.0")
	if res.BytesDownloaded != 0 || len(srv.requests("/targets/")) != 0 {
		t.Fatalf("downloaded %d bytes, requests %v", res.BytesDownloaded, srv.requests("/targets/"))
	}
	if p, _ := asked.Load().(string); !strings.HasPrefix(p, d.dir) {
		t.Fatalf("free space asked for %q, outside the state directory", p)
	}
	if len(d.stagedFiles()) != 0 {
		t.Fatalf("staged %v", d.stagedFiles())
	}
	d.wantNotInstalled("1.1.0")
	if st := d.status(); contains(st.BadVersions, "1.1.0") {
		t.Fatal("marked bad for lack of space")
	}

	opts.FreeSpace = func(string) (uint64, error) { return 0, os.ErrPermission }
	d.reopen(opts)
	d.wantFail(client.StateInvalid, "1.0.0")

	opts.FreeSpace = func(p string) (uint64, error) { return uint64(free.Load()), nil }
	d.reopen(opts)
	free.Store(need + margin)
	d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
}

// TestInsufficientStorageCountsStaged: bytes already staged need no space.
func TestInsufficientStorageCountsStaged(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1Big(t)
	const k = 100 << 10
	interrupted(t, r, srv, d, k)
	need := bigSize + otherBytes(t, r) - 2*k
	opts := fastOpts()
	opts.FreeSpace = func(string) (uint64, error) { return uint64(need + 16<<20), nil }
	d.reopen(opts)
	d.mustUpdate("1.1.0")
}
