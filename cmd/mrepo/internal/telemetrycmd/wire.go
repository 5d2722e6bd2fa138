package telemetrycmd

import (
	"context"
	"io"

	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/telemetrydb"
)

// The database drivers (telemetrydb: SQLite and PostgreSQL) open --db for
// every command that reads reports.
func init() {
	OpenDB = func(ctx context.Context, dbURL string) (fleetreport.Source, io.Closer, error) {
		st, err := telemetrydb.Open(ctx, dbURL)
		if err != nil {
			return nil, nil, err
		}
		return fleetreport.FromStore(st), st, nil
	}
}
