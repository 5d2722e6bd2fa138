// Package pgstore is the PostgreSQL telemetry store: a store.Store for
// collectors that outgrow one machine's SQLite file (`mrepo telemetry
// serve --db postgres://...`). It keeps the same two tables as the SQLite
// store, with the same meaning (docs/telemetry.md, "PostgreSQL"):
// reports, one row per accepted report, and rollup, the hourly
// aggregates that Counts and Series read, incremented by the same
// statement that inserts new reports, so that a report is counted once
// and only if it is stored.
//
// A batch is inserted with one statement: its reports travel as column
// arrays (unnest), so a batch of 500 costs one round trip and one commit.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// Store is a telemetry store in a PostgreSQL database. It is safe for
// concurrent use: it holds a pool of connections.
type Store struct {
	pool *pgxpool.Pool
}

var (
	_ store.Store         = (*Store)(nil)
	_ store.BatchInserter = (*Store)(nil)
)

// Open connects to the database at url (a PostgreSQL connection URL or
// key=value string, as pgx reads it; pool_max_conns sets the pool size)
// and creates or upgrades the schema (migrate). The caller closes the
// Store.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message can quote the URL, password included.
		return nil, errors.New("telemetry store: postgres: cannot parse the connection URL")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("telemetry store: postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("telemetry store: postgres: %w", err)
	}
	return &Store{pool: pool}, nil
}

// insertSQL inserts batches received at $1 given as column arrays
// ($2-$20, one element per report, IDs unique and sorted; $21 the index
// of the report's batch), skips the IDs that are already stored, adds the
// new ones to rollup, and returns how many were new per batch (batches
// with none are left out). One statement is one transaction: reports and
// rollup change together or not at all.
var insertSQL = `
WITH incoming AS MATERIALIZED (
	SELECT * FROM unnest($2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::text[], $13::bigint[], $14::bigint[],
		$15::text[], $16::text[], $17::text[], $18::text[], $19::smallint[], $20::integer[], $21::integer[])
	AS t(id, kind, hour, model_id, version, from_version, code, method, bytes, full_bytes, duration,
		latency_ms, count, device_class, os, os_version, app_version, cohort_percent, rate, batch)
), ` + upsertSQL

// upsertSQL is the rest of a WITH that has a relation incoming (the
// columns of reports but received, and batch): it inserts the reports
// received at $1 whose IDs are new, adds them to rollup and counts them
// per batch.
//
// Concurrent statements cannot deadlock: each takes its row locks in one
// global order, report IDs first (sorted), then rollup keys (sorted); the
// rollup insert starts only once every report row is in, as it groups
// them first.
var upsertSQL = `new AS (
	INSERT INTO reports (id, received, kind, hour, model_id, version, from_version, code, method, bytes,
		full_bytes, duration, latency_ms, count, device_class, os, os_version, app_version, cohort_percent, rate)
	SELECT id, $1, kind, hour, model_id, version, from_version, code, method, bytes,
		full_bytes, duration, latency_ms, count, device_class, os, os_version, app_version, cohort_percent, rate
	FROM incoming ORDER BY id
	ON CONFLICT (id) DO NOTHING
	RETURNING id, model_id, version, hour, kind, code, method, ` + weightSQL + ` AS weight, bytes, full_bytes
), rolled AS (
	INSERT INTO rollup AS r (model_id, version, hour, kind, code, method, reports, weighted, bytes, full_bytes)
	SELECT model_id, version, hour, kind, code, method, count(*), sum(weight), sum(weight * bytes), sum(weight * full_bytes)
	FROM new GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
	ON CONFLICT (model_id, version, hour, kind, code, method) DO UPDATE SET
		reports = r.reports + excluded.reports, weighted = r.weighted + excluded.weighted,
		bytes = r.bytes + excluded.bytes, full_bytes = r.full_bytes + excluded.full_bytes
	RETURNING 1
)
SELECT incoming.batch, count(*) FROM new JOIN incoming USING (id) GROUP BY 1`

// weightSQL is telemetry.Report.Weight in SQL, computed in double
// precision like Go's float64.
var weightSQL = fmt.Sprintf("%d::float8 / rate", telemetry.FullRate)

// Insert implements store.Store: the batch is durable when it returns
// (the statement's commit, with the server's synchronous_commit).
func (s *Store) Insert(ctx context.Context, received time.Time, reports []telemetry.Report) (int, error) {
	inserted, err := s.InsertBatches(ctx, received, [][]telemetry.Report{reports})
	if err != nil {
		return 0, err
	}
	return inserted[0], nil
}

// InsertBatches inserts several batches in one statement, one commit (the
// collector's group commit, store.BatchInserter) and returns how many
// reports of each were new. A report whose ID is stored already, or is
// in an earlier batch of the call, is a duplicate. Every batch is durable
// when it returns, or none is stored (error).
func (s *Store) InsertBatches(ctx context.Context, received time.Time, batches [][]telemetry.Report) ([]int, error) {
	inserted := make([]int, len(batches))
	cols, err := columnsOf(batches)
	if err != nil {
		return nil, err
	}
	if len(cols.id) == 0 {
		return inserted, ctx.Err()
	}
	rows, err := s.pool.Query(ctx, insertSQL, append([]any{received.Unix()}, cols.args()...)...)
	if err == nil {
		var batch int32
		var n int
		_, err = pgx.ForEachRow(rows, []any{&batch, &n}, func() error {
			inserted[batch] = n
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry store: insert: %w", err)
	}
	return inserted, nil
}

// columns is a batch as column arrays, in insertSQL's order.
type columns struct {
	id, kind                                    []string
	hour                                        []int64
	modelID, version, fromVersion, code, method []string
	bytes, fullBytes                            []int64
	duration                                    []string
	latency, count                              []int64
	deviceClass, os, osVersion, appVersion      []string
	cohort                                      []int16
	rate, batch                                 []int32
}

// columnsOf drops repeated IDs (the first report wins, as a second
// insert of the ID would) and sorts by ID, the lock order.
func columnsOf(batches [][]telemetry.Report) (*columns, error) {
	type numbered struct {
		*telemetry.Report
		batch int32
	}
	var unique []numbered
	seen := map[string]bool{}
	for b, reports := range batches {
		for i := range reports {
			if !seen[reports[i].ID] {
				seen[reports[i].ID] = true
				unique = append(unique, numbered{&reports[i], int32(b)})
			}
		}
	}
	sort.Slice(unique, func(i, j int) bool { return unique[i].ID < unique[j].ID })
	c := &columns{}
	for _, r := range unique {
		hour, err := time.Parse(time.RFC3339, r.Hour)
		if err != nil {
			return nil, fmt.Errorf("telemetry store: %w: hour %q", telemetry.ErrInvalid, r.Hour)
		}
		c.id, c.kind, c.hour = append(c.id, r.ID), append(c.kind, r.Kind), append(c.hour, hour.Unix())
		c.modelID, c.version, c.fromVersion = append(c.modelID, r.ModelID), append(c.version, r.Version), append(c.fromVersion, r.FromVersion)
		c.code, c.method = append(c.code, r.Code), append(c.method, r.Method)
		c.bytes, c.fullBytes, c.duration = append(c.bytes, r.Bytes), append(c.fullBytes, r.FullBytes), append(c.duration, r.Duration)
		c.latency, c.count = append(c.latency, r.LatencyMillis), append(c.count, r.Count)
		c.deviceClass, c.os = append(c.deviceClass, r.DeviceClass), append(c.os, r.OS)
		c.osVersion, c.appVersion = append(c.osVersion, r.OSVersion), append(c.appVersion, r.AppVersion)
		c.cohort, c.rate, c.batch = append(c.cohort, int16(r.CohortPercent)), append(c.rate, int32(r.Rate)), append(c.batch, r.batch)
	}
	return c, nil
}

func (c *columns) args() []any {
	return []any{c.id, c.kind, c.hour, c.modelID, c.version, c.fromVersion, c.code, c.method, c.bytes,
		c.fullBytes, c.duration, c.latency, c.count, c.deviceClass, c.os, c.osVersion, c.appVersion, c.cohort, c.rate, c.batch}
}

// queryArgs are a Query's parameters: $1 model, $2 version or "" for
// all, $3 the first hour (unix seconds) that Since lets in.
func queryArgs(q store.Query) []any {
	since := int64(-1 << 62)
	if !q.Since.IsZero() {
		// Hours are whole seconds: an hour is in if it is not before
		// Since, so a Since between seconds rounds up.
		since = q.Since.Unix()
		if q.Since.Nanosecond() > 0 {
			since++
		}
	}
	return []any{q.ModelID, q.Version, since}
}

const queryWhere = `WHERE model_id = $1 AND ($2 = '' OR version = $2) AND hour >= $3`

// Counts implements store.Store. It reads rollup only. The key columns
// collate as "C", so rows come in byte order, as Go sorts strings.
func (s *Store) Counts(ctx context.Context, q store.Query) ([]store.Count, error) {
	rows, err := s.pool.Query(ctx, `SELECT version, kind, code, method, sum(reports)::bigint, sum(weighted), sum(bytes), sum(full_bytes)
		FROM rollup `+queryWhere+` GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`, queryArgs(q)...)
	if err != nil {
		return nil, fmt.Errorf("telemetry store: counts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Count, error) {
		var c store.Count
		err := row.Scan(&c.Version, &c.Kind, &c.Code, &c.Method, &c.Reports, &c.Weighted, &c.Bytes, &c.FullBytes)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("telemetry store: counts: %w", err)
	}
	return out, nil
}

// Series implements store.Store. It reads rollup only.
func (s *Store) Series(ctx context.Context, q store.Query) ([]store.Point, error) {
	rows, err := s.pool.Query(ctx, `SELECT hour, version, kind, sum(reports)::bigint, sum(weighted)
		FROM rollup `+queryWhere+` GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, queryArgs(q)...)
	if err != nil {
		return nil, fmt.Errorf("telemetry store: series: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Point, error) {
		var p store.Point
		var hour int64
		err := row.Scan(&hour, &p.Version, &p.Kind, &p.Reports, &p.Weighted)
		p.Hour = time.Unix(hour, 0).UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("telemetry store: series: %w", err)
	}
	return out, nil
}

// Models implements store.Store: the models in rollup, which keeps those
// whose reports were all pruned.
func (s *Store) Models(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT model_id FROM rollup ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("telemetry store: models: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("telemetry store: models: %w", err)
	}
	return out, nil
}

// Prune implements store.Store: it deletes from reports only.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM reports WHERE received < $1`, before.Unix())
	if err != nil {
		return 0, fmt.Errorf("telemetry store: prune: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Close implements store.Store: it closes the pool's connections,
// waiting for those in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}
