package pgstore

import (
	"context"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/telemetry/store"
	"github.com/edgetuf/edgetuf/telemetry/store/storetest"
)

// server is one PostgreSQL server for the package's tests; each test gets
// its own database on it.
func openFresh(t *testing.T, srv *backendtest.PostgresServer) *Store {
	t.Helper()
	s, err := Open(context.Background(), srv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreSuite(t *testing.T) {
	srv := backendtest.Postgres(t, backendtest.PostgresOptions{})
	storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t, srv) })
}
