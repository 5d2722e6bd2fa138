package telemetrycmd

import (
	"context"
	"io"
	"net/http"

	"github.com/edgetuf/edgetuf/telemetry/dashboard"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
	"github.com/edgetuf/edgetuf/telemetry/telemetrydb"
)

// The database drivers (telemetrydb: SQLite and PostgreSQL) and the
// dashboard are linked here, once, for every command that reads reports
// (--db) and for the collector's read side.
func init() {
	OpenDB = func(ctx context.Context, dbURL string) (fleetreport.Source, io.Closer, error) {
		st, err := telemetrydb.Open(ctx, dbURL)
		if err != nil {
			return nil, nil, err
		}
		return fleetreport.FromStore(st), st, nil
	}
	readHandler = func(st store.Store) http.Handler {
		return dashboard.New(fleetreport.FromStore(st), st, dashboard.Options{})
	}
}
