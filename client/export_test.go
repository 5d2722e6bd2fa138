package client

import (
	"github.com/edgetuf/edgetuf/client/internal/transport"
	"sync"
	"time"
)

// ManualTimers replaces the timers of a client's limits (stall watchdog,
// metadata timeout, run time limit) in tests: they never fire by
// themselves, only when the test calls Fire. A test that needs a stall or
// a deadline makes the server stall, waits until the client is blocked
// on it, then fires: the outcome cannot depend on the machine's speed, and
// a genuine transfer on a loaded machine can never be cut short.
type ManualTimers struct {
	mu      sync.Mutex
	pending map[*manualTimer]bool
}

// UseManualTimers makes opts's limits use timers that fire only on
// t.Fire. The limits' durations still name them: Fire(opts.StallTimeout)
// fires the stall watchdogs running now.
func UseManualTimers(opts *Options) *ManualTimers {
	t := &ManualTimers{pending: map[*manualTimer]bool{}}
	opts.after = t.after
	return t
}

type manualTimer struct {
	m *ManualTimers
	d time.Duration
	f func()
}

func (m *ManualTimers) after(d time.Duration, f func()) transport.StopResetter {
	t := &manualTimer{m: m, d: d, f: f}
	m.mu.Lock()
	m.pending[t] = true
	m.mu.Unlock()
	return t
}

func (t *manualTimer) Stop() bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	was := t.m.pending[t]
	delete(t.m.pending, t)
	return was
}

func (t *manualTimer) Reset(time.Duration) bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	was := t.m.pending[t]
	t.m.pending[t] = true
	return was
}

// Pending counts the timers of duration d that are running.
func (m *ManualTimers) Pending(d time.Duration) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for t := range m.pending {
		if t.d == d {
			n++
		}
	}
	return n
}

// Fire fires every running timer of duration d and returns how many fired.
func (m *ManualTimers) Fire(d time.Duration) int {
	m.mu.Lock()
	var due []*manualTimer
	for t := range m.pending {
		if t.d == d {
			due = append(due, t)
			delete(m.pending, t)
		}
	}
	m.mu.Unlock()
	for _, t := range due {
		t.f()
	}
	return len(due)
}
