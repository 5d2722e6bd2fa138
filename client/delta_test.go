package client_test

// Delta updates: a device that has a version installed rebuilds a payload
// file of the new version from it with a signed patch, and falls back to
// the full download, in the same run, whenever the patch cannot be used:
// the base on disk changed, the patch is for another base, the server
// misbehaves, or the patch itself is hostile (signed by a compromised or
// buggy publisher).

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/klauspost/compress/zstd"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// weightsSize is the size of the delta tests' model.bin: float32 weights.
const weightsSize = 512 << 10

// weights returns model.bin of version number k (0, 1, 2, ...): float32
// weights, the same for every version except that version k nudges the
// weights of region k (1/32 of the file) and rewrites a 4 KiB block, as
// a fine-tuning run does; the changes accumulate. A patch from one
// version to the next is a few percent of the file.
func weights(k int) []byte {
	r := rand.New(rand.NewPCG(7, 11))
	n := weightsSize / 4
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.05)
	}
	region := n / 32
	for v := 1; v <= k; v++ {
		rv := rand.New(rand.NewPCG(uint64(v), 99))
		start := (v * 5 % 32) * region
		for i := start; i < start+region; i++ {
			w[i] += float32(rv.NormFloat64() * 0.001)
		}
		blk := ((v*11 + 3) % 32) * region
		for i := blk; i < blk+1024; i++ {
			w[i] = float32(rv.NormFloat64() * 0.05)
		}
	}
	b := make([]byte, 4*n)
	for i, f := range w {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// deltaVersions are the versions of the delta tests; weights(k) is the
// model.bin of deltaVersions[k].
var deltaVersions = []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"}

func weightsOf(t testing.TB, v string) []byte {
	t.Helper()
	for k, dv := range deltaVersions {
		if dv == v {
			return weights(k)
		}
	}
	t.Fatalf("no weights for %s", v)
	return nil
}

func weightsBundle(t testing.TB, v string) map[string][]byte {
	return map[string][]byte{"model.bin": weightsOf(t, v), "labels.txt": labels(seedOf(v))}
}

// publishDelta publishes v with patches from the versions in from, and
// requires the patch of model.bin from each of them to be published.
func publishDelta(t testing.TB, r *testrepo.Repo, v string, from ...string) {
	t.Helper()
	res := r.PublishWithDeltas(t, model, v, weightsBundle(t, v), targets.Compat{}, from)
	for _, b := range from {
		ok := false
		for _, d := range res.Deltas {
			if d.File == "model.bin" && d.Base == b && d.Published {
				ok = true
				if d.Length > weightsSize/5 {
					t.Fatalf("patch %s from %s is %d bytes: the test data does not make small patches", v, b, d.Length)
				}
			}
		}
		if !ok {
			t.Fatalf("no patch of model.bin %s from %s was published: %+v", v, b, res.Deltas)
		}
	}
}

// onDeltaV1 returns a repository with 1.0.0 published, its server, and a
// device on which 1.0.0 is active.
func onDeltaV1(t *testing.T, opts client.Options) (*testrepo.Repo, *server, *device) {
	t.Helper()
	r := newRepo(t)
	r.Publish(t, model, "1.0.0", weightsBundle(t, "1.0.0"), targets.Compat{})
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, opts)
	d.mustUpdate("1.0.0")
	srv.reset()
	return r, srv, d
}

// fileFetch returns how the last update obtained file.
func fileFetch(t testing.TB, res *client.Result, file string) client.FileFetch {
	t.Helper()
	return resultEntry(t, res.Files, func(f client.FileFetch) bool { return f.File == file }, "how "+file+" was obtained")
}

// resultEntry returns the first of a result's entries that match
// accepts, failing the test (naming what it looked for) if none does.
func resultEntry[E any](t testing.TB, entries []E, match func(E) bool, what string) E {
	t.Helper()
	for _, e := range entries {
		if match(e) {
			return e
		}
	}
	t.Fatalf("the result does not say %s: %+v", what, entries)
	var none E
	return none
}

// patchURL and fileURL are the URL paths of model.bin's patch and of the
// file itself.
func patchURL(t testing.TB, r *testrepo.Repo, v, base string) string {
	return targetURLPath(t, r, targets.DeltaPath(model, v, base, "model.bin"))
}

func fileURL(t testing.TB, r *testrepo.Repo, v string) string {
	return targetURLPath(t, r, targets.TargetPath(model, v, "model.bin"))
}

// requested counts the requests for an exact URL path; order lists the
// paths of the requests for any of paths, in order.
func (s *server) requested(path string) int {
	n := 0
	for _, r := range s.requests(path) {
		if r.Path == path {
			n++
		}
	}
	return n
}

func (s *server) order(paths ...string) []string {
	var out []string
	for _, r := range s.requests("/targets/") {
		for _, p := range paths {
			if r.Path == p {
				out = append(out, p)
			}
		}
	}
	return out
}

// deltaEvents returns the delta events logged since n events.
func deltaEvents(d *device, since int) []client.Event {
	return eventsSince(d, since, client.EventDeltaApplied, client.EventDeltaFailed)
}

// eventsSince returns the events named names logged since n events.
func eventsSince(d *device, since int, names ...string) []client.Event {
	var out []client.Event
	for _, e := range d.events()[since:] {
		if slices.Contains(names, e.Event) {
			out = append(out, e)
		}
	}
	return out
}

// wantFallback checks an update that abandoned model.bin's patch from
// base with code and downloaded the file whole.
func wantFallback(t *testing.T, d *device, res *client.Result, since int, base string, code client.Code) {
	t.Helper()
	ff := fileFetch(t, res, "model.bin")
	if ff.Method != client.MethodDeltaFallback || ff.Base != base || ff.Code != code {
		t.Fatalf("model.bin: %+v, want a fallback from the patch from %s with %s", ff, base, code)
	}
	if ff.Bytes < ff.Length {
		t.Fatalf("model.bin: %d bytes received, the file has %d: it was not downloaded whole", ff.Bytes, ff.Length)
	}
	evs := deltaEvents(d, since)
	if len(evs) != 1 || evs[0].Event != client.EventDeltaFailed || evs[0].Code != code || evs[0].FromVersion != base ||
		evs[0].ToVersion != res.Version {
		t.Fatalf("delta events %+v, want one delta_failed %s from %s", evs, code, base)
	}
	d.wantActive(res.Version)
}

func TestDeltaUpdate(t *testing.T) {
	t.Parallel()
	r, srv, d := onDeltaV1(t, fastOpts())
	publishDelta(t, r, "1.1.0", "1.0.0")
	since := len(d.events())
	res := d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")

	ff := fileFetch(t, res, "model.bin")
	if ff.Method != client.MethodDelta || ff.Base != "1.0.0" || ff.Code != "" || ff.Length != weightsSize {
		t.Fatalf("model.bin: %+v, want rebuilt by delta from 1.0.0", ff)
	}
	if ff.Bytes == 0 || ff.Bytes != ff.PatchBytes {
		t.Fatalf("model.bin: %d bytes received, %d of patch", ff.Bytes, ff.PatchBytes)
	}
	if res.BytesDownloaded >= weightsSize/2 {
		t.Fatalf("%d bytes downloaded for a %d-byte model.bin: the delta saved little", res.BytesDownloaded, weightsSize)
	}
	var sum int64
	for _, f := range res.Files {
		sum += f.Bytes
		if f.File != "model.bin" && f.Method != client.MethodFull {
			t.Fatalf("%s: %+v", f.File, f)
		}
	}
	if sum != res.BytesDownloaded || len(res.Files) != 3 {
		t.Fatalf("files %+v add up to %d bytes, the result says %d", res.Files, sum, res.BytesDownloaded)
	}
	if srv.requested(patchURL(t, r, "1.1.0", "1.0.0")) != 1 || srv.requested(fileURL(t, r, "1.1.0")) != 0 {
		t.Fatalf("requests %v: want the patch once and never the full file", srv.requests("/targets/"))
	}
	evs := deltaEvents(d, since)
	if len(evs) != 1 || evs[0].Event != client.EventDeltaApplied || evs[0].FromVersion != "1.0.0" || evs[0].ToVersion != "1.1.0" ||
		evs[0].Bytes != ff.PatchBytes || evs[0].Code != "" {
		t.Fatalf("delta events %+v", evs)
	}
	// The result is recorded for status, and nothing is left in staging.
	if st := d.status(); st.LastResult == nil || len(st.LastResult.Files) != 3 {
		t.Fatalf("status: last result %+v", st.LastResult)
	}
	if staged := d.stagedFiles(); len(staged) != 0 {
		t.Fatalf("staging holds %v", staged)
	}

	// Next version: the patch from the active version is used, and the
	// previous one is the fallback base only if the active one has none.
	publishDelta(t, r, "1.2.0", "1.0.0", "1.1.0")
	res = d.mustUpdate("1.2.0")
	if ff := fileFetch(t, res, "model.bin"); ff.Method != client.MethodDelta || ff.Base != "1.1.0" {
		t.Fatalf("model.bin: %+v, want rebuilt from the active 1.1.0", ff)
	}
	d.wantActive("1.2.0")
}

// TestDeltaFromPreviousVersion: the active version has no patch, the
// previous installed one has.
func TestDeltaFromPreviousVersion(t *testing.T) {
	t.Parallel()
	r, _, d := onDeltaV1(t, fastOpts())
	r.Publish(t, model, "1.1.0", weightsBundle(t, "1.1.0"), targets.Compat{})
	d.mustUpdate("1.1.0")
	publishDelta(t, r, "1.2.0", "1.0.0")
	res := d.mustUpdate("1.2.0")
	if ff := fileFetch(t, res, "model.bin"); ff.Method != client.MethodDelta || ff.Base != "1.0.0" {
		t.Fatalf("model.bin: %+v, want rebuilt from the previous 1.0.0", ff)
	}
	d.wantActive("1.2.0")
}

// TestDeltaTamperedBase: the installed base was changed in place (same
// size): the rebuilt file fails the final hash check and the file is
// downloaded whole.
func TestDeltaTamperedBase(t *testing.T) {
	t.Parallel()
	r, srv, d := onDeltaV1(t, fastOpts())
	publishDelta(t, r, "1.1.0", "1.0.0")
	flipByte(t, d.path("models", model, "1.0.0", "model.bin"), weightsSize/3)
	since := len(d.events())
	res := d.mustUpdate("1.1.0")
	wantFallback(t, d, res, since, "1.0.0", client.HashMismatch)
	p, f := patchURL(t, r, "1.1.0", "1.0.0"), fileURL(t, r, "1.1.0")
	if got := srv.order(p, f); strings.Join(got, " ") != p+" "+f {
		t.Fatalf("requests %v: want the patch, then the full file", got)
	}
	if staged := d.stagedFiles(); len(staged) != 0 {
		t.Fatalf("staging holds %v", staged)
	}
}

// TestDeltaBaseWrongSize: an installed base of the wrong size is refused
// before the patch is downloaded.
func TestDeltaBaseWrongSize(t *testing.T) {
	t.Parallel()
	r, srv, d := onDeltaV1(t, fastOpts())
	publishDelta(t, r, "1.1.0", "1.0.0")
	if err := os.Truncate(d.path("models", model, "1.0.0", "model.bin"), weightsSize-4); err != nil {
		t.Fatal(err)
	}
	since := len(d.events())
	res := d.mustUpdate("1.1.0")
	wantFallback(t, d, res, since, "1.0.0", client.HashMismatch)
	if n := srv.requested(patchURL(t, r, "1.1.0", "1.0.0")); n != 0 {
		t.Fatalf("the patch was requested %d times for a base known to be damaged", n)
	}
}

// TestDeltaPatchForAnotherBase: the server answers the request for the
// patch from the active version with the (genuine, signed) patch from an
// older one: it fails the signed hash of the target requested.
func TestDeltaPatchForAnotherBase(t *testing.T) {
	t.Parallel()
	r, srv, d := onDeltaV1(t, fastOpts())
	r.Publish(t, model, "1.1.0", weightsBundle(t, "1.1.0"), targets.Compat{})
	d.mustUpdate("1.1.0")
	publishDelta(t, r, "1.2.0", "1.0.0", "1.1.0")
	want := patchURL(t, r, "1.2.0", "1.1.0")
	other, err := os.ReadFile(r.TargetFile(t, targets.DeltaPath(model, "1.2.0", "1.0.0", "model.bin")))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(r.TargetFile(t, targets.DeltaPath(model, "1.2.0", "1.1.0", "model.bin")))
	if err != nil {
		t.Fatal(err)
	}
	// Cut or padded to the signed length, so only the hash can tell.
	served := make([]byte, fi.Size())
	copy(served, other)
	srv.set(faultHandler(dirHandler(r.Dir), want, func(_ int, w http.ResponseWriter, req *http.Request) bool {
		w.Write(served)
		return true
	}))
	srv.reset()
	since := len(d.events())
	res := d.mustUpdate("1.2.0")
	wantFallback(t, d, res, since, "1.1.0", client.HashMismatch)
	if srv.requested(want) == 0 || srv.requested(fileURL(t, r, "1.2.0")) != 1 {
		t.Fatalf("requests %v", srv.requests("/targets/"))
	}
}

// forgeDeltaRepo returns a copy of r to forge, with what the patch of
// model.bin of v from base is now.
func forgeDeltaRepo(t *testing.T, r *testrepo.Repo) *forged {
	t.Helper()
	return forge(t, snapshotRepo(t, r))
}

// setTargetBytes makes the signed target tp describe data, and stores
// data where the repository serves it.
func (f *forged) setTargetBytes(tp string, data []byte) {
	f.t.Helper()
	tf := f.tg.Signed.Targets[tp]
	if tf == nil {
		f.t.Fatalf("no target %s", tp)
	}
	sum := sha256.Sum256(data)
	tf.Length, tf.Hashes = int64(len(data)), metadata.Hashes{"sha256": sum[:]}
	dir := filepath.Join(f.dir, "targets", filepath.FromSlash(filepath.Dir(tp)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%x.%s", sum, filepath.Base(tp))), data, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// publishTrusted re-signs the forged metadata with the repository's own
// keys: what a compromised (or buggy) publisher signs.
func (f *forged) publishTrusted(r *testrepo.Repo) {
	f.t.Helper()
	f.publishAll(trustedSigner(f.t, r, "targets"), trustedSigner(f.t, r, "snapshot"), trustedSigner(f.t, r, "timestamp"))
}

// TestDeltaSignedForAnotherBase: metadata signed by the targets key that
// does not hold together is refused: a patch whose signed custom metadata
// names another base, file, version or kind than the manifest lists it
// for is refused before it is downloaded; a patch whose signed bytes were
// made from another base is refused by its header before it is applied.
func TestDeltaSignedForAnotherBase(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (*testrepo.Repo, *server, *device, *forged) {
		r, srv, d := onDeltaV1(t, fastOpts())
		r.Publish(t, model, "1.1.0", weightsBundle(t, "1.1.0"), targets.Compat{})
		d.mustUpdate("1.1.0")
		publishDelta(t, r, "1.2.0", "1.0.0", "1.1.0")
		return r, srv, d, forgeDeltaRepo(t, r)
	}
	tp := targets.DeltaPath(model, "1.2.0", "1.1.0", "model.bin")
	for _, tc := range []struct {
		name string
		edit func(c *targets.Custom)
	}{
		{"base_version", func(c *targets.Custom) { c.BaseVersion = "1.0.0" }},
		{"file", func(c *targets.Custom) { c.File = "labels.txt" }},
		{"version", func(c *targets.Custom) { c.Version = "1.1.0" }},
		{"kind", func(c *targets.Custom) { c.Kind = targets.KindPayload; c.BaseVersion = "" }},
	} {
		t.Run("custom "+tc.name, func(t *testing.T) {
			r, srv, d, f := setup(t)
			editCustom(t, f, tp, tc.edit)
			f.publishTrusted(r)
			srv.set(dirHandler(f.dir))
			srv.reset()
			since := len(d.events())
			res := d.mustUpdate("1.2.0")
			wantFallback(t, d, res, since, "1.1.0", client.DeltaFailed)
			if len(srv.requests("/targets/models/det/1.2.0/deltas/")) != 0 {
				t.Fatalf("a refused patch was requested: %v", srv.requests("/targets/"))
			}
		})
	}
	t.Run("bytes made from another base", func(t *testing.T) {
		r, srv, d, f := setup(t)
		other, err := os.ReadFile(r.TargetFile(t, targets.DeltaPath(model, "1.2.0", "1.0.0", "model.bin")))
		if err != nil {
			t.Fatal(err)
		}
		f.setTargetBytes(tp, other)
		f.publishTrusted(r)
		srv.set(dirHandler(f.dir))
		srv.reset()
		since := len(d.events())
		res := d.mustUpdate("1.2.0")
		wantFallback(t, d, res, since, "1.1.0", client.DeltaFailed)
		if len(srv.requests("/targets/models/det/1.2.0/deltas/1.1.0/")) != 1 {
			t.Fatalf("requests %v", srv.requests("/targets/"))
		}
	})
}

// TestDeltaPatchServerFaults: the patch is missing, too long, or cut: the
// first two fall back, a cut is resumed.
func TestDeltaPatchServerFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault func(genuine []byte, n int, w http.ResponseWriter, req *http.Request) bool
		code  client.Code // "" : the patch is used
	}{
		{"404", func(_ []byte, _ int, w http.ResponseWriter, _ *http.Request) bool {
			http.NotFound(w, nil)
			return true
		}, client.TargetNotFound},
		{"longer than signed", func(g []byte, _ int, w http.ResponseWriter, _ *http.Request) bool {
			w.Write(append(append([]byte{}, g...), make([]byte, 4096)...))
			return true
		}, client.LengthExceeded},
		{"cut once", func(g []byte, n int, w http.ResponseWriter, req *http.Request) bool {
			if n == 0 {
				w.Header().Set("Content-Length", fmt.Sprint(len(g)))
				w.Write(g[:len(g)/2])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
			return false
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, srv, d := onDeltaV1(t, fastOpts())
			publishDelta(t, r, "1.1.0", "1.0.0")
			p := patchURL(t, r, "1.1.0", "1.0.0")
			genuine, err := os.ReadFile(filepath.Join(r.Dir, filepath.FromSlash(p)))
			if err != nil {
				t.Fatal(err)
			}
			srv.set(faultHandler(dirHandler(r.Dir), p, func(n int, w http.ResponseWriter, req *http.Request) bool {
				return tc.fault(genuine, n, w, req)
			}))
			since := len(d.events())
			res := d.mustUpdate("1.1.0")
			if tc.code != "" {
				wantFallback(t, d, res, since, "1.0.0", tc.code)
				return
			}
			if ff := fileFetch(t, res, "model.bin"); ff.Method != client.MethodDelta {
				t.Fatalf("model.bin: %+v", ff)
			}
			if rs := srv.requests(p); len(rs) != 2 || rs[1].Range == "" {
				t.Fatalf("patch requests %v: want one resumed with Range", rs)
			}
			d.wantActive("1.1.0")
		})
	}
}

// TestDeltaBaseNotInstalled: patches from versions the device does not
// have are not downloaded.
func TestDeltaBaseNotInstalled(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	r.Publish(t, model, "1.0.0", weightsBundle(t, "1.0.0"), targets.Compat{})
	r.Publish(t, model, "1.1.0", weightsBundle(t, "1.1.0"), targets.Compat{})
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	d.mustUpdate("1.1.0") // a first install: only 1.1.0 on the device
	publishDelta(t, r, "1.2.0", "1.0.0")
	srv.reset()
	since := len(d.events())
	res := d.mustUpdate("1.2.0")
	if ff := fileFetch(t, res, "model.bin"); ff.Method != client.MethodFull || ff.Base != "" || ff.Bytes != weightsSize {
		t.Fatalf("model.bin: %+v", ff)
	}
	if rs := srv.requests("/targets/models/det/1.2.0/deltas/"); len(rs) != 0 {
		t.Fatalf("patch requested: %v", rs)
	}
	if evs := deltaEvents(d, since); len(evs) != 0 {
		t.Fatalf("delta events %+v", evs)
	}
	d.wantActive("1.2.0")
}

// TestNoDelta: UpdateRequest.NoDelta downloads whole files.
func TestNoDelta(t *testing.T) {
	t.Parallel()
	r, srv, d := onDeltaV1(t, fastOpts())
	publishDelta(t, r, "1.1.0", "1.0.0")
	res, err := d.update(client.UpdateRequest{NoDelta: true})
	if err != nil || res.Version != "1.1.0" {
		t.Fatalf("update: %v %+v", err, res)
	}
	if ff := fileFetch(t, res, "model.bin"); ff.Method != client.MethodFull {
		t.Fatalf("model.bin: %+v", ff)
	}
	if rs := srv.requests("/targets/models/det/1.1.0/deltas/"); len(rs) != 0 {
		t.Fatalf("patch requested: %v", rs)
	}
	d.wantActive("1.1.0")
}

// TestDeltaResumeAcrossRuns: a run cut off while it downloads the patch
// (and then the full file) leaves both staged; the next run resumes the
// patch and uses it.
func TestDeltaResumeAcrossRuns(t *testing.T) {
	t.Parallel()
	opts := fastOpts()
	opts.Retries = -1
	r, srv, d := onDeltaV1(t, opts)
	publishDelta(t, r, "1.1.0", "1.0.0")
	p, f := patchURL(t, r, "1.1.0", "1.0.0"), fileURL(t, r, "1.1.0")
	inner := dirHandler(r.Dir)
	srv.set(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == p || req.URL.Path == f {
			cut(inner, 1000, w, req)
			return
		}
		inner.ServeHTTP(w, req)
	}))
	d.wantFail(client.Network, "1.0.0")
	staged := d.stagedFiles()
	if staged["1.1.0/deltas/1.0.0/model.bin.part"] == 0 {
		t.Fatalf("staged %v: the partial patch was not kept", staged)
	}
	srv.set(inner)
	srv.reset()
	res := d.mustUpdate("1.1.0")
	if ff := fileFetch(t, res, "model.bin"); ff.Method != client.MethodDelta || res.BytesResumed == 0 {
		t.Fatalf("model.bin: %+v (resumed %d)", ff, res.BytesResumed)
	}
	if rs := srv.requests(p); len(rs) != 1 || rs[0].Range == "" {
		t.Fatalf("patch requests %v: want one, resumed", rs)
	}
	if n := srv.requested(f); n != 0 {
		t.Fatalf("the full file was requested %d times", n)
	}
	d.wantActive("1.1.0")
}

// TestDeltaFallbackResumesFull: after a patch failed and the full download
// that replaced it was cut off, the next run resumes the full download
// instead of trying the patch again: interrupted runs still make progress.
func TestDeltaFallbackResumesFull(t *testing.T) {
	t.Parallel()
	opts := fastOpts()
	opts.Retries = -1
	r, srv, d := onDeltaV1(t, opts)
	publishDelta(t, r, "1.1.0", "1.0.0")
	flipByte(t, d.path("models", model, "1.0.0", "model.bin"), 100)
	p, f := patchURL(t, r, "1.1.0", "1.0.0"), fileURL(t, r, "1.1.0")
	inner := dirHandler(r.Dir)
	srv.set(faultHandler(inner, f, func(_ int, w http.ResponseWriter, req *http.Request) bool {
		cut(inner, weightsSize/2, w, req)
		return true
	}))
	// (Not wantFail: the active 1.0.0 no longer verifies.)
	if res, err := d.update(client.UpdateRequest{}); client.CodeOf(err) != client.Network || res.Version != "1.0.0" {
		t.Fatalf("update: %v %+v", err, res)
	}
	if staged := d.stagedFiles(); staged["1.1.0/model.bin.part"] == 0 || staged["1.1.0/deltas/1.0.0/model.bin.part"] != 0 {
		t.Fatalf("staged %v: want the partial file and no patch", staged)
	}
	srv.set(inner)
	srv.reset()
	res := d.mustUpdate("1.1.0")
	if ff := fileFetch(t, res, "model.bin"); ff.Method != client.MethodFull || res.BytesResumed == 0 {
		t.Fatalf("model.bin: %+v (resumed %d)", ff, res.BytesResumed)
	}
	if n := srv.requested(p); n != 0 {
		t.Fatalf("the patch was requested again %d times", n)
	}
	d.wantActive("1.1.0")
}

// TestDeltaTimeLimit: a patch that takes longer than
// Options.DeltaMaxDuration to apply is abandoned.
func TestDeltaTimeLimit(t *testing.T) {
	t.Parallel()
	opts := fastOpts()
	opts.DeltaMaxDuration = time.Nanosecond
	r, _, d := onDeltaV1(t, opts)
	publishDelta(t, r, "1.1.0", "1.0.0")
	since := len(d.events())
	res := d.mustUpdate("1.1.0")
	wantFallback(t, d, res, since, "1.0.0", client.DeltaFailed)
}

// The format of patches, to write hostile ones (delta/doc.go).

func patchHeader(baseLen int64, baseSum [32]byte, targetLen int64, targetSum [32]byte) []byte {
	b := make([]byte, delta.HeaderSize)
	copy(b, delta.Magic)
	b[8], b[9] = delta.Version, 1
	binary.BigEndian.PutUint64(b[16:], uint64(baseLen))
	copy(b[24:56], baseSum[:])
	binary.BigEndian.PutUint64(b[56:], uint64(targetLen))
	copy(b[64:96], targetSum[:])
	return b
}

// segment appends a segment rebuilding out bytes from the given
// (already compressed) streams.
func segment(p []byte, out uint32, ctrl, diff, extra []byte) []byte {
	var h [delta.SegmentHeaderSize]byte
	binary.BigEndian.PutUint32(h[0:], out)
	binary.BigEndian.PutUint32(h[4:], uint32(len(ctrl)))
	binary.BigEndian.PutUint32(h[8:], uint32(len(diff)))
	binary.BigEndian.PutUint32(h[12:], uint32(len(extra)))
	p = append(p, h[:]...)
	p = append(append(append(p, ctrl...), diff...), extra...)
	return p
}

// compress zstd-compresses n bytes of r.
func compress(t testing.TB, r io.Reader) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(enc, r); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// records encodes control records: each a list of varints.
func records(recs ...[]uint64) []byte {
	var b []byte
	for _, r := range recs {
		for _, v := range r {
			b = binary.AppendUvarint(b, v)
		}
	}
	return b
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestDeltaHostilePatches: patches signed by the targets key (a
// compromised or buggy publisher) that are malformed or hostile are
// refused cleanly, with bounded memory, and the file is downloaded whole.
func TestDeltaHostilePatches(t *testing.T) {
	base, target := weights(0), weights(1)
	bl, tl := int64(len(base)), int64(len(target))
	bs, ts := sha256.Sum256(base), sha256.Sum256(target)
	hdr := patchHeader(bl, bs, tl, ts)
	const (
		opCopy   = 0
		opInsert = 3
	)
	ctrl := func(recs ...[]uint64) []byte { return compress(t, bytes.NewReader(records(recs...))) }
	// 256 MiB of zeros in a few KiB: more than the file, far more than
	// the patch.
	bomb := compress(t, io.LimitReader(zeros{}, 256<<20))

	// One repository for every case: 1.0.0, then 1.1.0 with its patch.
	// Devices install 1.0.0 from a copy made before 1.1.0 was published.
	r := newRepo(t)
	r.Publish(t, model, "1.0.0", weightsBundle(t, "1.0.0"), targets.Compat{})
	v1 := snapshotRepo(t, r)
	publishDelta(t, r, "1.1.0", "1.0.0")
	tp := targets.DeltaPath(model, "1.1.0", "1.0.0", "model.bin")
	genuine, err := os.ReadFile(r.TargetFile(t, tp))
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		patch func(genuine []byte) []byte
		code  client.Code
		want  string // in the reason
	}{
		{"wrong magic", func(g []byte) []byte {
			p := bytes.Clone(g)
			copy(p, "NOTDELTA")
			return p
		}, client.DeltaFailed, "not a delta patch"},
		{"truncated", func(g []byte) []byte { return bytes.Clone(g[:len(g)/2]) }, client.DeltaFailed, "truncated"},
		{"only a header", func([]byte) []byte { return hdr }, client.DeltaFailed, "truncated"},
		{"trailing data", func(g []byte) []byte { return append(bytes.Clone(g), 0) }, client.DeltaFailed, "trailing data"},
		{"claims a larger output than signed", func(g []byte) []byte {
			return append(patchHeader(bl, bs, 1<<40, ts), g[delta.HeaderSize:]...)
		}, client.DeltaFailed, "rebuilds another file (1099511627776 bytes"},
		{"claims another output", func(g []byte) []byte {
			return append(patchHeader(bl, bs, tl, bs), g[delta.HeaderSize:]...)
		}, client.DeltaFailed, "rebuilds another file"},
		{"copy out of the base", func([]byte) []byte {
			return segment(bytes.Clone(hdr), uint32(tl), ctrl([]uint64{opCopy, uint64(tl), uint64(bl)}), nil, nil)
		}, client.DeltaFailed, "reads base bytes"},
		{"copy offset overflows", func([]byte) []byte {
			return segment(bytes.Clone(hdr), uint32(tl), ctrl([]uint64{opCopy, uint64(tl), 1<<63 - 1}), nil, nil)
		}, client.DeltaFailed, "offset out of range"},
		{"record past its segment", func([]byte) []byte {
			return segment(bytes.Clone(hdr), 4096, ctrl([]uint64{opCopy, uint64(tl), 0}), nil, nil)
		}, client.DeltaFailed, "runs past the segment end"},
		{"segment past the target", func([]byte) []byte {
			return segment(bytes.Clone(hdr), uint32(tl)+1, ctrl([]uint64{opCopy, uint64(tl) + 1, 0}), nil, nil)
		}, client.DeltaFailed, "segment output length"},
		{"stream lengths past the end", func([]byte) []byte {
			p := segment(bytes.Clone(hdr), uint32(tl), ctrl([]uint64{opCopy, uint64(tl), 0}), nil, nil)
			binary.BigEndian.PutUint32(p[delta.HeaderSize+8:], 1<<31)
			return p
		}, client.DeltaFailed, "truncated"},
		{"control stream not zstd", func([]byte) []byte {
			return segment(bytes.Clone(hdr), uint32(tl), []byte("garbage garbage garbage"), nil, nil)
		}, client.DeltaFailed, "control stream"},
		{"unknown operation", func([]byte) []byte {
			return segment(bytes.Clone(hdr), uint32(tl), ctrl([]uint64{9, uint64(tl), 0}), nil, nil)
		}, client.DeltaFailed, "unknown operation"},
		{"decompression bomb", func([]byte) []byte {
			return segment(bytes.Clone(hdr), uint32(tl), ctrl([]uint64{opInsert, 1, uint64(tl)}), nil, bomb)
		}, client.DeltaFailed, "extra stream has data past the end"},
		{"well-formed, wrong bytes", func([]byte) []byte {
			// Valid records that rebuild the base, not the target: the
			// patch's fault, not the (re-hashed, intact) base's.
			return segment(bytes.Clone(hdr), uint32(tl), ctrl([]uint64{opCopy, uint64(tl), 0}), nil, nil)
		}, client.DeltaFailed, "does not match the target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, dirHandler(v1))
			d := newDevice(t, r, srv.URL, fastOpts())
			d.mustUpdate("1.0.0")
			evil := tc.patch(genuine)
			if int64(len(evil)) >= tl {
				t.Fatalf("the hostile patch is %d bytes, not smaller than the file", len(evil))
			}
			f := forgeDeltaRepo(t, r)
			f.setTargetBytes(tp, evil)
			f.publishTrusted(r)
			srv.set(dirHandler(f.dir))
			srv.reset()
			since := len(d.events())
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			res := d.mustUpdate("1.1.0")
			runtime.ReadMemStats(&after)
			wantFallback(t, d, res, since, "1.0.0", tc.code)
			if msg := fileFetch(t, res, "model.bin").Message; !strings.Contains(msg, tc.want) {
				t.Fatalf("reason %q, want it to say %q", msg, tc.want)
			}
			if len(srv.requests("/targets/models/det/1.1.0/deltas/")) != 1 {
				t.Fatalf("requests %v: the hostile patch was not requested", srv.requests("/targets/"))
			}
			// About 25 MiB, for every case (the full download included).
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Fatalf("%d MiB allocated during the update", alloc>>20)
			}
		})
	}
}

// TestDeltaPatchNotSmaller: a signed patch at least as large as the file
// it rebuilds is pointless (and the shape of a patch bomb): it is refused
// without being downloaded.
func TestDeltaPatchNotSmaller(t *testing.T) {
	t.Parallel()
	r, srv, d := onDeltaV1(t, fastOpts())
	publishDelta(t, r, "1.1.0", "1.0.0")
	tp := targets.DeltaPath(model, "1.1.0", "1.0.0", "model.bin")
	f := forgeDeltaRepo(t, r)
	f.setTargetBytes(tp, make([]byte, weightsSize))
	f.publishTrusted(r)
	srv.set(dirHandler(f.dir))
	srv.reset()
	since := len(d.events())
	res := d.mustUpdate("1.1.0")
	wantFallback(t, d, res, since, "1.0.0", client.DeltaFailed)
	if rs := srv.requests("/targets/models/det/1.1.0/deltas/"); len(rs) != 0 {
		t.Fatalf("patch requested: %v", rs)
	}
}

// TestDeltaInsufficientStorageCountsPatch: the space check counts the
// patch besides the file.
func TestDeltaInsufficientStorageCountsPatch(t *testing.T) {
	t.Parallel()
	r, _, d := onDeltaV1(t, fastOpts())
	publishDelta(t, r, "1.1.0", "1.0.0")
	var free atomic.Int64
	opts := fastOpts()
	opts.FreeSpace = func(string) (uint64, error) { return uint64(free.Load()), nil }
	d.reopen(opts)
	// Room for the version's files and the margin, not for the patch too.
	var files int64
	for _, name := range []string{targets.ManifestName, "model.bin", "labels.txt"} {
		fi, err := os.Stat(r.TargetFile(t, targets.TargetPath(model, "1.1.0", name)))
		if err != nil {
			t.Fatal(err)
		}
		files += fi.Size()
	}
	free.Store(files + 16<<20)
	res := d.wantFail(client.InsufficientStorage, "1.0.0")
	if !strings.Contains(res.Message, "needs") {
		t.Fatalf("message %q", res.Message)
	}
	free.Store(files + 16<<20 + weightsSize)
	d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
}
