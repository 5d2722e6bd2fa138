package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrSchemaTooNew: the database was migrated by a newer edgetuf, whose
// tables this one may misread; it refuses to use them.
var ErrSchemaTooNew = errors.New("the telemetry schema is newer than this program")

// migrations are the schema changes, in order: migrations[i] takes the
// schema from version i to i+1. Append only; never edit one that has
// shipped.
//
// Strings that are keys or sort keys collate as "C" (byte order): Counts,
// Series and Models sort as Go sorts strings, whatever the database's
// default collation. Times are unix seconds, as in the SQLite store.
var migrations = []string{
	`CREATE TABLE reports (
		id uuid PRIMARY KEY,
		received bigint NOT NULL,
		kind text COLLATE "C" NOT NULL,
		hour bigint NOT NULL,
		model_id text COLLATE "C" NOT NULL,
		version text COLLATE "C" NOT NULL,
		from_version text COLLATE "C" NOT NULL,
		code text COLLATE "C" NOT NULL,
		method text COLLATE "C" NOT NULL,
		bytes bigint NOT NULL,
		full_bytes bigint NOT NULL,
		duration text COLLATE "C" NOT NULL,
		latency_ms bigint NOT NULL,
		count bigint NOT NULL,
		device_class text COLLATE "C" NOT NULL,
		os text COLLATE "C" NOT NULL,
		os_version text COLLATE "C" NOT NULL,
		app_version text COLLATE "C" NOT NULL,
		cohort_percent smallint NOT NULL,
		rate integer NOT NULL
	);
	CREATE INDEX reports_received ON reports (received);
	CREATE TABLE rollup (
		model_id text COLLATE "C" NOT NULL,
		version text COLLATE "C" NOT NULL,
		hour bigint NOT NULL,
		kind text COLLATE "C" NOT NULL,
		code text COLLATE "C" NOT NULL,
		method text COLLATE "C" NOT NULL,
		reports bigint NOT NULL,
		weighted double precision NOT NULL,
		bytes double precision NOT NULL,
		full_bytes double precision NOT NULL,
		PRIMARY KEY (model_id, version, hour, kind, code, method)
	);`,
}

// schemaVersion is the schema version this package creates and reads.
var schemaVersion = len(migrations)

// migrateLock is the advisory lock key that serialises migrations: two
// collectors starting at once must not both create the tables.
const migrateLock = 0x65646765_74756631 // "edgetuf1"

// migrate brings the database's schema to schemaVersion, in one
// transaction: every step and its row in edgetuf_telemetry_schema, or
// nothing. It is idempotent: on an up-to-date database it changes
// nothing.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS edgetuf_telemetry_schema (
			version integer PRIMARY KEY,
			applied timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM edgetuf_telemetry_schema`).Scan(&have); err != nil {
			return err
		}
		if have > schemaVersion {
			return fmt.Errorf("%w: version %d, this program knows %d", ErrSchemaTooNew, have, schemaVersion)
		}
		for v := have; v < schemaVersion; v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("schema version %d: %w", v+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO edgetuf_telemetry_schema (version) VALUES ($1)`, v+1); err != nil {
				return err
			}
		}
		return nil
	})
}
