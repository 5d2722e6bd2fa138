package client_test

// Issue 10, item 12: a graceful stop (SIGTERM, or the library caller's
// cancellation or deadline) while the health check runs stops the run and
// leaves the version on trial, never blamed; the next update checks it
// again. Only the check's own time limit is the version's fault.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
)

// blockingCheck returns a health check command that announces its start
// by writing its directory argument to a FIFO (so the test knows, without
// waiting on a clock, that it runs) and then blocks on another FIFO that
// nobody writes to: it ends only when it is killed.
func blockingCheck(t *testing.T) (cmd string, started func() string) {
	t.Helper()
	dir := t.TempDir()
	start, block := filepath.Join(dir, "started"), filepath.Join(dir, "block")
	mkfifo(t, start)
	mkfifo(t, block)
	script := filepath.Join(dir, "check.sh")
	body := fmt.Sprintf("echo \"$1\" > '%s'\nread x < '%s'\n", start, block)
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	return "/bin/sh " + script, func() string {
		// Opening a FIFO for reading blocks until the check opens it for
		// writing: no sleep, no polling.
		data, err := os.ReadFile(start)
		if err != nil {
			t.Error(err)
		}
		return string(data)
	}
}

// manualDeadline is a context that the test ends by hand, reporting
// DeadlineExceeded: a caller's deadline, without a clock.
type manualDeadline struct {
	context.Context
	once sync.Once
	done chan struct{}
}

func newManualDeadline() *manualDeadline {
	return &manualDeadline{Context: context.Background(), done: make(chan struct{})}
}

func (m *manualDeadline) expire()                     { m.once.Do(func() { close(m.done) }) }
func (m *manualDeadline) Done() <-chan struct{}       { return m.done }
func (m *manualDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }
func (m *manualDeadline) Value(key any) any           { return nil }
func (m *manualDeadline) Err() error {
	select {
	case <-m.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// TestStopDuringHealthCheckKeepsTrial: the run stopped while the check
// runs returns CANCELLED; 1.1.0 stays active on trial, installed, not
// marked bad; the next update checks it again and confirms it.
func TestStopDuringHealthCheckKeepsTrial(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// stopper returns the run's context and the function that stops it.
		stopper func() (context.Context, func())
	}{
		{"cancelled", func() (context.Context, func()) { return context.WithCancel(context.Background()) }},
		{"caller's deadline", func() (context.Context, func()) { m := newManualDeadline(); return m, m.expire }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _, d := onV1(t)
			publish(t, r, smallSize, "1.1.0")
			check, started := blockingCheck(t)
			ctx, stop := tc.stopper()
			type outcome struct {
				res *client.Result
				err error
			}
			out := make(chan outcome, 1)
			go func() {
				// A long health timeout: only the stop may end the check.
				res, err := d.c.Update(ctx, client.UpdateRequest{ModelID: model, HealthCheck: check, HealthTimeout: time.Hour})
				out <- outcome{res, err}
			}()
			if dir := started(); dir != d.path("models", model, "1.1.0")+"\n" {
				t.Fatalf("the check runs on %q", dir)
			}
			stop()
			var o outcome
			select {
			case o = <-out:
			case <-time.After(2 * time.Minute):
				t.Fatal("the stopped update did not return")
			}
			if client.CodeOf(o.err) != client.Cancelled || o.res.Code != client.Cancelled {
				t.Fatalf("update: %v (%+v), want CANCELLED", o.err, o.res)
			}
			st := d.status()
			if st.Version != "1.1.0" || !st.Trial || st.Previous != "1.0.0" || len(st.BadVersions) != 0 || st.BadThrough != "" || st.Floor != "1.0.0" {
				t.Fatalf("status after the stop: %+v; want 1.1.0 on trial, nothing marked bad, floor 1.0.0", st)
			}
			if !contains(st.Installed, "1.1.0") || !contains(st.Installed, "1.0.0") {
				t.Fatalf("installed %v", st.Installed)
			}
			for _, e := range d.events() {
				if e.Event == client.EventRolledBack {
					t.Fatalf("rolled back: %+v", e)
				}
			}
			// Checked again, and confirmed.
			passing, calls := healthScript(t, "exit 0")
			res, err := d.update(client.UpdateRequest{HealthCheck: passing})
			if err != nil || res.Version != "1.1.0" {
				t.Fatalf("next update: %v %+v", err, res)
			}
			if got := readLines(t, calls); len(got) != 1 {
				t.Fatalf("health check calls %q", got)
			}
			d.wantActive("1.1.0")
			if st := d.status(); st.Floor != "1.1.0" || len(st.BadVersions) != 0 {
				t.Fatalf("status %+v", st)
			}
		})
	}
}

// TestStopDuringTrialResolution: a version left on trial whose re-check
// is stopped stays on trial too.
func TestStopDuringTrialResolution(t *testing.T) {
	t.Parallel()
	d := onTrial(t)
	check, started := blockingCheck(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan error, 1)
	go func() {
		_, err := d.c.Update(ctx, client.UpdateRequest{ModelID: model, HealthCheck: check, HealthTimeout: time.Hour})
		out <- err
	}()
	started()
	cancel()
	select {
	case err := <-out:
		if client.CodeOf(err) != client.Cancelled {
			t.Fatalf("update: %v, want CANCELLED", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the stopped update did not return")
	}
	if st := d.status(); st.Version != "1.1.0" || !st.Trial || len(st.BadVersions) != 0 {
		t.Fatalf("status %+v", st)
	}
	passing, _ := healthScript(t, "exit 0")
	if res, err := d.update(client.UpdateRequest{HealthCheck: passing}); err != nil || res.Version != "1.1.0" {
		t.Fatalf("%v %+v", err, res)
	}
	d.wantActive("1.1.0")
}
