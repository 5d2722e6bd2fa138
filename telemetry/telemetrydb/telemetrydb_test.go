package telemetrydb

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/telemetry/sqlitestore"
)

// TestOpenSQLite: a plain path and a sqlite:/// URL open SQLite; a
// relative sqlite:// URL, an empty URL and an unknown scheme are refused.
func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, url := range []string{filepath.Join(dir, "a.db"), "sqlite://" + filepath.Join(dir, "b.db")} {
		st, err := Open(ctx, url)
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		if _, ok := st.(*sqlitestore.Store); !ok {
			t.Fatalf("Open(%q) = %T, want SQLite", url, st)
		}
		st.Close()
	}
	for _, url := range []string{"", "sqlite://relative.db", "mysql://db/x"} {
		if _, err := Open(ctx, url); !errors.Is(err, ErrUnknownScheme) {
			t.Fatalf("Open(%q) = %v, want ErrUnknownScheme", url, err)
		}
	}
}

// TestRegisterTwicePanics: two stores cannot claim one scheme.
func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Register("sqlite", openSQLite)
}
