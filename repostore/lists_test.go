package repostore_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/edgetuf/edgetuf/internal/repostoretest"
	"github.com/edgetuf/edgetuf/storage"
)

type listCounter struct {
	storage.Backend
	lists, stats, opens atomic.Int64
}

func (l *listCounter) List(ctx context.Context, prefix string, fn func(string, storage.Attrs) error) error {
	l.lists.Add(1)
	return l.Backend.List(ctx, prefix, fn)
}

func (l *listCounter) Stat(ctx context.Context, name string) (storage.Attrs, error) {
	l.stats.Add(1)
	return l.Backend.Stat(ctx, name)
}

// TestAddTargetRequests: an add-target on a backend lists at most a
// directory's existence (never a whole tree) and makes a bounded number
// of requests, however many versions the repository holds.
func TestAddTargetRequests(t *testing.T) {
	lc := &listCounter{Backend: storage.NewMemory()}
	fx := repostoretest.Seed(t, lc)
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		lc.lists.Store(0)
		lc.stats.Store(0)
		if _, err := repostoretest.AddTarget(context.Background(), lc, fx.Keys, repostoretest.Bundle(t, "m", v), fast); err != nil {
			t.Fatal(err)
		}
		// The lists: whether the new version's directories exist
		// (targets/models/, targets/models/m/, targets/models/m/V/).
		if n := lc.lists.Load(); n > 3 {
			t.Errorf("%s: %d listings", v, n)
		}
		if n := lc.stats.Load(); n > 15 {
			t.Errorf("%s: %d Stat requests", v, n)
		}
	}
}
