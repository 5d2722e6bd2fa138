package store

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/telemetry"
)

// Memory is a Store in process memory, for tests. It keeps every report.
type Memory struct {
	mu       sync.Mutex
	ids      map[string]bool
	reports  []telemetry.Report
	received []time.Time
	// pruned keeps the aggregates of pruned reports.
	pruned []telemetry.Report
	closed bool
}

// errClosed: an insert into a closed Memory, which must not claim to
// have stored anything.
var errClosed = errors.New("telemetry store: closed")

// NewMemory returns an empty Memory store.
func NewMemory() *Memory { return &Memory{ids: map[string]bool{}} }

// Insert implements Store.
func (m *Memory) Insert(ctx context.Context, received time.Time, reports []telemetry.Report) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, errClosed
	}
	n := 0
	for _, r := range reports {
		if m.ids[r.ID] {
			continue
		}
		m.ids[r.ID] = true
		m.reports = append(m.reports, r)
		m.received = append(m.received, received)
		n++
	}
	return n, nil
}

// Reports returns a copy of every stored (not pruned) report, in
// insertion order.
func (m *Memory) Reports() []telemetry.Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]telemetry.Report(nil), m.reports...)
}

// each calls fn, under the lock, for every report of q (pruned ones
// included, whose aggregates a store keeps) with its parsed hour. It
// copies nothing and parses each distinct hour once: a query over a
// million reports stays a plain scan.
func (m *Memory) each(q Query, fn func(r *telemetry.Report, hour time.Time)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	hours := map[string]time.Time{}
	for _, list := range [][]telemetry.Report{m.pruned, m.reports} {
		for i := range list {
			r := &list[i]
			if r.ModelID != q.ModelID || q.Version != "" && r.Version != q.Version {
				continue
			}
			h, ok := hours[r.Hour]
			if !ok {
				t, err := time.Parse(time.RFC3339, r.Hour)
				if err != nil {
					continue // never: reports are checked
				}
				h = t.UTC()
				hours[r.Hour] = h
			}
			if !q.Since.IsZero() && h.Before(q.Since) {
				continue
			}
			fn(r, h)
		}
	}
}

// Counts implements Store.
func (m *Memory) Counts(ctx context.Context, q Query) ([]Count, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type key struct{ version, kind, code, method string }
	agg := map[key]*Count{}
	m.each(q, func(r *telemetry.Report, _ time.Time) {
		k := key{r.Version, r.Kind, r.Code, r.Method}
		c := agg[k]
		if c == nil {
			c = &Count{Version: r.Version, Kind: r.Kind, Code: r.Code, Method: r.Method}
			agg[k] = c
		}
		w := r.Weight()
		c.Reports++
		c.Weighted += w
		c.Bytes += w * float64(r.Bytes)
		c.FullBytes += w * float64(r.FullBytes)
	})
	out := make([]Count, 0, len(agg))
	for _, c := range agg {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		return a.Method < b.Method
	})
	return out, nil
}

// Series implements Store.
func (m *Memory) Series(ctx context.Context, q Query) ([]Point, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type key struct {
		hour          time.Time
		version, kind string
	}
	agg := map[key]*Point{}
	m.each(q, func(r *telemetry.Report, h time.Time) {
		k := key{h, r.Version, r.Kind}
		p := agg[k]
		if p == nil {
			p = &Point{Hour: k.hour, Version: r.Version, Kind: r.Kind}
			agg[k] = p
		}
		p.Reports++
		p.Weighted += r.Weight()
	})
	out := make([]Point, 0, len(agg))
	for _, p := range agg {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Hour.Equal(b.Hour) {
			return a.Hour.Before(b.Hour)
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Kind < b.Kind
	})
	return out, nil
}

// Models implements Store.
func (m *Memory) Models(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, list := range [][]telemetry.Report{m.pruned, m.reports} {
		for i := range list {
			if id := list[i].ModelID; !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Prune implements Store.
func (m *Memory) Prune(ctx context.Context, before time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	keep, keepAt := m.reports[:0], m.received[:0]
	for i, r := range m.reports {
		if m.received[i].Before(before) {
			delete(m.ids, r.ID)
			m.pruned = append(m.pruned, r)
			n++
			continue
		}
		keep, keepAt = append(keep, r), append(keepAt, m.received[i])
	}
	m.reports, m.received = keep, keepAt
	return n, nil
}

// Close implements Store. Inserts fail after it; reads still answer.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
