package telemetrycmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
	"github.com/urfave/cli/v2"
)

// closeCounting is a Memory store that counts its Close calls.
type closeCounting struct {
	*store.Memory
	closed int
}

func (c *closeCounting) Close() error { c.closed++; return nil }

// runApp runs mrepo report args with open as OpenDB, opening a store
// (nil: no driver); the test's end restores OpenDB.
func runApp(t *testing.T, open func(ctx context.Context, url string) (store.Store, error), args ...string) (string, error) {
	t.Helper()
	prev := OpenDB
	t.Cleanup(func() { OpenDB = prev })
	OpenDB = nil
	if open != nil {
		OpenDB = func(ctx context.Context, url string) (fleetreport.Source, io.Closer, error) {
			st, err := open(ctx, url)
			if err != nil {
				return nil, nil, err
			}
			return fleetreport.FromStore(st), st, nil
		}
	}
	var out bytes.Buffer
	app := &cli.App{Name: "mrepo", Writer: &out, ErrWriter: &out, Commands: []*cli.Command{ReportCommand()}}
	err := app.Run(append([]string{"mrepo", "report"}, args...))
	return out.String(), err
}

// TestReportFromDB: --db opens the store through OpenDB, reads it, and
// closes it; an opener's failure is the command's.
func TestReportFromDB(t *testing.T) {
	st := &closeCounting{Memory: store.NewMemory()}
	var reports []telemetry.Report
	for i := range 3 {
		reports = append(reports, telemetry.Report{ID: fmt.Sprintf("%032x", i+1), Kind: telemetry.KindActivated,
			Hour: "2026-12-05T10:00:00Z", ModelID: "detector", Version: "1.0.0", CohortPercent: -1, Rate: 5000})
	}
	if _, err := st.Insert(context.Background(), time.Now(), reports); err != nil {
		t.Fatal(err)
	}
	var opened string
	open := func(_ context.Context, url string) (store.Store, error) { opened = url; return st, nil }
	out, err := runApp(t, open, "--db", "sqlite:///var/lib/telemetry.db", "detector@1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if opened != "sqlite:///var/lib/telemetry.db" || st.closed != 1 {
		t.Errorf("opened %q, closed %d times", opened, st.closed)
	}
	if !strings.Contains(out, "version 1.0.0: 3 reports\n") || !strings.Contains(out, "  activated            3                  6\n") {
		t.Errorf("output:\n%s", out)
	}
	failing := func(context.Context, string) (store.Store, error) { return nil, errors.New("no such database") }
	if _, err := runApp(t, failing, "--db", "x.db", "detector"); err == nil || err.Error() != "rollout report: --db: no such database" {
		t.Errorf("error %v", err)
	}
	if _, err := runApp(t, nil, "--db", "x.db", "detector"); err == nil || !strings.Contains(err.Error(), "use --collector") {
		t.Errorf("without a driver: %v", err)
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriteReportError: a failed write is the result, not lost.
func TestWriteReportError(t *testing.T) {
	st := store.NewMemory()
	if err := WriteReport(failingWriter{}, mustReport(t, st)); err == nil || err.Error() != "disk full" {
		t.Errorf("error %v", err)
	}
}

func mustReport(t *testing.T, st store.Store) *fleetreport.Report {
	t.Helper()
	r, err := fleetreport.FromStore(st).Report(context.Background(), store.Query{ModelID: "detector"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
