package autohalt

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

// fakeClock never waits by itself: each After call is announced on
// waiting, and the test fires it by sending on the returned channel.
type fakeClock struct {
	now     time.Time
	waiting chan chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC), waiting: make(chan chan time.Time)}
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waiting <- ch
	return ch
}

// tick advances the clock by d and fires the watcher's wait.
func (c *fakeClock) tick(t *testing.T, d time.Duration) {
	t.Helper()
	ch := <-c.waiting
	c.now = c.now.Add(d)
	ch <- c.now
}

// scriptedSource answers each Report call with the next of its answers
// (the last one repeated) and counts the queries.
type scriptedSource struct {
	answers []func() (*fleetreport.Report, error)
	calls   int
	queries []store.Query
}

func (s *scriptedSource) Report(_ context.Context, q store.Query) (*fleetreport.Report, error) {
	s.queries = append(s.queries, q)
	a := s.answers[min(s.calls, len(s.answers)-1)]
	s.calls++
	return a()
}

func report(v fleetreport.VersionReport) func() (*fleetreport.Report, error) {
	return func() (*fleetreport.Report, error) {
		return &fleetreport.Report{ModelID: "detector", Versions: []fleetreport.VersionReport{{Version: "1.0.0"}, v}}, nil
	}
}

func failing(err error) func() (*fleetreport.Report, error) {
	return func() (*fleetreport.Report, error) { return nil, err }
}

// recordingHalter records the halts asked of it and answers as told.
type recordingHalter struct {
	reasons []string
	answer  func() (Outcome, string, error)
}

func (h *recordingHalter) Halt(_ context.Context, modelID, version, reason string) (Outcome, string, error) {
	if modelID != "detector" || version != "1.1.0" {
		return Failed, "", fmt.Errorf("halt of %s %s", modelID, version)
	}
	h.reasons = append(h.reasons, reason)
	return h.answer()
}

func halts() (Outcome, string, error) { return Halted, "signed targets v5", nil }

var (
	healthy = version(0.01, 500, 0, 500)
	bad     = version(0.30, 500, 0, 500)
	th      = Thresholds{MaxRollbackRate: 0.05, MinReports: 100}
)

func newWatcher(src fleetreport.Source, h Halter, clock Clock, log *[]Check) *Watcher {
	return &Watcher{ModelID: "detector", Version: "1.1.0", Thresholds: th, Source: src, Halter: h,
		Interval: time.Minute, Clock: clock, Log: func(c Check) { *log = append(*log, c) }}
}

// TestWatcherLoop: healthy, then a source error (retried, no halt), then
// not enough evidence, then a bad rate: halted once, and the watch ends.
func TestWatcherLoop(t *testing.T) {
	src := &scriptedSource{answers: []func() (*fleetreport.Report, error){
		report(healthy), failing(errors.New("connection refused")), report(version(0.9, 10, 0, 10)), report(bad)}}
	h := &recordingHalter{answer: halts}
	clock := newFakeClock()
	var log []Check
	w := newWatcher(src, h, clock, &log)
	done := make(chan Check)
	go func() {
		ck, err := w.Run(context.Background())
		if err != nil {
			t.Error(err)
		}
		done <- ck
	}()
	for i := 0; i < 3; i++ {
		clock.tick(t, time.Minute)
	}
	last := <-done
	want := []Outcome{NoHaltNeeded, Failed, NoHaltNeeded, Halted}
	if len(log) != len(want) {
		t.Fatalf("%d checks logged, want %d: %+v", len(log), len(want), log)
	}
	for i, ck := range log {
		if ck.Outcome != want[i] {
			t.Errorf("check %d: %s (%s), want %s", i, ck.Outcome, ck.Detail, want[i])
		}
		if wantTime := time.Date(2026, 12, 5, 1, i, 0, 0, time.UTC); !ck.Time.Equal(wantTime) {
			t.Errorf("check %d at %v, want %v", i, ck.Time, wantTime)
		}
	}
	if log[1].Decision != nil || log[1].Detail != "reading reports: connection refused" {
		t.Errorf("failed check: %+v", log[1])
	}
	if last.Outcome != Halted || last.Detail != "signed targets v5" || last.Decision.Metric != MetricRollback {
		t.Errorf("last check %+v", last)
	}
	if len(h.reasons) != 1 || h.reasons[0] != last.Decision.Reason {
		t.Errorf("halts %q", h.reasons)
	}
	for _, q := range src.queries {
		if q != (store.Query{ModelID: "detector", Version: "1.1.0"}) {
			t.Errorf("query %+v", q)
		}
	}
}

// TestWatcherHaltErrors: a halt that fails is a failed check, retried
// at the next interval; the watch goes on until it succeeds.
func TestWatcherHaltErrors(t *testing.T) {
	calls := 0
	h := &recordingHalter{answer: func() (Outcome, string, error) {
		if calls++; calls < 3 {
			return "", "", errors.New("repository is locked by another process")
		}
		return StagedForSigners, "staged targets v5 in repo/staged/targets.json", nil
	}}
	clock := newFakeClock()
	var log []Check
	w := newWatcher(&scriptedSource{answers: []func() (*fleetreport.Report, error){report(bad)}}, h, clock, &log)
	done := make(chan Check)
	go func() { ck, _ := w.Run(context.Background()); done <- ck }()
	clock.tick(t, time.Minute)
	clock.tick(t, time.Minute)
	if ck := <-done; ck.Outcome != StagedForSigners {
		t.Fatalf("last check %+v", ck)
	}
	if len(log) != 3 || log[0].Outcome != Failed || log[0].Detail != "halting: repository is locked by another process" || log[1].Outcome != Failed {
		t.Errorf("checks %+v", log)
	}
}

// TestWatcherAlreadyHaltedOrNotStaged: the halter's refusals end the
// watch with what they say; nothing else is asked of it.
func TestWatcherAlreadyHaltedOrNotStaged(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Outcome
	}{
		{fmt.Errorf("%w: detector 1.1.0 is at 0%%: by hand", ErrAlreadyHalted), AlreadyHalted},
		{fmt.Errorf("%w: detector 1.1.0 is a full release", ErrNotStaged), NotStaged},
	} {
		h := &recordingHalter{answer: func() (Outcome, string, error) { return "", "", tc.err }}
		var log []Check
		w := newWatcher(&scriptedSource{answers: []func() (*fleetreport.Report, error){report(bad)}}, h, newFakeClock(), &log)
		ck, err := w.Run(context.Background())
		if err != nil || ck.Outcome != tc.want || ck.Detail != tc.err.Error() || len(h.reasons) != 1 {
			t.Errorf("%v: %+v, %v", tc.err, ck, err)
		}
	}
}

// TestWatcherNeverHaltsOnBadInput: errors, a report of another model and
// a missing version never call the halter.
func TestWatcherNeverHaltsOnBadInput(t *testing.T) {
	h := &recordingHalter{answer: halts}
	for _, a := range []func() (*fleetreport.Report, error){
		failing(context.DeadlineExceeded),
		func() (*fleetreport.Report, error) { return nil, nil },
		func() (*fleetreport.Report, error) {
			return &fleetreport.Report{ModelID: "other", Versions: []fleetreport.VersionReport{bad}}, nil
		},
		func() (*fleetreport.Report, error) {
			return &fleetreport.Report{ModelID: "detector", Versions: []fleetreport.VersionReport{{Version: "1.0.0"}}}, nil
		},
	} {
		var log []Check
		ck := newWatcher(&scriptedSource{answers: []func() (*fleetreport.Report, error){a}}, h, newFakeClock(), &log).Once(context.Background())
		if ck.Outcome.Final() || len(log) != 1 {
			t.Errorf("check %+v", ck)
		}
	}
	if len(h.reasons) != 0 {
		t.Errorf("halted on bad input: %q", h.reasons)
	}
}

// TestWatcherStopsWithContext: a cancelled watch returns the last check
// and the context's error.
func TestWatcherStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clock := newFakeClock()
	var log []Check
	w := newWatcher(&scriptedSource{answers: []func() (*fleetreport.Report, error){report(healthy)}}, &recordingHalter{answer: halts}, clock, &log)
	done := make(chan error)
	go func() { _, err := w.Run(ctx); done <- err }()
	<-clock.waiting // the first check is done; the watcher waits
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	if _, err := (&Watcher{}).Run(ctx); err == nil {
		t.Error("a watch without an interval was accepted")
	}
}
