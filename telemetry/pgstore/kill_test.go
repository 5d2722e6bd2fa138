package pgstore

import (
	"context"
	"sync"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/store/storetest"
)

// TestServerKilledDuringIngest kills the database server (SIGKILL to it
// and every session) while writers insert, after a number of
// acknowledged batches: after it restarts, every acknowledged report is
// stored, and rollup counts exactly the reports that are stored (batches
// cut off by the kill are either wholly in, counted, or wholly out).
func TestServerKilledDuringIngest(t *testing.T) {
	srv := backendtest.Postgres(t, backendtest.PostgresOptions{Durable: true})
	s := open(t, srv.Database(t, "killed"))
	const writers, size, killAfter = 4, 50, 40
	var (
		mu    sync.Mutex
		acked [][]telemetry.Report
		wg    sync.WaitGroup
		next  int
	)
	reached := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				first := next * size
				next++
				mu.Unlock()
				batch := storetest.Fleet(first, size)
				if _, err := s.Insert(context.Background(), received, batch); err != nil {
					return // the kill; this batch is not acknowledged
				}
				mu.Lock()
				acked = append(acked, batch)
				if len(acked) == killAfter {
					close(reached)
				}
				mu.Unlock()
			}
		}()
	}
	// The writers go on until the kill cuts them off.
	<-reached
	srv.Kill(t)
	wg.Wait()
	s.Close()

	srv.Restart(t)
	s = open(t, srv.URL("killed"))
	defer s.Close()
	ctx := context.Background()
	var ids []string
	for _, batch := range acked {
		for _, r := range batch {
			ids = append(ids, r.ID)
		}
	}
	var missing int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM unnest($1::uuid[]) AS a(id) WHERE NOT EXISTS (SELECT 1 FROM reports r WHERE r.id = a.id)`, ids).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if missing != 0 {
		t.Fatalf("%d of %d acknowledged reports are gone after the server was killed", missing, len(ids))
	}
	var stored, counted int64
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM reports), (SELECT sum(reports)::bigint FROM rollup)`).Scan(&stored, &counted); err != nil {
		t.Fatal(err)
	}
	if stored != counted || stored%size != 0 || stored < int64(len(ids)) {
		t.Fatalf("after the kill: %d reports stored, %d counted in rollup, %d acknowledged (batches of %d)", stored, counted, len(ids), size)
	}
	// The rollup is the aggregate of exactly the stored reports, key by key.
	var differ int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT model_id, version, hour, kind, code, method, count(*)::bigint AS reports FROM reports GROUP BY 1, 2, 3, 4, 5, 6
		) AS r FULL JOIN rollup AS u USING (model_id, version, hour, kind, code, method)
		WHERE r.reports IS DISTINCT FROM u.reports`).Scan(&differ); err != nil {
		t.Fatal(err)
	}
	if differ != 0 {
		t.Fatalf("%d rollup rows differ from the stored reports after the kill", differ)
	}
}
