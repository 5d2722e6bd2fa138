package client_test

// A hostile network, no keys needed: servers that answer every request
// with an error, a bad range, a reset or a redirect loop; servers that
// stall or trickle on any file the update reads; cancellation and
// deadlines from the caller; special files on a file:// mirror.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
)

// hostileFile is a file an update must download, and how to get a device
// that must download it in its next update: the device has 1.0.0, the
// repository has published 1.1.0 since.
type hostileFile struct {
	name   string
	suffix string // of the URL path
	meta   bool
	setup  func(t *testing.T) (*testrepo.Repo, *server, *device)
}

// hostileSize is the size of 1.1.0's model.bin: several of the
// downloader's 1 MiB buffers.
const hostileSize = 3 << 20

func hostileFiles() []hostileFile {
	plain := func(t *testing.T) (*testrepo.Repo, *server, *device) {
		r, srv, d := onV1(t)
		publish(t, r, hostileSize, "1.1.0")
		return r, srv, d
	}
	return []hostileFile{
		{"timestamp", "/metadata/timestamp.json", true, plain},
		{"snapshot", ".snapshot.json", true, plain},
		{"targets", ".targets.json", true, plain},
		{"delegated role", ".det-team.json", true, onV1Delegated},
		{"payload", ".model.bin", false, plain},
	}
}

// onV1Delegated is onV1 with the model published by a team into its
// delegated role det-team: 1.0.0 installed, 1.1.0 published since (which
// changes the role's metadata, not the top-level targets).
func onV1Delegated(t *testing.T) (*testrepo.Repo, *server, *device) {
	t.Helper()
	r := newRepo(t)
	team := delegateTeam(t, r, "det-team", model)
	kr := r.OnlineKeyring(t, team)
	r.PublishAs(t, kr, model, "1.0.0", bundle(seedOf("1.0.0"), smallSize), targets.Compat{}, repo.AddOptions{Role: "det-team"})
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	d.mustUpdate("1.0.0")
	r.PublishAs(t, kr, model, "1.1.0", bundle(seedOf("1.1.0"), hostileSize), targets.Compat{}, repo.AddOptions{Role: "det-team"})
	srv.reset()
	return r, srv, d
}

// countRequests counts the requests whose path ends in suffix.
func countRequests(s *server, suffix string) int {
	n := 0
	for _, r := range s.requests("/") {
		if strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// reset closes the connection with a TCP RST, without answering.
func reset(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
}

// TestHostileAnswersBoundedRetries: a server that answers every request
// for one file with the same fault. Before, a server that always answered
// 416 made the client recurse without bound (1.24 million requests, then a
// stack overflow). Every retry path is now a counted attempt: at most
// 1+Retries requests, or 1 for an answer another attempt cannot change,
// or 1+5 for a redirect loop (redirects are not retried), and the update
// fails NETWORK with the active version untouched.
func TestHostileAnswersBoundedRetries(t *testing.T) {
	t.Parallel()
	const retries = 2
	faults := []struct {
		name string
		h    func(w http.ResponseWriter, req *http.Request)
		// requests expected for a payload and for metadata
		payload, meta int
	}{
		{"always 416", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusRequestedRangeNotSatisfiable) }, 1 + retries, 1},
		{"always 503", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) }, 1 + retries, 1 + retries},
		{"206 with a bad Content-Range", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Range", "bytes 99999999-100000000/1")
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte("xx"))
		}, 1 + retries, 1},
		{"connection reset", func(w http.ResponseWriter, _ *http.Request) { reset(w) }, 1 + retries, 1 + retries},
		{"redirect loop", func(w http.ResponseWriter, req *http.Request) {
			http.Redirect(w, req, req.URL.Path, http.StatusFound)
		}, 6, 6},
	}
	for _, f := range hostileFiles() {
		for _, fault := range faults {
			t.Run(f.name+"/"+fault.name, func(t *testing.T) {
				t.Parallel()
				r, srv, d := f.setup(t)
				srv.set(faultHandler(dirHandler(r.Dir), f.suffix, func(_ int, w http.ResponseWriter, req *http.Request) bool {
					fault.h(w, req)
					return true
				}))
				opts := fastOpts()
				opts.Retries = retries
				d.reopen(opts)
				res := d.wantFail(client.Network, "1.0.0")
				want := fault.meta
				if !f.meta {
					want = fault.payload
				}
				if n := countRequests(srv, f.suffix); n != want {
					t.Fatalf("%d requests for %s, want %d (%s)", n, f.suffix, want, res.Message)
				}
				d.wantNotInstalled("1.1.0")
			})
		}
	}
}

// TestStale416DiscardsStagedPart: a 416 to a resumed download means the
// staged bytes are not a prefix of the server's file: they are discarded,
// the next attempt starts over, and a server that keeps answering 416
// costs 1+Retries requests.
func TestStale416DiscardsStagedPart(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1Big(t)
	const k = 100 << 10
	interrupted(t, r, srv, d, k) // 2k bytes staged
	srv.set(faultHandler(dirHandler(r.Dir), ".model.bin", func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return true
	}))
	opts := fastOpts()
	opts.Retries = 3
	d.reopen(opts)
	d.wantFail(client.Network, "1.0.0")
	got := ranges(srv.requests("/targets/models/det/1.1.0/"))
	if want := []string{fmt.Sprintf("bytes=%d-", 2*k), "", "", ""}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("model.bin requests with Range %q, want %q", got, want)
	}
	if n := d.stagedFiles()["1.1.0/model.bin.part"]; n != 0 {
		t.Fatalf("%d bytes still staged after a 416", n)
	}
	srv.set(dirHandler(r.Dir))
	d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
}

// silent answers nothing until the client hangs up.
func silent(w http.ResponseWriter, req *http.Request) { <-req.Context().Done() }

// trickle answers 200 and then one byte every few milliseconds, for ever
// (until the client hangs up): the bytes of body, then spaces.
func trickle(body []byte) func(w http.ResponseWriter, req *http.Request) {
	return func(w http.ResponseWriter, req *http.Request) {
		w.WriteHeader(http.StatusOK)
		for i := 0; ; i++ {
			b := byte(' ')
			if i < len(body) {
				b = body[i]
			}
			if _, err := w.Write([]byte{b}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-req.Context().Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}

// slowOpts disables every limit of the client but the ones a test sets.
func slowOpts() client.Options {
	// Distinct durations, so that a test with manual timers can fire one
	// kind of limit.
	return client.Options{RetryBackoff: time.Millisecond, Retries: -1, StallTimeout: time.Hour, MetadataTimeout: 2 * time.Hour, Timeout: 3 * time.Hour}
}

// TestStalledServerEveryFile: a server that sends nothing on one file,
// whichever the update reads (metadata included: before, a stalled
// timestamp.json kept mclient update running for ever, holding the lock).
// Each attempt is abandoned when the stall watchdog fires (nothing else
// can end it: the server never answers) and retried; the update then
// fails NETWORK, and the device updates normally once the server
// recovers. The test fires the watchdog itself once the client waits on
// the silent server (client.UseManualTimers): genuine transfers are never
// cut, however loaded the machine.
func TestStalledServerEveryFile(t *testing.T) {
	t.Parallel()
	for _, f := range hostileFiles() {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			r, srv, d := f.setup(t)
			waiting := make(chan struct{}, 8)
			srv.set(faultHandler(dirHandler(r.Dir), f.suffix, func(_ int, w http.ResponseWriter, req *http.Request) bool {
				waiting <- struct{}{}
				silent(w, req)
				return true
			}))
			opts := slowOpts()
			opts.StallTimeout = time.Minute
			opts.Retries = 3
			timers := client.UseManualTimers(&opts)
			d.reopen(opts)
			go func() {
				for i := 0; i <= opts.Retries; i++ {
					<-waiting
					if n := timers.Fire(opts.StallTimeout); n != 1 {
						t.Errorf("attempt %d: %d stall watchdogs running, want the silent request's", i, n)
					}
				}
			}()
			res := d.wantFail(client.Network, "1.0.0")
			if !strings.Contains(res.Message, "stall timeout") {
				t.Fatalf("reason %q does not name the stall", res.Message)
			}
			if n := countRequests(srv, f.suffix); n != 4 {
				t.Fatalf("%d requests for %s, want 4 (Retries 3): %s", n, f.suffix, res.Message)
			}
			srv.set(dirHandler(r.Dir))
			d.reopen(fastOpts())
			d.mustUpdate("1.1.0")
		})
	}
}

// TestTricklingServerEveryFile: a server that sends one byte every 5 ms
// and never finishes defeats any stall timeout; the metadata timeout (for
// metadata files) or the run's time limit (Options.Timeout, for payloads)
// ends it, as a NETWORK failure. The trickle never ends, so only those
// limits can; the test fires them once the trickle has begun.
func TestTricklingServerEveryFile(t *testing.T) {
	t.Parallel()
	for _, f := range hostileFiles() {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			r, srv, d := f.setup(t)
			trickling := make(chan struct{}, 8)
			srv.set(faultHandler(dirHandler(r.Dir), f.suffix, func(_ int, w http.ResponseWriter, req *http.Request) bool {
				trickling <- struct{}{}
				trickle([]byte(`{"signed":`))(w, req)
				return true
			}))
			opts := slowOpts()
			opts.Retries = 3
			timers := client.UseManualTimers(&opts)
			limit, want := opts.Timeout, "the run's time limit"
			if f.meta {
				limit, want = opts.MetadataTimeout, "metadata timeout"
			}
			d.reopen(opts)
			go func() {
				<-trickling
				if n := timers.Fire(limit); n != 1 {
					t.Errorf("%d timers of %v running, want one", n, limit)
				}
			}()
			res := d.wantFail(client.Network, "1.0.0")
			if !strings.Contains(res.Message, want) {
				t.Fatalf("reason %q does not name the %s", res.Message, want)
			}
			t.Logf("%d requests for %s: %s", countRequests(srv, f.suffix), f.suffix, res.Message)
		})
	}
}

// lockFree checks that no lock is left: Rollback takes the lock (and then
// finds nothing to roll back to).
func (d *device) lockFree() {
	d.t.Helper()
	_, err := d.c.Rollback(model)
	if client.CodeOf(err) != client.NoActiveModel {
		d.t.Fatalf("rollback after the stopped run: %v, want NO_ACTIVE_MODEL (the lock must be free)", err)
	}
}

// TestCancellationReachesEveryRead: while the update is blocked reading
// any file (the server sends nothing more and would wait for ever;
// no limit of the client is shorter than an hour), the caller cancels its
// context. The update returns CANCELLED, the lock is free, nothing is
// blamed, a partial payload stays staged, and the next update resumes.
// This is how SIGINT and SIGTERM stop mclient update.
func TestCancellationReachesEveryRead(t *testing.T) {
	t.Parallel()
	for _, f := range hostileFiles() {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			r, srv, d := f.setup(t)
			const k = 1 << 20 // payload bytes sent before the server stalls: one buffer of the downloader
			data, err := os.ReadFile(r.TargetFile(t, targets.TargetPath(model, "1.1.0", "model.bin")))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			srv.set(faultHandler(dirHandler(r.Dir), f.suffix, func(_ int, w http.ResponseWriter, req *http.Request) bool {
				if f.meta {
					cancel() // the client is now waiting for the answer
				} else {
					w.Header().Set("Content-Length", fmt.Sprint(len(data)))
					w.Write(data[:k])
					w.(http.Flusher).Flush()
				}
				silent(w, req)
				return true
			}))
			opts := slowOpts()
			if !f.meta {
				opts.Progress = func(file string, done, _ int64) {
					if file == "model.bin" && done >= k {
						cancel() // the first k bytes are read; the rest never comes
					}
				}
			}
			d.reopen(opts)
			res, err := d.c.Update(ctx, client.UpdateRequest{ModelID: model})
			if client.CodeOf(err) != client.Cancelled || res.Code != client.Cancelled || res.Outcome != client.OutcomeFailed {
				t.Fatalf("update: %v (%+v), want CANCELLED", err, res)
			}
			if res.Version != "1.0.0" {
				t.Fatalf("active %q after the cancelled run", res.Version)
			}
			d.lockFree()
			if st := d.status(); len(st.BadVersions) != 0 {
				t.Fatalf("marked bad: %v", st.BadVersions)
			}
			staged := int64(d.stagedFiles()["1.1.0/model.bin.part"])
			if !f.meta && staged < k {
				t.Fatalf("%d bytes staged, the server had sent %d", staged, k)
			}
			srv.set(dirHandler(r.Dir))
			d.reopen(fastOpts())
			res = d.mustUpdate("1.1.0")
			if res.BytesResumed < staged {
				t.Fatalf("%+v: the staged part was not reused", res)
			}
			d.wantActive("1.1.0")
		})
	}
}

// TestCallerDeadlineBoundsRun: a library caller's context deadline bounds
// the whole run, metadata fetches included (go-tuf's Refresh takes no
// context: the fetcher carries the run's). The server never answers and
// no limit of the client is shorter than an hour, so only the deadline
// can end the run: CANCELLED (the caller stopped it).
func TestCallerDeadlineBoundsRun(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	srv.set(faultHandler(dirHandler(r.Dir), "/metadata/timestamp.json", func(_ int, w http.ResponseWriter, req *http.Request) bool {
		silent(w, req)
		return true
	}))
	d.reopen(slowOpts())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := d.c.Update(ctx, client.UpdateRequest{ModelID: model})
	if client.CodeOf(err) != client.Cancelled || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("update: %v (%+v), want CANCELLED by the deadline", err, res)
	}
	d.lockFree()
}

// TestRunTimeout: Options.Timeout bounds the run the same way when the
// caller sets no deadline, as a NETWORK failure.
func TestRunTimeout(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	waiting := make(chan struct{}, 1)
	srv.set(faultHandler(dirHandler(r.Dir), "/metadata/timestamp.json", func(_ int, w http.ResponseWriter, req *http.Request) bool {
		waiting <- struct{}{}
		silent(w, req)
		return true
	}))
	opts := slowOpts()
	timers := client.UseManualTimers(&opts)
	d.reopen(opts)
	go func() {
		<-waiting
		if n := timers.Fire(opts.Timeout); n != 1 {
			t.Errorf("%d run time limits running, want one", n)
		}
	}()
	res := d.wantFail(client.Network, "1.0.0")
	if !strings.Contains(res.Message, "the run's time limit") {
		t.Fatalf("reason %q", res.Message)
	}
	d.lockFree()
}

// TestFileMirrorSpecialFiles: a file:// mirror (removable media) whose
// metadata or payload file is a FIFO or a device. Before, opening a FIFO
// blocked for ever; now only regular files are opened, without blocking.
func TestFileMirrorSpecialFiles(t *testing.T) {
	t.Parallel()
	mirror := func(t *testing.T) (*testrepo.Repo, string, *device) {
		r := newRepo(t)
		publish(t, r, smallSize, "1.0.0")
		dir := snapshotRepo(t, r)
		d := newDevice(t, r, "file://"+dir, fastOpts())
		d.mustUpdate("1.0.0")
		publish(t, r, smallSize, "1.1.0")
		os.RemoveAll(dir)
		copyTree(t, r.Dir, dir)
		return r, dir, d
	}
	for _, tc := range []struct {
		name, why string
		file      func(t *testing.T, r *testrepo.Repo, dir string) string
		make      func(path string) error
	}{
		{"FIFO as timestamp.json", "a FIFO",
			func(_ *testing.T, _ *testrepo.Repo, dir string) string {
				return filepath.Join(dir, "metadata", "timestamp.json")
			},
			func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"device as timestamp.json", "a device",
			func(_ *testing.T, _ *testrepo.Repo, dir string) string {
				return filepath.Join(dir, "metadata", "timestamp.json")
			},
			func(p string) error { return os.Symlink("/dev/zero", p) }},
		{"FIFO as a payload file", "a FIFO",
			func(t *testing.T, r *testrepo.Repo, dir string) string {
				rel, err := filepath.Rel(r.Dir, r.TargetFile(t, targets.TargetPath(model, "1.1.0", "model.bin")))
				if err != nil {
					t.Fatal(err)
				}
				return filepath.Join(dir, rel)
			},
			func(p string) error { return syscall.Mkfifo(p, 0o644) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, dir, d := mirror(t)
			p := tc.file(t, r, dir)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := tc.make(p); err != nil {
				t.Fatal(err)
			}
			res := d.wantFail(client.Network, "1.0.0")
			if !strings.Contains(res.Message, "not a regular file ("+tc.why+")") {
				t.Fatalf("reason %q", res.Message)
			}
			d.lockFree()
		})
	}
}

// TestRedirectPolicy: redirects of metadata and targets. Before, a
// redirect to any host was followed (internal addresses included). Now
// only the repository's own origin, or a host allowed at Init or in
// Options; never from HTTPS to HTTP.
func TestRedirectPolicy(t *testing.T) {
	t.Parallel()
	for _, file := range []struct{ name, suffix string }{
		{"metadata", "/metadata/timestamp.json"},
		{"payload", ".model.bin"},
	} {
		// redirecting sends requests for the file to base+path.
		redirecting := func(r *testrepo.Repo, base string) http.Handler {
			return faultHandler(dirHandler(r.Dir), file.suffix, func(_ int, w http.ResponseWriter, req *http.Request) bool {
				http.Redirect(w, req, base+req.URL.Path, http.StatusFound)
				return true
			})
		}
		t.Run(file.name+"/another host is refused", func(t *testing.T) {
			t.Parallel()
			r, srv, d := onV1(t)
			publish(t, r, smallSize, "1.1.0")
			other := serveRepo(t, r) // same content, another port: another origin
			srv.set(redirecting(r, other.URL))
			res := d.wantFail(client.Network, "1.0.0")
			if !strings.Contains(res.Message, "another host") {
				t.Fatalf("reason %q", res.Message)
			}
			if n := len(other.requests("/")); n != 0 {
				t.Fatalf("the other host got %d requests", n)
			}
			if n := countRequests(srv, file.suffix); n != 1 {
				t.Fatalf("%d requests: a refused redirect must not be retried", n)
			}
		})
		t.Run(file.name+"/an allowed host is followed", func(t *testing.T) {
			t.Parallel()
			for _, stored := range []bool{false, true} {
				r := newRepo(t)
				publish(t, r, smallSize, "1.0.0")
				srv := serveRepo(t, r)
				cdn := serveRepo(t, r)
				host := strings.TrimPrefix(cdn.URL, "http://")
				opts := fastOpts()
				iopts := client.InitOptions{RepoURL: srv.URL}
				if stored {
					iopts.AllowRedirectHosts = []string{host}
				} else {
					opts.AllowRedirectHosts = []string{host}
				}
				d := newDeviceInit(t, r, iopts, opts)
				srv.set(redirecting(r, cdn.URL))
				d.mustUpdate("1.0.0")
				if n := countRequests(cdn, file.suffix); n != 1 {
					t.Fatalf("the CDN got %d requests for %s", n, file.suffix)
				}
			}
		})
		t.Run(file.name+"/the same origin is followed", func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			publish(t, r, smallSize, "1.0.0")
			srv := serveRepo(t, r)
			inner := dirHandler(r.Dir)
			srv.set(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if p, ok := strings.CutPrefix(req.URL.Path, "/moved"); ok {
					req.URL.Path = p
					inner.ServeHTTP(w, req)
					return
				}
				if strings.HasSuffix(req.URL.Path, file.suffix) {
					http.Redirect(w, req, "/moved"+req.URL.Path, http.StatusMovedPermanently)
					return
				}
				inner.ServeHTTP(w, req)
			}))
			d := newDevice(t, r, srv.URL, fastOpts())
			d.mustUpdate("1.0.0")
			if n := len(srv.requests("/moved/")); n != 1 {
				t.Fatalf("%d requests to the new location, want 1", n)
			}
		})
		t.Run(file.name+"/https to http is refused", func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			publish(t, r, smallSize, "1.0.0")
			ca := newCA(t)
			tsrv := serveTLS(t, ca, dirHandler(r.Dir))
			plain := serveRepo(t, r)
			host := strings.TrimPrefix(plain.URL, "http://")
			for _, require := range []bool{false, true} {
				d := newDeviceInit(t, r, client.InitOptions{RepoURL: tsrv.URL, CABundle: ca.PEM, AllowRedirectHosts: []string{host}, RequireHTTPS: require}, fastOpts())
				tsrv.set(redirecting(r, plain.URL))
				res := d.wantFail(client.Network, "")
				want := "from HTTPS to plain HTTP"
				if require {
					want = "HTTPS is required"
				}
				if !strings.Contains(res.Message, want) {
					t.Fatalf("reason %q, want %q", res.Message, want)
				}
				if n := len(plain.requests("/")); n != 0 {
					t.Fatalf("the plain-HTTP host got %d requests", n)
				}
			}
		})
	}
}
