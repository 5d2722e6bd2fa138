package pgstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
	"github.com/edgetuf/edgetuf/telemetry/store/storetest"
)

func open(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPostgres runs the shared store suite and the PostgreSQL cases on
// one server (starting one takes a while), each on its own database.
func TestPostgres(t *testing.T) {
	srv := backendtest.Postgres(t, backendtest.PostgresOptions{})
	t.Run("StoreSuite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return open(t, srv.NewDatabase(t)) })
	})
	for _, c := range []struct {
		name string
		run  func(t *testing.T, url string)
	}{
		{"Reopen", testReopen},
		{"ConcurrentOpen", testConcurrentOpen},
		{"SchemaTooNew", testSchemaTooNew},
		{"InsertIsAllOrNothing", testInsertIsAllOrNothing},
		{"EveryFieldStored", testEveryFieldStored},
		{"SearchPath", testSearchPath},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, srv.NewDatabase(t)) })
	}
}

func report(n int) telemetry.Report {
	return telemetry.Report{ID: fmt.Sprintf("%032x", n), Kind: telemetry.KindActivated, ModelID: "m", Version: "1.0.0",
		Hour: "2026-12-01T10:00:00Z", CohortPercent: 3, Rate: 2500, Method: telemetry.MethodDelta, Bytes: 10, FullBytes: 100,
		Duration: "lt1s", DeviceClass: "arm64-small", OS: "linux", OSVersion: "6.1", AppVersion: "4.2.0"}
}

var received = time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)

// testReopen: what a store committed is there after it is closed and
// opened again, and opening again migrates nothing (one schema row, the
// tables untouched).
func testReopen(t *testing.T, url string) {
	s := open(t, url)
	if n, err := s.Insert(context.Background(), received, []telemetry.Report{report(1), report(2)}); err != nil || n != 2 {
		t.Fatalf("Insert = %d, %v", n, err)
	}
	s.Close()
	s = open(t, url)
	defer s.Close()
	var versions []int
	rows, _ := s.pool.Query(context.Background(), `SELECT version FROM edgetuf_telemetry_schema ORDER BY 1`)
	for rows.Next() {
		var v int
		rows.Scan(&v)
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil || len(versions) != 1 || versions[0] != schemaVersion {
		t.Fatalf("schema versions after two opens: %v, %v; want [%d]", versions, err, schemaVersion)
	}
	// The stored reports still deduplicate, and still count.
	if n, err := s.Insert(context.Background(), received, []telemetry.Report{report(2), report(3)}); err != nil || n != 1 {
		t.Fatalf("Insert after reopening = %d, %v; want 1", n, err)
	}
	counts, err := s.Counts(context.Background(), store.Query{ModelID: "m"})
	if err != nil || len(counts) != 1 || counts[0].Reports != 3 || counts[0].Weighted != 12 || counts[0].Bytes != 120 {
		t.Fatalf("Counts after reopening: %+v, %v", counts, err)
	}
}

// testConcurrentOpen: collectors starting together on an empty database
// all succeed; the schema is created once.
func testConcurrentOpen(t *testing.T, url string) {
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
	}
}

// testSchemaTooNew: a database migrated by a newer program is refused,
// not misread.
func testSchemaTooNew(t *testing.T, url string) {
	s := open(t, url)
	if _, err := s.pool.Exec(context.Background(), `INSERT INTO edgetuf_telemetry_schema (version) VALUES ($1)`, schemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(context.Background(), url); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// testInsertIsAllOrNothing: when a batch fails in the database, none of
// it is stored or counted (the collector answers 503 and the device
// retries all of it). A rate of 0, which Report.Check refuses, makes the
// weight a division by zero after the first report is in.
func testInsertIsAllOrNothing(t *testing.T, url string) {
	s := open(t, url)
	defer s.Close()
	bad := report(2)
	bad.Rate = 0
	if _, err := s.Insert(context.Background(), received, []telemetry.Report{report(1), bad}); err == nil {
		t.Fatal("Insert of a batch that fails in the database succeeded")
	}
	var reports, rollup int
	if err := s.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM reports), (SELECT count(*) FROM rollup)`).Scan(&reports, &rollup); err != nil {
		t.Fatal(err)
	}
	if reports != 0 || rollup != 0 {
		t.Fatalf("after a failed batch: %d reports, %d rollup rows stored", reports, rollup)
	}
	if n, err := s.Insert(context.Background(), received, []telemetry.Report{report(1)}); err != nil || n != 1 {
		t.Fatalf("Insert of the good report again = %d, %v; want 1 (new)", n, err)
	}
}

// testEveryFieldStored: a report's every field is in its row, and
// nothing else (no address, no request data) is.
func testEveryFieldStored(t *testing.T, url string) {
	s := open(t, url)
	defer s.Close()
	r := report(7)
	r.Kind, r.FromVersion, r.Code, r.LatencyMillis, r.Count = telemetry.KindDropped, "0.9.0", "SOME_CODE", 120, 5
	if _, err := s.Insert(context.Background(), received, []telemetry.Report{r}); err != nil {
		t.Fatal(err)
	}
	var got telemetry.Report
	var id string
	var hour, at int64
	err := s.pool.QueryRow(context.Background(), `SELECT replace(id::text, '-', ''), received, kind, hour, model_id, version,
		from_version, code, method, bytes, full_bytes, duration, latency_ms, count, device_class, os, os_version,
		app_version, cohort_percent, rate FROM reports`).Scan(&id, &at, &got.Kind, &hour, &got.ModelID, &got.Version,
		&got.FromVersion, &got.Code, &got.Method, &got.Bytes, &got.FullBytes, &got.Duration, &got.LatencyMillis, &got.Count,
		&got.DeviceClass, &got.OS, &got.OSVersion, &got.AppVersion, &got.CohortPercent, &got.Rate)
	if err != nil {
		t.Fatal(err)
	}
	got.ID, got.Hour = id, time.Unix(hour, 0).UTC().Format(time.RFC3339)
	if got != r || at != received.Unix() {
		t.Fatalf("stored %+v received %d,\nwant   %+v received %d", got, at, r, received.Unix())
	}
	var columns []string
	rows, _ := s.pool.Query(context.Background(), `SELECT column_name FROM information_schema.columns WHERE table_name = 'reports'`)
	for rows.Next() {
		var c string
		rows.Scan(&c)
		columns = append(columns, c)
	}
	if len(columns) != 20 { // the 19 fields of a Report and received
		t.Fatalf("reports has columns %q: want a report's fields and received only", columns)
	}
}

// TestOpenHidesPassword: an unusable URL is refused without repeating it,
// since it may carry a password.
func TestOpenHidesPassword(t *testing.T) {
	_, err := Open(context.Background(), "postgres://u:s3cret-pass@127.0.0.1:1/db?sslmode=bogus")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open of a bad URL: %v", err)
	}
}

// testSearchPath: search_path in the URL puts the tables in that schema
// (docs/telemetry.md suggests a schema of their own).
func testSearchPath(t *testing.T, url string) {
	s := open(t, url)
	if _, err := s.pool.Exec(context.Background(), `CREATE SCHEMA telemetry`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, url+"&search_path=telemetry")
	defer s.Close()
	if n, err := s.Insert(context.Background(), received, []telemetry.Report{report(1)}); err != nil || n != 1 {
		t.Fatalf("Insert = %d, %v", n, err)
	}
	var tables []string
	rows, _ := s.pool.Query(context.Background(), `SELECT table_name FROM information_schema.tables WHERE table_schema = 'telemetry' ORDER BY 1`)
	for rows.Next() {
		var name string
		rows.Scan(&name)
		tables = append(tables, name)
	}
	if want := []string{"edgetuf_telemetry_schema", "reports", "rollup"}; !reflect.DeepEqual(tables, want) {
		t.Fatalf("tables in schema telemetry: %q, want %q", tables, want)
	}
}
