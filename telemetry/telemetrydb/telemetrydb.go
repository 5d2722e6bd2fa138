// Package telemetrydb opens the collector's telemetry store named by a
// database URL (mrepo telemetry serve --db, mrepo rollout report --db):
// "sqlite:///ABSOLUTE/PATH" or a plain file path is a SQLite database
// (telemetry/sqlitestore); other schemes, such as postgres://, are opened
// by the store that registered them (Register).
package telemetrydb

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/edgetuf/edgetuf/telemetry/store"
)

// ErrUnknownScheme: the URL names a database this program cannot open.
var ErrUnknownScheme = errors.New("unknown telemetry database")

// Opener opens the store of a database URL.
type Opener func(ctx context.Context, url string) (store.Store, error)

var (
	mu      sync.Mutex
	openers = map[string]Opener{}
)

// Register makes Open use open for URLs of scheme (without "://", as in
// "postgres"). Stores register from an init function; registering a
// scheme twice panics, since it is a programming error.
func Register(scheme string, open Opener) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := openers[scheme]; dup {
		panic("telemetrydb: scheme " + scheme + " registered twice")
	}
	openers[scheme] = open
}

// Open opens the telemetry store at url.
func Open(ctx context.Context, url string) (store.Store, error) {
	if url == "" {
		return nil, fmt.Errorf("%w: the database URL is empty", ErrUnknownScheme)
	}
	scheme, _, ok := strings.Cut(url, "://")
	if !ok {
		scheme = "sqlite" // a plain path
	}
	mu.Lock()
	open := openers[scheme]
	var known []string
	for s := range openers {
		known = append(known, s+"://")
	}
	mu.Unlock()
	if open == nil {
		sort.Strings(known)
		return nil, fmt.Errorf("%w: %q (use a file path or %s)", ErrUnknownScheme, scheme+"://", strings.Join(known, ", "))
	}
	return open(ctx, url)
}
