package keyserver

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate is a token bucket's refill rate and size: Events per Per, at most
// Burst at once.
type Rate struct {
	Events int
	Per    time.Duration
	Burst  int
}

// ParseRate reads "N/DURATION" (10/1m, 100/1s) with the given burst.
func ParseRate(s string, burst int) (Rate, error) {
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want EVENTS/DURATION, e.g. 10/1m", s)
	}
	events, err := strconv.Atoi(n)
	if err != nil || events < 1 {
		return Rate{}, fmt.Errorf("rate %q: the number of events must be a positive integer", s)
	}
	per, err := time.ParseDuration(d)
	if err != nil || per <= 0 {
		return Rate{}, fmt.Errorf("rate %q: the period must be a positive duration (1s, 1m)", s)
	}
	r := Rate{Events: events, Per: per, Burst: burst}
	return r, r.validate()
}

func (r Rate) validate() error {
	if r.Events < 1 || r.Per <= 0 || r.Burst < 1 {
		return fmt.Errorf("rate %d/%s burst %d: each must be positive", r.Events, r.Per, r.Burst)
	}
	return nil
}

// Spec is r's events and period in the form ParseRate reads, without
// zero units: 10/1m, 200/1s, 3/1h30m (the default of a rate flag).
func (r Rate) Spec() string {
	per := r.Per.String()
	if strings.HasSuffix(per, "m0s") {
		per = strings.TrimSuffix(per, "0s")
	}
	if strings.HasSuffix(per, "h0m") {
		per = strings.TrimSuffix(per, "0m")
	}
	return fmt.Sprintf("%d/%s", r.Events, per)
}

func (r Rate) String() string { return fmt.Sprintf("%d/%s (burst %d)", r.Events, r.Per, r.Burst) }

// bucket is one token bucket, refilled lazily at each take.
type bucket struct {
	tokens float64
	last   time.Time
}

// take spends a token at now if there is one; otherwise it says how long
// until there is.
func (r Rate) take(b *bucket, now time.Time) (bool, time.Duration) {
	perToken := float64(r.Per) / float64(r.Events)
	if b.last.IsZero() {
		b.tokens = float64(r.Burst)
	} else if el := now.Sub(b.last); el > 0 {
		b.tokens = math.Min(float64(r.Burst), b.tokens+float64(el)/perToken)
	}
	if now.After(b.last) {
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration(math.Ceil((1 - b.tokens) * perToken))
}

// full reports whether the bucket would be full at now (forgetting it
// loses nothing).
func (r Rate) full(b *bucket, now time.Time) bool {
	perToken := float64(r.Per) / float64(r.Events)
	return b.tokens+float64(now.Sub(b.last))/perToken >= float64(r.Burst)
}

// limiter is a global bucket and one bucket per key (device), the latter
// in a table of at most maxKeys entries: full buckets are dropped when
// it fills, and a key that finds no room is refused, so the table never
// grows without bound.
type limiter struct {
	mu      sync.Mutex
	global  Rate
	perKey  Rate
	all     bucket
	keys    map[string]*bucket
	maxKeys int
}

func newLimiter(global, perKey Rate, maxKeys int) *limiter {
	return &limiter{global: global, perKey: perKey, keys: map[string]*bucket{}, maxKeys: maxKeys}
}

// allowGlobal spends a token of the global bucket.
func (l *limiter) allowGlobal(now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.global.take(&l.all, now)
}

// allowKey spends a token of key's bucket.
func (l *limiter) allowKey(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[key]
	if b == nil {
		if len(l.keys) >= l.maxKeys {
			for k, old := range l.keys {
				if l.perKey.full(old, now) {
					delete(l.keys, k)
				}
			}
		}
		if len(l.keys) >= l.maxKeys {
			return false, l.perKey.Per / time.Duration(l.perKey.Events)
		}
		b = &bucket{}
		l.keys[key] = b
	}
	return l.perKey.take(b, now)
}

func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
