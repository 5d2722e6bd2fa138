package telemetrydb

import (
	"context"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/telemetry/pgstore"
)

// TestOpenPostgres: postgres:// and postgresql:// URLs open the
// PostgreSQL store.
func TestOpenPostgres(t *testing.T) {
	srv := backendtest.Postgres(t, backendtest.PostgresOptions{})
	for _, url := range []string{srv.NewDatabase(t), strings.Replace(srv.NewDatabase(t), "postgres://", "postgresql://", 1)} {
		st, err := Open(context.Background(), url)
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		if _, ok := st.(*pgstore.Store); !ok {
			t.Fatalf("Open(%q) = %T, want *pgstore.Store", url, st)
		}
		st.Close()
	}
}
