package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/sqlitestore"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// now is the test clock: tests never read the wall clock.
var now = time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)

func fixedNow() time.Time { return now }

// reports makes n valid reports with IDs from seq (distinct seqs give
// distinct IDs).
func reports(seq, n int) []telemetry.Report {
	out := make([]telemetry.Report, n)
	for i := range out {
		out[i] = telemetry.Report{
			ID: fmt.Sprintf("%016x%016x", seq, i), Kind: telemetry.KindActivated,
			Hour: now.Truncate(time.Hour).Format(time.RFC3339), ModelID: "detector", Version: "1.0.0",
			CohortPercent: -1, Rate: telemetry.FullRate,
		}
	}
	return out
}

func body(t testing.TB, rs []telemetry.Report) []byte {
	t.Helper()
	b, err := json.Marshal(telemetry.Batch{Schema: telemetry.Schema, Reports: rs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// start runs a collector on a real loopback HTTP server.
func start(t *testing.T, opts Options) (*Collector, string) {
	t.Helper()
	c, srv := startServer(t, opts, func(*http.Server) {})
	return c, srv.URL
}

// startServer is start with the server's configuration given to
// configure first (to make the bound under test short).
func startServer(t *testing.T, opts Options, configure func(*http.Server)) (*Collector, *httptest.Server) {
	t.Helper()
	if opts.Store == nil {
		opts.Store = store.NewMemory()
	}
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	if opts.PruneTicks == nil {
		opts.PruneTicks = make(chan time.Time) // never ticks
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(c)
	srv.Config = c.Server()
	configure(srv.Config)
	srv.Start()
	t.Cleanup(func() { srv.Close(); c.Close() })
	return c, srv
}

// dial opens a raw connection to srv, closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(addr, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

type response struct {
	status     int
	header     http.Header
	Accepted   int    `json:"accepted"`
	Duplicates int    `json:"duplicates"`
	Error      string `json:"error"`
}

func post(t testing.TB, client *http.Client, url, ctype string, data io.Reader) response {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Post(url+telemetry.IngestPath, ctype, data)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := response{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("status %d, body not JSON: %v", resp.StatusCode, err)
	}
	return r
}

func stats(t *testing.T, url string) Stats {
	t.Helper()
	resp, err := http.Get(url + "/v1/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func totalReports(t *testing.T, st store.Store) int64 {
	t.Helper()
	counts, err := st.Counts(context.Background(), store.Query{ModelID: "detector"})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, c := range counts {
		n += c.Reports
	}
	return n
}

// TestAcceptAndReplay: a batch is acknowledged with its count; the same
// batch again (a device retrying) is 200 with every report a duplicate
// and nothing counted twice.
func TestAcceptAndReplay(t *testing.T) {
	mem := store.NewMemory()
	_, url := start(t, Options{Store: mem})
	b := body(t, reports(1, 20))
	if r := post(t, nil, url, "application/json", bytes.NewReader(b)); r.status != 200 || r.Accepted != 20 || r.Duplicates != 0 {
		t.Fatalf("first upload: %+v", r)
	}
	if r := post(t, nil, url, "application/json; charset=utf-8", bytes.NewReader(b)); r.status != 200 || r.Accepted != 0 || r.Duplicates != 20 {
		t.Fatalf("replay: %+v", r)
	}
	if n := totalReports(t, mem); n != 20 {
		t.Fatalf("store counts %d reports, want 20", n)
	}
	if s := stats(t, url); s.Accepted != 20 || s.Duplicates != 20 {
		t.Fatalf("stats %+v", s)
	}
}

// TestOversizedBody: a body over MaxBatchBytes is 413 whether it
// announces its length or streams it (chunked); the collector stays up
// and accepts the next good batch.
func TestOversizedBody(t *testing.T) {
	mem := store.NewMemory()
	_, url := start(t, Options{Store: mem})
	big := bytes.Repeat([]byte(" "), telemetry.MaxBatchBytes+1)
	if r := post(t, nil, url, "application/json", bytes.NewReader(big)); r.status != 413 {
		t.Fatalf("with Content-Length: %+v", r)
	}
	chunked := io.MultiReader(strings.NewReader(`{"schema":1,"reports":[`), bytes.NewReader(big)) // no length: chunked
	if r := post(t, nil, url, "application/json", chunked); r.status != 413 {
		t.Fatalf("chunked: %+v", r)
	}
	if r := post(t, nil, url, "application/json", bytes.NewReader(body(t, reports(1, 1)))); r.status != 200 {
		t.Fatalf("after the oversized ones: %+v", r)
	}
	if s := stats(t, url); s.RejectedSize != 2 || s.Accepted != 1 {
		t.Fatalf("stats %+v", s)
	}
	if n := totalReports(t, mem); n != 1 {
		t.Fatalf("store holds %d reports", n)
	}
}

// TestMalformedAndWrongType: malformed batches are 400 and counted, a
// body that is not JSON by its type is 415; a batch with one bad report
// stores nothing (all or nothing).
func TestMalformedAndWrongType(t *testing.T) {
	mem := store.NewMemory()
	_, url := start(t, Options{Store: mem})
	good := reports(1, 3)
	badLast := append(reports(2, 2), telemetry.Report{ID: "nope"})
	future := reports(3, 1)
	future[0].Hour = now.Add(2 * time.Hour).Truncate(time.Hour).Format(time.RFC3339)
	old := reports(4, 1)
	old[0].Hour = now.Add(-DefaultRetention - time.Hour).Truncate(time.Hour).Format(time.RFC3339)
	for name, data := range map[string]string{
		"not JSON":       `{"schema":1,`,
		"unknown field":  `{"schema":1,"reports":[],"ip":"127.0.0.1"}`,
		"no reports":     `{"schema":1,"reports":[]}`,
		"trailing data":  string(body(t, good)) + `{}`,
		"one bad report": string(body(t, badLast)),
		"hour ahead":     string(body(t, future)),
		"hour too old":   string(body(t, old)),
	} {
		if r := post(t, nil, url, "application/json", strings.NewReader(data)); r.status != 400 || r.Error == "" {
			t.Errorf("%s: %+v", name, r)
		}
	}
	for _, ctype := range []string{"text/plain", "", "application/x-www-form-urlencoded", "application/json;;"} {
		if r := post(t, nil, url, ctype, bytes.NewReader(body(t, good))); r.status != 415 {
			t.Errorf("Content-Type %q: %+v", ctype, r)
		}
	}
	if s := stats(t, url); s.RejectedInvalid != 7 || s.RejectedType != 4 || s.Accepted != 0 {
		t.Fatalf("stats %+v", s)
	}
	if n := totalReports(t, mem); n != 0 {
		t.Fatalf("store holds %d reports, want none", n)
	}
}

// TestHourWindow: a report up to MaxFutureSkew ahead and one just inside
// the retention are accepted.
func TestHourWindow(t *testing.T) {
	_, url := start(t, Options{Retention: 48 * time.Hour})
	edge := reports(1, 2)
	edge[0].Hour = now.Add(MaxFutureSkew).Truncate(time.Hour).Format(time.RFC3339)
	edge[1].Hour = now.Add(-47 * time.Hour).Truncate(time.Hour).Format(time.RFC3339)
	if r := post(t, nil, url, "application/json", bytes.NewReader(body(t, edge))); r.status != 200 {
		t.Fatalf("%+v", r)
	}
	old := reports(2, 1)
	old[0].Hour = now.Add(-49 * time.Hour).Truncate(time.Hour).Format(time.RFC3339)
	if r := post(t, nil, url, "application/json", bytes.NewReader(body(t, old))); r.status != 400 || !strings.Contains(r.Error, "retention") {
		t.Fatalf("%+v", r)
	}
}

// clientFrom is an HTTP client whose connections come from the loopback
// address ip, so that two clients look like two devices.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestFloodIsRateLimited: one client flooding gets 429 with Retry-After
// once its burst is spent, while another client still gets through; the
// clock is frozen, so no token comes back during the test.
func TestFloodIsRateLimited(t *testing.T) {
	_, url := start(t, Options{RateLimit: 1, Burst: 5})
	flooder, other := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
	limited := 0
	for i := range 50 {
		r := post(t, flooder, url, "application/json", bytes.NewReader(body(t, reports(i, 1))))
		switch {
		case i < 5 && r.status != 200:
			t.Fatalf("upload %d within the burst: %+v", i, r)
		case i >= 5 && r.status != 429:
			t.Fatalf("upload %d past the burst: %+v", i, r)
		case r.status == 429:
			if r.header.Get("Retry-After") != "1" {
				t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
			}
			limited++
		}
	}
	if r := post(t, other, url, "application/json", bytes.NewReader(body(t, reports(100, 1)))); r.status != 200 {
		t.Fatalf("the other client: %+v", r)
	}
	if s := stats(t, url); s.RateLimited != int64(limited) || s.Accepted != 6 {
		t.Fatalf("stats %+v", s)
	}
}

// TestRateLimitRefills: tokens come back with the (injected) clock.
func TestRateLimitRefills(t *testing.T) {
	var mu sync.Mutex
	clock := now
	l := newLimiter(2, 2, 10, func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	for i := range 2 {
		if ok, _ := l.allow("127.0.0.1:1"); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, wait := l.allow("127.0.0.1:2")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("allow = %v, %v; want refused for 500ms", ok, wait)
	}
	mu.Lock()
	clock = clock.Add(500 * time.Millisecond)
	mu.Unlock()
	if ok, _ := l.allow("127.0.0.1:3"); !ok {
		t.Fatal("no token after the refill")
	}
}

// TestRateLimitMapBounded: a flood from many addresses (IPv4 and IPv6)
// never grows the limiter past maxClients; an IPv6 client is one bucket
// per /64.
func TestRateLimitMapBounded(t *testing.T) {
	l := newLimiter(1, 1, 64, fixedNow)
	for i := range 10_000 {
		l.allow(fmt.Sprintf("10.%d.%d.%d:443", i>>16, i>>8&255, i&255))
		l.allow(fmt.Sprintf("[2001:db8:%x::1]:443", i))
		if n := l.clients(); n > 64 {
			t.Fatalf("%d buckets after %d clients", n, i)
		}
	}
	l = newLimiter(1, 1, 64, fixedNow)
	if ok, _ := l.allow("[2001:db8::1]:1"); !ok {
		t.Fatal("first refused")
	}
	if ok, _ := l.allow("[2001:db8::ffff:2]:1"); ok {
		t.Fatal("a second address of the same /64 got its own bucket")
	}
}

// TestSlowlorisHeadersCut: a client that never finishes its headers is
// disconnected after ReadHeaderTimeout, and others are served meanwhile.
func TestSlowlorisHeadersCut(t *testing.T) {
	_, srv := startServer(t, Options{}, func(s *http.Server) {
		s.ReadHeaderTimeout = 100 * time.Millisecond // the bound under test, made short
	})
	conn := dial(t, srv.URL)
	if _, err := io.WriteString(conn, "POST /v1/reports HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	if r := post(t, nil, srv.URL, "application/json", bytes.NewReader(body(t, reports(1, 1)))); r.status != 200 {
		t.Fatalf("another client while the slow one hangs: %+v", r)
	}
	// Only a server that never cuts the connection reaches this deadline.
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	_, err := io.ReadAll(conn)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatal("the server kept a connection whose headers never ended")
	}
}

// failingStore fails every write.
type failingStore struct{ *store.Memory }

func (failingStore) Insert(context.Context, time.Time, []telemetry.Report) (int, error) {
	return 0, errors.New("disk on fire")
}

// TestStoreFailureIs503: a store failure is 503 (the device keeps the
// batch and retries) and counted.
func TestStoreFailureIs503(t *testing.T) {
	_, url := start(t, Options{Store: failingStore{store.NewMemory()}})
	if r := post(t, nil, url, "application/json", bytes.NewReader(body(t, reports(1, 1)))); r.status != 503 {
		t.Fatalf("%+v", r)
	}
	if s := stats(t, url); s.StoreErrors != 1 || s.Accepted != 0 || s.Uploads != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestRoutes: health check, the read side mounted from ReadHandler (404
// without one), wrong methods.
func TestRoutes(t *testing.T) {
	read := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "read "+r.URL.Path) })
	_, url := start(t, Options{ReadHandler: read})
	_, bare := start(t, Options{})
	for _, tc := range []struct {
		url, method string
		status      int
		body        string
	}{
		{url + "/healthz", "GET", 200, "ok"},
		{url + "/dashboard", "GET", 200, "read /dashboard"},
		{url + "/v1/report?model=m", "GET", 200, "read /v1/report"},
		{bare + "/dashboard", "GET", 404, ""},
		{bare + "/v1/report", "GET", 404, ""},
		{url + telemetry.IngestPath, "GET", 405, ""},
		{url + "/v1/stats", "POST", 405, ""},
		{url + "/other", "GET", 404, ""},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || tc.body != "" && string(b) != tc.body {
			t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.url, resp.StatusCode, b, tc.status, tc.body)
		}
	}
}

// gateStore holds its first InsertBatches until released, to show what
// queues behind a commit.
type gateStore struct {
	*store.Memory
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	calls   [][]int // batch sizes of each call
}

func (g *gateStore) InsertBatches(ctx context.Context, received time.Time, batches [][]telemetry.Report) ([]int, error) {
	g.mu.Lock()
	first := len(g.calls) == 0
	var sizes []int
	for _, b := range batches {
		sizes = append(sizes, len(b))
	}
	g.calls = append(g.calls, sizes)
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.release
	}
	return insertEach(ctx, g.Memory, received, batches)
}

// insertEach inserts each batch into m, as a BatchInserter would.
func insertEach(ctx context.Context, m *store.Memory, received time.Time, batches [][]telemetry.Report) ([]int, error) {
	out := make([]int, len(batches))
	for i, b := range batches {
		n, err := m.Insert(ctx, received, b)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// holdCommit posts a first upload and waits until the store holds its
// commit (entered); the function it returns lets the commit go (closes
// release), once, and is also called when the test ends, so that a
// failing test never leaves the committer blocked.
func holdCommit(t *testing.T, url string, answered chan<- response, entered, release chan struct{}) func() {
	t.Helper()
	go func() { answered <- post(t, nil, url, "application/json", bytes.NewReader(body(t, reports(0, 1)))) }()
	<-entered
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	return free
}

// TestGroupCommit: uploads that arrive while a commit runs wait, are
// written together in the next transaction, and each is answered only
// after that commit, with its own counts.
func TestGroupCommit(t *testing.T) {
	g := &gateStore{Memory: store.NewMemory(), entered: make(chan struct{}), release: make(chan struct{})}
	c, url := start(t, Options{Store: g, RateLimit: NoRateLimit})
	answered := make(chan response, 11)
	release := holdCommit(t, url, answered, g.entered, g.release)
	for i := 1; i <= 10; i++ {
		go func() { answered <- post(t, nil, url, "application/json", bytes.NewReader(body(t, reports(i%5+1, i)))) }()
	}
	for len(c.jobs) < 10 { // wait, without sleeping, until all ten are queued
		runtime.Gosched()
	}
	select {
	case r := <-answered:
		t.Fatalf("answered before its commit: %+v", r)
	default:
	}
	release()
	var accepted, dups int
	for range 11 {
		r := <-answered
		if r.status != 200 {
			t.Fatalf("%+v", r)
		}
		accepted += r.Accepted
		dups += r.Duplicates
	}
	if len(g.calls) != 2 || len(g.calls[1]) != 10 {
		t.Fatalf("commits %v, want the first alone and then the ten together", g.calls)
	}
	// Batches i and i+5 share their IDs' prefix: the smaller is a subset
	// of the larger, so 6+7+8+9+10 reports are new, plus the first batch.
	if accepted != 1+6+7+8+9+10 || accepted+dups != 1+55 {
		t.Fatalf("accepted %d, duplicates %d", accepted, dups)
	}
}

// pruneStore records the limits Prune is called with.
type pruneStore struct {
	*store.Memory
	calls chan time.Time
}

func (p pruneStore) Prune(ctx context.Context, before time.Time) (int64, error) {
	n, err := p.Memory.Prune(ctx, before)
	p.calls <- before
	return n, err
}

// TestPruneOnTick: the collector prunes at start and on each tick,
// everything received before now minus the retention and MaxFutureSkew.
func TestPruneOnTick(t *testing.T) {
	ticks := make(chan time.Time)
	ps := pruneStore{store.NewMemory(), make(chan time.Time)}
	ps.Memory.Insert(context.Background(), now.Add(-50*time.Hour), reports(1, 3))
	c, err := New(Options{Store: ps, Now: fixedNow, Retention: 48 * time.Hour, PruneTicks: ticks})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if before := <-ps.calls; !before.Equal(now.Add(-48*time.Hour - MaxFutureSkew)) {
		t.Fatalf("pruned before %v", before)
	}
	ticks <- now
	<-ps.calls
	if s := c.Stats(); s.Pruned != 3 {
		t.Fatalf("stats %+v", s)
	}
}

// TestClosedIs503: after Close, an upload is refused, not lost silently.
func TestClosedIs503(t *testing.T) {
	c, url := start(t, Options{})
	c.Close()
	if r := post(t, nil, url, "application/json", bytes.NewReader(body(t, reports(1, 1)))); r.status != 503 {
		t.Fatalf("%+v", r)
	}
}

// TestStoresNoAddress: after uploads from a client address, nothing in
// the SQLite database files (database, WAL) holds that address.
func TestStoresNoAddress(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, url := start(t, Options{Store: st})
	device := clientFrom("127.0.0.9")
	for i := range 5 {
		if r := post(t, device, url, "application/json", bytes.NewReader(body(t, reports(i, 10)))); r.status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	post(t, device, url, "application/json", strings.NewReader(`{"schema":1,"reports":[]}`)) // a refused one too
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("127.0.0.9")) {
			t.Errorf("%s holds the client's address", filepath.Base(f))
		}
	}
	if n := totalReports(t, st); n != 50 {
		t.Fatalf("%d reports stored, want 50", n)
	}
}
