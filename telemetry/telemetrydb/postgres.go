package telemetrydb

import (
	"context"

	"github.com/edgetuf/edgetuf/telemetry/pgstore"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// PostgreSQL URLs, in both spellings that libpq accepts.
func init() {
	Register("postgres", openPostgres)
	Register("postgresql", openPostgres)
}

func openPostgres(ctx context.Context, url string) (store.Store, error) {
	s, err := pgstore.Open(ctx, url)
	if err != nil {
		return nil, err // not a store.Store holding a nil *pgstore.Store
	}
	return s, nil
}
