package collector

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/edgetuf/edgetuf/telemetry/sqlitestore"
)

// TestDiskFull: a collector whose database cannot grow (its files
// limited to 2 MiB, so writes fail as on a full disk) answers 503 to the
// uploads it cannot commit, acknowledges none of them, stays up and
// counts them; after a restart without the limit, the database is intact,
// every acknowledged batch is there and every refused one is there whole
// or not at all.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("runs subprocesses")
	}
	db := filepath.Join(t.TempDir(), "telemetry.db")
	child, url := startChildBinary(t, os.Args[0], db, fileSizeEnv+"=2097152")
	acked, refused := map[int]int{}, map[int]int{}
	for seq := 1; seq <= 400 && len(refused) < 5; seq++ {
		resp, err := http.Post(url+"/v1/reports", "application/json", bytes.NewReader(body(t, reports(seq, 500))))
		if err != nil {
			t.Fatalf("upload %d: %v (the collector died?)", seq, err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			acked[seq] = 500
		case http.StatusServiceUnavailable:
			refused[seq] = 500
		default:
			t.Fatalf("upload %d: %s", seq, resp.Status)
		}
	}
	if len(refused) == 0 || len(acked) == 0 {
		t.Fatalf("%d acknowledged, %d refused: the limit did not bite", len(acked), len(refused))
	}
	t.Logf("%d uploads acknowledged, %d refused", len(acked), len(refused))
	resp, err := http.Get(url + "/v1/stats")
	if err != nil {
		t.Fatal(err)
	}
	var s Stats
	json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if s.StoreErrors != int64(len(refused)) || s.Acknowledged != int64(len(acked)) {
		t.Fatalf("stats %+v after %d acknowledged, %d refused", s, len(acked), len(refused))
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()

	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	var integrity string
	if err := raw.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity check: %q %v", integrity, err)
	}
	raw.Close()
	st, err := sqlitestore.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for seq, n := range refused {
		if inserted, err := st.Insert(context.Background(), now, reports(seq, n)); err != nil || inserted != 0 && inserted != n {
			t.Fatalf("refused batch %d: %d of its %d reports were stored (%v)", seq, n-inserted, n, err)
		}
	}
	st.Close()
	checkAcknowledged(t, db, acked)
}
