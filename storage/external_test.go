package storage_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path"
	"testing"

	"github.com/edgetuf/edgetuf/storage"
	"github.com/edgetuf/edgetuf/storage/storagetest"
)

// externalEnv names a store to check with the backend suite before a
// repository is put in it (docs/deployment.md, section 3): an S3-compatible
// server, a GCS bucket, an Azure container. Credentials come from the
// provider's environment, as for mrepo.
const externalEnv = "EDGETUF_STORAGE_TEST_URL"

// TestExternalBackend runs the backend suite against the store that
// EDGETUF_STORAGE_TEST_URL names (skipped when it is not set). Each case
// works under a prefix of its own, new for every run, and deletes what it
// wrote, so the URL may point into a bucket that holds other data.
func TestExternalBackend(t *testing.T) {
	raw := os.Getenv(externalEnv)
	if raw == "" {
		t.Skipf("%s is not set: nothing to check", externalEnv)
	}
	base, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", externalEnv, err)
	}
	run := make([]byte, 6)
	rand.Read(run)
	prefix := "edgetuf-storagetest-" + hex.EncodeToString(run)
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		u := *base
		u.Path = path.Join("/", u.Path, prefix, path.Base(t.Name()))
		if u.Scheme == "file" { // a file:// directory must exist
			if err := os.MkdirAll(u.Path, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		b, err := storage.Open(context.Background(), u.String())
		if err != nil {
			t.Fatalf("opening %s: %v", u.Redacted(), err)
		}
		t.Cleanup(func() {
			removeAll(t, u.String())
			if u.Scheme == "file" {
				os.RemoveAll(u.Path) // and the backend's lock file
			}
		})
		return b
	})
}

// removeAll deletes every object of the backend at rawURL.
func removeAll(t *testing.T, rawURL string) {
	ctx := context.Background()
	b, err := storage.Open(ctx, rawURL)
	if err != nil {
		t.Errorf("cleaning up: %v", err)
		return
	}
	defer b.Close()
	var names []string
	if err := b.List(ctx, "", func(name string, _ storage.Attrs) error { names = append(names, name); return nil }); err != nil {
		t.Errorf("cleaning up: %v", err)
	}
	for _, n := range names {
		if err := b.Delete(ctx, n); err != nil {
			t.Errorf("cleaning up: %v", err)
		}
	}
}
