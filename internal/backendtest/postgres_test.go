package backendtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPostgres starts a server, creates a database and queries it with
// psql over TCP, as a store would connect.
func TestPostgres(t *testing.T) {
	s := Postgres(t, PostgresOptions{})
	url := s.NewDatabase(t)
	psql := exec.Command(s.bin+"/psql", "-XAtc", "SELECT current_user || ' ' || current_database()", url)
	out, err := psql.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), PostgresUser+" edgetuf_test_1"; got != want {
		t.Fatalf("psql says %q, want %q", got, want)
	}
}
