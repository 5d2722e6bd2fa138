// Package sqlitestore is the collector's embedded telemetry store: a
// store.Store in one SQLite file, through modernc.org/sqlite (pure Go, so
// mrepo stays free of cgo). The database runs in WAL mode with
// synchronous=FULL: a batch whose Insert returned survives kill -9 and
// power loss. Each commit inserts the new reports and adds them to the
// rollup table in the same transaction; Counts, Series and Models read
// only the rollup, so they stay fast with millions of reports.
//
// The semantics, sort orders included, are those of store.Memory; the
// shared suite telemetry/store/storetest checks them.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// SchemaVersion is the version of the database layout this package
// writes, kept in the schema_version table. A database of a newer version
// is refused rather than misread.
const SchemaVersion = 1

// MaxOpenConns bounds the connection pool: SQLite has one writer at a
// time (the collector's committer) and WAL lets a few readers (dashboard,
// reports) run beside it.
const MaxOpenConns = 4

// BusyTimeout is how long a statement waits for a lock another
// connection or process holds before failing.
const BusyTimeout = 10 * time.Second

// pruneChunk bounds the reports one Prune transaction deletes, so that
// pruning a large backlog never holds the write lock for long.
const pruneChunk = 5000

// ErrNewerSchema: the database was written by a newer version.
var ErrNewerSchema = errors.New("telemetry database has a newer schema")

const schema = `
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE reports (
	id             TEXT PRIMARY KEY,
	received       INTEGER NOT NULL,
	kind           TEXT NOT NULL,
	hour           INTEGER NOT NULL,
	model_id       TEXT NOT NULL,
	version        TEXT NOT NULL,
	from_version   TEXT NOT NULL,
	code           TEXT NOT NULL,
	method         TEXT NOT NULL,
	bytes          INTEGER NOT NULL,
	full_bytes     INTEGER NOT NULL,
	duration       TEXT NOT NULL,
	latency_ms     INTEGER NOT NULL,
	count          INTEGER NOT NULL,
	device_class   TEXT NOT NULL,
	os             TEXT NOT NULL,
	os_version     TEXT NOT NULL,
	app_version    TEXT NOT NULL,
	cohort_percent INTEGER NOT NULL,
	rate           INTEGER NOT NULL
);
CREATE INDEX reports_received ON reports (received);
CREATE TABLE rollup (
	model_id   TEXT NOT NULL,
	version    TEXT NOT NULL,
	hour       INTEGER NOT NULL,
	kind       TEXT NOT NULL,
	code       TEXT NOT NULL,
	method     TEXT NOT NULL,
	reports    INTEGER NOT NULL,
	weighted   REAL NOT NULL,
	bytes      REAL NOT NULL,
	full_bytes REAL NOT NULL,
	PRIMARY KEY (model_id, version, hour, kind, code, method)
) WITHOUT ROWID;
`

// Store is a store.Store in a SQLite database file.
type Store struct {
	db *sql.DB
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.BatchInserter = (*Store)(nil)
)

// Open opens the database at path, creating it (and its schema) if it
// does not exist.
func Open(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := createFile(abs); err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", abs, err)
	}
	params := url.Values{}
	params.Set("_txlock", "immediate") // a writer takes the lock at BEGIN, not mid-transaction
	params.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "synchronous(FULL)")  // an acknowledged batch survives power loss
	params.Add("_pragma", "cache_size(-32768)") // 32 MiB: a transaction with random IDs touches many pages
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + params.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", abs, err)
	}
	db.SetMaxOpenConns(MaxOpenConns)
	db.SetMaxIdleConns(MaxOpenConns)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", abs, err)
	}
	return s, nil
}

// createFile creates a missing database file, readable by its owner
// only (SQLite gives its -wal and -shm files the database's permissions),
// and its missing directories (0700), durably: reports are operational
// data that other local users have no business reading.
func createFile(path string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return err // nil: an existing database is opened as it is
	}
	dir := filepath.Dir(path)
	existing := dir
	for {
		if _, err := os.Stat(existing); err == nil || existing == filepath.Dir(existing) {
			break
		}
		existing = filepath.Dir(existing)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	// Make the new file and each new directory durable in its parent.
	// (internal/atomicfs is the repository writer's: the collector links
	// none of it.)
	for d := dir; ; d = filepath.Dir(d) {
		if err := syncDir(d); err != nil {
			return err
		}
		if d == existing || d == filepath.Dir(d) {
			return nil
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) { // EINVAL: cannot sync a directory here
		return err
	}
	return nil
}

// migrate creates the schema of a new database and checks the version of
// an existing one.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'schema_version'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, SchemaVersion); err != nil {
			return err
		}
		return tx.Commit()
	}
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if v > SchemaVersion {
		return fmt.Errorf("%w: version %d, this program knows %d", ErrNewerSchema, v, SchemaVersion)
	}
	return tx.Commit()
}

// Insert implements store.Store.
func (s *Store) Insert(ctx context.Context, received time.Time, reports []telemetry.Report) (int, error) {
	n, err := s.InsertBatches(ctx, received, [][]telemetry.Report{reports})
	if err != nil {
		return 0, err
	}
	return n[0], nil
}

type rollupKey struct {
	modelID, version string
	hour             int64
	kind, code       string
	method           string
}

type rollupSum struct {
	reports                    int64
	weighted, bytes, fullBytes float64
}

// InsertBatches implements store.BatchInserter: one transaction, one
// fsync, for every batch.
func (s *Store) InsertBatches(ctx context.Context, received time.Time, batches [][]telemetry.Report) ([]int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer tx.Rollback()
	insert, err := tx.PrepareContext(ctx, `INSERT INTO reports (id, received, kind, hour, model_id, version,
		from_version, code, method, bytes, full_bytes, duration, latency_ms, count, device_class, os,
		os_version, app_version, cohort_percent, rate)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer insert.Close()
	// The rollup deltas of the new reports, summed here so that each
	// rollup row is written once per commit. order keeps them in first
	// seen order, so that the result does not depend on map order.
	sums := map[rollupKey]*rollupSum{}
	var order []rollupKey
	inserted := make([]int, len(batches))
	for b, reports := range batches {
		for i := range reports {
			r := &reports[i]
			hour, err := time.Parse(time.RFC3339, r.Hour)
			if err != nil {
				return nil, fmt.Errorf("sqlite: report %s: %w", r.ID, err)
			}
			res, err := insert.ExecContext(ctx, r.ID, received.Unix(), r.Kind, hour.Unix(), r.ModelID, r.Version,
				r.FromVersion, r.Code, r.Method, r.Bytes, r.FullBytes, r.Duration, r.LatencyMillis, r.Count,
				r.DeviceClass, r.OS, r.OSVersion, r.AppVersion, r.CohortPercent, r.Rate)
			if err != nil {
				return nil, fmt.Errorf("sqlite: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				continue // a duplicate (err cannot happen with this driver)
			}
			inserted[b]++
			k := rollupKey{r.ModelID, r.Version, hour.Unix(), r.Kind, r.Code, r.Method}
			sum := sums[k]
			if sum == nil {
				sum = &rollupSum{}
				sums[k] = sum
				order = append(order, k)
			}
			w := r.Weight()
			sum.reports++
			sum.weighted += w
			sum.bytes += w * float64(r.Bytes)
			sum.fullBytes += w * float64(r.FullBytes)
		}
	}
	if err := addRollup(ctx, tx, order, sums); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: commit: %w", err)
	}
	return inserted, nil
}

func addRollup(ctx context.Context, tx *sql.Tx, order []rollupKey, sums map[rollupKey]*rollupSum) error {
	if len(order) == 0 {
		return nil
	}
	upsert, err := tx.PrepareContext(ctx, `INSERT INTO rollup (model_id, version, hour, kind, code, method,
		reports, weighted, bytes, full_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (model_id, version, hour, kind, code, method) DO UPDATE SET
		reports = reports + excluded.reports, weighted = weighted + excluded.weighted,
		bytes = bytes + excluded.bytes, full_bytes = full_bytes + excluded.full_bytes`)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	defer upsert.Close()
	for _, k := range order {
		s := sums[k]
		if _, err := upsert.ExecContext(ctx, k.modelID, k.version, k.hour, k.kind, k.code, k.method,
			s.reports, s.weighted, s.bytes, s.fullBytes); err != nil {
			return fmt.Errorf("sqlite: rollup: %w", err)
		}
	}
	return nil
}

// where is the rollup filter of q, with its arguments.
func where(q store.Query) (string, []any) {
	clause, args := `model_id = ?`, []any{q.ModelID}
	if q.Version != "" {
		clause += ` AND version = ?`
		args = append(args, q.Version)
	}
	if !q.Since.IsZero() {
		clause += ` AND hour >= ?`
		args = append(args, ceilUnix(q.Since))
	}
	return clause, args
}

// ceilUnix is t in whole unix seconds, rounded up: hours and receive
// times are stored in whole seconds, so "at or after t" is "at or after
// ceilUnix(t)" and "before t" is "before ceilUnix(t)".
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.After(time.Unix(s, 0)) {
		s++
	}
	return s
}

// collect runs a query and scans each row with scan. It returns an
// empty, not nil, slice when there is no row (as store.Memory does).
func collect[T any](ctx context.Context, db *sql.DB, scan func(*sql.Rows, *T) error, query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return out, nil
}

// Counts implements store.Store.
func (s *Store) Counts(ctx context.Context, q store.Query) ([]store.Count, error) {
	clause, args := where(q)
	return collect(ctx, s.db, func(rows *sql.Rows, c *store.Count) error {
		return rows.Scan(&c.Version, &c.Kind, &c.Code, &c.Method, &c.Reports, &c.Weighted, &c.Bytes, &c.FullBytes)
	}, `SELECT version, kind, code, method, sum(reports), sum(weighted), sum(bytes), sum(full_bytes)
		FROM rollup WHERE `+clause+`
		GROUP BY version, kind, code, method ORDER BY version, kind, code, method`, args...)
}

// Series implements store.Store.
func (s *Store) Series(ctx context.Context, q store.Query) ([]store.Point, error) {
	clause, args := where(q)
	return collect(ctx, s.db, func(rows *sql.Rows, p *store.Point) error {
		var hour int64
		err := rows.Scan(&hour, &p.Version, &p.Kind, &p.Reports, &p.Weighted)
		p.Hour = time.Unix(hour, 0).UTC()
		return err
	}, `SELECT hour, version, kind, sum(reports), sum(weighted)
		FROM rollup WHERE `+clause+` GROUP BY hour, version, kind ORDER BY hour, version, kind`, args...)
}

// Models implements store.Store. Like store.Memory, it returns nil when
// there is no model.
func (s *Store) Models(ctx context.Context) ([]string, error) {
	out, err := collect(ctx, s.db, func(rows *sql.Rows, m *string) error { return rows.Scan(m) },
		`SELECT DISTINCT model_id FROM rollup ORDER BY model_id`)
	if len(out) == 0 {
		return nil, err
	}
	return out, err
}

// Prune implements store.Store. It deletes in chunks, each its own
// transaction, so that ingest is never held up for long.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	limit := ceilUnix(before)
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, `DELETE FROM reports WHERE rowid IN
			(SELECT rowid FROM reports WHERE received < ? LIMIT ?)`, limit, pruneChunk)
		if err != nil {
			return total, fmt.Errorf("sqlite: prune: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("sqlite: prune: %w", err)
		}
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

// Close implements store.Store.
func (s *Store) Close() error { return s.db.Close() }
