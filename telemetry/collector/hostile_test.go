package collector

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// poisonStore refuses any transaction that holds the report ID poison,
// and holds its first InsertBatches until released so that uploads queue
// into one group behind it.
type poisonStore struct {
	*store.Memory
	poison  string
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (p *poisonStore) refuses(reports []telemetry.Report) bool {
	return slices.ContainsFunc(reports, func(r telemetry.Report) bool { return r.ID == p.poison })
}

func (p *poisonStore) Insert(ctx context.Context, received time.Time, reports []telemetry.Report) (int, error) {
	if p.refuses(reports) {
		return 0, errors.New("constraint failed")
	}
	return p.Memory.Insert(ctx, received, reports)
}

func (p *poisonStore) InsertBatches(ctx context.Context, received time.Time, batches [][]telemetry.Report) ([]int, error) {
	p.once.Do(func() { close(p.entered); <-p.release })
	if slices.ContainsFunc(batches, p.refuses) {
		return nil, errors.New("constraint failed") // all or nothing: nothing written
	}
	return insertEach(ctx, p.Memory, received, batches)
}

// TestFailingBatchFailsOnlyItself: in a group commit, a batch the store
// refuses is answered 503 and the other batches of its group are
// committed and acknowledged with their own counts.
func TestFailingBatchFailsOnlyItself(t *testing.T) {
	bad := reports(99, 3)
	ps := &poisonStore{Memory: store.NewMemory(), poison: bad[1].ID, entered: make(chan struct{}), release: make(chan struct{})}
	c, url := start(t, Options{Store: ps, RateLimit: NoRateLimit})
	answered := make(chan response, 7)
	release := holdCommit(t, url, answered, ps.entered, ps.release)
	poisoned := make(chan response, 1)
	go func() { poisoned <- post(t, nil, url, "application/json", bytes.NewReader(body(t, bad))) }()
	for i := 1; i <= 5; i++ {
		go func() { answered <- post(t, nil, url, "application/json", bytes.NewReader(body(t, reports(i, 2)))) }()
	}
	for len(c.jobs) < 6 { // all six queued behind the held commit
		runtime.Gosched()
	}
	release()
	if r := <-poisoned; r.status != http.StatusServiceUnavailable {
		t.Fatalf("the refused batch: %+v", r)
	}
	for range 6 {
		if r := <-answered; r.status != 200 || r.Accepted+r.Duplicates == 0 {
			t.Fatalf("a good batch of the failed group: %+v", r)
		}
	}
	if n := totalReports(t, ps); n != 1+5*2 {
		t.Fatalf("%d reports stored, want 11", n)
	}
	if s := c.Stats(); s.StoreErrors != 1 || s.Acknowledged != 6 || s.Accepted != 11 {
		t.Fatalf("stats %+v", s)
	}
}

// TestInFlightBounded: beyond MaxInFlight uploads at once, an upload is
// answered 503 with Retry-After before its body is read, and counted;
// the uploads in flight are committed.
func TestInFlightBounded(t *testing.T) {
	g := &gateStore{Memory: store.NewMemory(), entered: make(chan struct{}), release: make(chan struct{})}
	c, url := start(t, Options{Store: g, RateLimit: NoRateLimit, MaxInFlight: 2})
	answered := make(chan response, 2)
	release := holdCommit(t, url, answered, g.entered, g.release)
	go func() { answered <- post(t, nil, url, "application/json", bytes.NewReader(body(t, reports(1, 1)))) }()
	for len(c.jobs) < 1 {
		runtime.Gosched()
	}
	// A body that never ends: it must be refused without being read.
	conn := dial(t, url)
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"schema\":1,", telemetry.IngestPath)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the third upload: %d %v", resp.StatusCode, resp.Header)
	}
	release()
	for range 2 {
		if r := <-answered; r.status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	if s := c.Stats(); s.Unavailable != 1 || s.Acknowledged != 2 || s.Uploads != 3 {
		t.Fatalf("stats %+v", s)
	}
}

// TestSlowBodyCut: a client that sends its headers and then its body
// slowly (never finishing) is cut off at ReadTimeout, its upload counted
// as refused and its in-flight slot freed; others are served meanwhile.
func TestSlowBodyCut(t *testing.T) {
	c, srv := startServer(t, Options{MaxInFlight: 1}, func(s *http.Server) {
		s.ReadTimeout = 200 * time.Millisecond // the bound under test, made short
	})
	conn := dial(t, srv.URL)
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"schema\":1,", telemetry.IngestPath)
	// Only a server that never cuts the connection reaches this deadline.
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Fatal("the server kept a connection whose body never ended")
	}
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("slow body answered %d", resp.StatusCode)
		}
	}
	// The slot is free again: with MaxInFlight 1, this upload is served.
	for len(c.inFlight) > 0 {
		runtime.Gosched()
	}
	if r := post(t, nil, srv.URL, "application/json", bytes.NewReader(body(t, reports(1, 1)))); r.status != 200 {
		t.Fatalf("after the slow client: %+v", r)
	}
	if s := c.Stats(); s.RejectedInvalid != 1 || s.Acknowledged != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestStatsAddUp: after a hostile mix of uploads, every upload is
// counted in exactly one outcome, and the reports in the counters are
// those in the store.
func TestStatsAddUp(t *testing.T) {
	st := store.NewMemory()
	c, url := start(t, Options{Store: st, RateLimit: 1, Burst: 20})
	var sent int64
	send := func(client *http.Client, ctype string, data []byte) response {
		sent++
		return post(t, client, url, ctype, bytes.NewReader(data))
	}
	good := body(t, reports(1, 5))
	send(nil, "application/json", good)
	send(nil, "application/json", good) // replay
	send(nil, "application/json", bytes.Repeat([]byte(" "), telemetry.MaxBatchBytes+1))
	send(nil, "text/plain", good)
	send(nil, "application/json", []byte(`{"schema":1,"reports":[{"id":"x"}]}`))
	send(nil, "application/json", []byte(`{"schema":1,"reports":[`))
	future := reports(2, 1)
	future[0].Hour = now.Add(3 * time.Hour).Truncate(time.Hour).Format(time.RFC3339)
	send(nil, "application/json", body(t, future))
	for i := range 30 { // a flood: the bucket holds 20
		send(nil, "application/json", body(t, reports(10+i, 1)))
	}
	s := stats(t, url)
	outcomes := s.Acknowledged + s.RejectedInvalid + s.RejectedSize + s.RejectedType + s.RateLimited + s.StoreErrors + s.Unavailable
	if s.Uploads != sent || outcomes != sent {
		t.Fatalf("sent %d uploads; stats %+v add up to %d", sent, s, outcomes)
	}
	if s.RateLimited == 0 || s.RejectedInvalid != 3 || s.RejectedSize != 1 || s.RejectedType != 1 {
		t.Fatalf("stats %+v", s)
	}
	if n := totalReports(t, st); s.Accepted != n || s.Duplicates != 5 {
		t.Fatalf("stats %+v, %d reports stored", s, n)
	}
	_ = c
}

// TestRetryAfterPruneNotCountedTwice: a report whose hour is ahead of
// its receipt (a device clock ahead, within MaxFutureSkew) keeps its ID
// as long as a retry of it is accepted: the retry is a duplicate, not a
// second report.
func TestRetryAfterPruneNotCountedTwice(t *testing.T) {
	var mu sync.Mutex
	clock := now
	nowFn := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	ticks := make(chan time.Time)
	ps := pruneStore{store.NewMemory(), make(chan time.Time, 2)}
	const retention = 48 * time.Hour
	c, url := start(t, Options{Store: ps, Now: nowFn, Retention: retention, PruneTicks: ticks, RateLimit: NoRateLimit})
	<-ps.calls // the prune at start
	ahead := reports(1, 2)
	for i := range ahead {
		ahead[i].Hour = now.Truncate(time.Hour).Add(time.Hour).Format(time.RFC3339) // 11:00, received 10:30
	}
	if r := post(t, nil, url, "application/json", bytes.NewReader(body(t, ahead))); r.status != 200 || r.Accepted != 2 {
		t.Fatalf("%+v", r)
	}
	mu.Lock()
	clock = now.Add(retention + 15*time.Minute) // the hour 11:00 is still within the retention
	mu.Unlock()
	ticks <- clock
	<-ps.calls
	r := post(t, nil, url, "application/json", bytes.NewReader(body(t, ahead)))
	if r.status != 200 || r.Accepted != 0 || r.Duplicates != 2 {
		t.Fatalf("the retry: %+v", r)
	}
	if n := totalReports(t, ps); n != 2 {
		t.Fatalf("%d reports counted, want 2", n)
	}
	_ = c
}

// TestCloseCommitsQueued: Close (after the HTTP server stopped taking
// requests) commits the batches queued behind a running commit and
// answers them 200; an upload after Close is 503, counted.
func TestCloseCommitsQueued(t *testing.T) {
	g := &gateStore{Memory: store.NewMemory(), entered: make(chan struct{}), release: make(chan struct{})}
	c, url := start(t, Options{Store: g, RateLimit: NoRateLimit})
	answered := make(chan response, 6)
	release := holdCommit(t, url, answered, g.entered, g.release)
	for i := 1; i <= 5; i++ {
		go func() { answered <- post(t, nil, url, "application/json", bytes.NewReader(body(t, reports(i, 3)))) }()
	}
	for len(c.jobs) < 5 {
		runtime.Gosched()
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	for { // Close has begun: new uploads are refused
		c.mu.RLock()
		isClosed := c.closed
		c.mu.RUnlock()
		if isClosed {
			break
		}
		runtime.Gosched()
	}
	if r := post(t, nil, url, "application/json", bytes.NewReader(body(t, reports(9, 1)))); r.status != http.StatusServiceUnavailable {
		t.Fatalf("an upload during Close: %+v", r)
	}
	release()
	for range 6 {
		if r := <-answered; r.status != 200 {
			t.Fatalf("a queued upload: %+v", r)
		}
	}
	<-closed
	if n := totalReports(t, g); n != 1+5*3 {
		t.Fatalf("%d reports stored, want 16", n)
	}
	if s := c.Stats(); s.Acknowledged != 6 || s.Unavailable != 1 || s.Uploads != 7 {
		t.Fatalf("stats %+v", s)
	}
}

// TestClientNeverReadsCut: a client that sends request after request and
// never reads an answer fills its connection; the server is then either
// blocked writing (cut by WriteTimeout) or, its answers taken by the
// kernel, waiting for (the rest of) a request that the full connection no
// longer delivers (cut by IdleTimeout, ReadHeaderTimeout or ReadTimeout).
// Whichever, the server closes the connection and frees what it held,
// instead of holding it for ever.
func TestClientNeverReadsCut(t *testing.T) {
	closed := make(chan struct{})
	_, srv := startServer(t, Options{}, func(s *http.Server) {
		short := 200 * time.Millisecond // the bounds under test, made short
		s.WriteTimeout, s.IdleTimeout, s.ReadHeaderTimeout, s.ReadTimeout = short, short, short, short
		s.ConnState = func(_ net.Conn, state http.ConnState) {
			if state == http.StateClosed {
				close(closed)
			}
		}
	})
	conn := dial(t, srv.URL)
	conn.(*net.TCPConn).SetReadBuffer(4096) // fill up sooner
	go func() {
		req := []byte("GET /v1/stats HTTP/1.1\r\nHost: x\r\n\r\n")
		for {
			if _, err := conn.Write(req); err != nil {
				return // the connection is closed (by the server, or at the end of the test)
			}
		}
	}()
	select {
	case <-closed:
	case <-time.After(time.Minute): // only a server that never cuts the connection gets here
		t.Fatal("the server kept a connection whose client never read")
	}
}
