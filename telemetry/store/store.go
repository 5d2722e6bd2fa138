// Package store is where the collector keeps telemetry reports: the
// Store interface that the SQLite and PostgreSQL stores implement
// (telemetry/sqlitestore, telemetry/pgstore, both checked by the shared
// suite in telemetry/store/storetest) and Memory, an in-process store
// for tests.
//
// A store keeps each accepted report once (by its random ID) and the
// aggregates that reports and dashboards read (Counts, Series), so that
// reading a million reports' funnel never scans a million rows.
package store

import (
	"context"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
)

// Store keeps reports durably and answers aggregate queries.
type Store interface {
	// Insert stores reports received at the given time. It returns only
	// once they are durable (committed): the collector acknowledges a
	// batch after Insert returns. A report whose ID is already stored is
	// skipped, not an error; inserted counts the new ones. Reports are
	// already checked (telemetry.Report.Check).
	Insert(ctx context.Context, received time.Time, reports []telemetry.Report) (inserted int, err error)
	// Counts aggregates the reports of q by version, kind, code and
	// method.
	Counts(ctx context.Context, q Query) ([]Count, error)
	// Series aggregates the reports of q by hour (Report.Hour), version
	// and kind, oldest hour first.
	Series(ctx context.Context, q Query) ([]Point, error)
	// Models lists the model IDs that have reports, sorted.
	Models(ctx context.Context) ([]string, error)
	// Prune deletes the reports received before the given time (the
	// retention limit) and returns how many. Aggregates are kept: Counts
	// and Series still include them. A pruned report's ID is forgotten.
	Prune(ctx context.Context, before time.Time) (int64, error)
	// Close releases the store.
	Close() error
}

// Query selects reports: of ModelID, of Version if not empty, whose Hour
// is at or after Since if not zero.
type Query struct {
	ModelID string
	Version string
	Since   time.Time
}

// Count aggregates the reports of one version, kind, code and method.
type Count struct {
	Version string `json:"version"`
	Kind    string `json:"kind"`
	Code    string `json:"code,omitempty"`
	Method  string `json:"method,omitempty"`
	// Reports is how many reports were received; Weighted the sum of
	// their weights (telemetry.Report.Weight): what the fleet did.
	Reports  int64   `json:"reports"`
	Weighted float64 `json:"weighted"`
	// Bytes and FullBytes are weighted sums of the reports' fields.
	Bytes     float64 `json:"bytes,omitempty"`
	FullBytes float64 `json:"full_bytes,omitempty"`
}

// Point aggregates the reports of one hour, version and kind.
type Point struct {
	Hour     time.Time `json:"hour"`
	Version  string    `json:"version"`
	Kind     string    `json:"kind"`
	Reports  int64     `json:"reports"`
	Weighted float64   `json:"weighted"`
}
