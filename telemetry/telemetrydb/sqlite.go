package telemetrydb

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/edgetuf/edgetuf/telemetry/sqlitestore"
	"github.com/edgetuf/edgetuf/telemetry/store"
)

func init() { Register("sqlite", openSQLite) }

// openSQLite opens "sqlite:///ABSOLUTE/PATH" or a plain path. A sqlite://
// URL must name an absolute path: "sqlite://x.db" would read as a host.
func openSQLite(ctx context.Context, url string) (store.Store, error) {
	path := url
	if rest, ok := strings.CutPrefix(url, "sqlite://"); ok {
		if !filepath.IsAbs(rest) {
			return nil, fmt.Errorf("%w: %q: a sqlite URL names an absolute path, sqlite:///PATH (or give a plain path)", ErrUnknownScheme, url)
		}
		path = rest
	}
	if path == "" {
		return nil, fmt.Errorf("%w: empty SQLite path", ErrUnknownScheme)
	}
	return sqlitestore.Open(ctx, path)
}
