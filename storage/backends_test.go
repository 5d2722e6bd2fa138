package storage_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/storage"
	"github.com/edgetuf/edgetuf/storage/storagetest"
)

// openURL opens u for t's duration.
func openURL(t *testing.T, u string) storage.Backend {
	t.Helper()
	b, err := storage.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("Open(%s): %v", u, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// fileURL is the file:// URL of a fresh directory.
func fileURL(t *testing.T) string {
	return (&url.URL{Scheme: "file", Path: t.TempDir()}).String()
}

func TestFileBackend(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend { return openURL(t, fileURL(t)) })
}

// TestS3Backend runs the suite against a real S3 server (versitygw).
func TestS3Backend(t *testing.T) {
	srv := backendtest.VersityGW(t)
	srv.UseInProcess(t)
	storagetest.Run(t, func(t *testing.T) storage.Backend { return openURL(t, srv.NewBucket(t)) })
}

// TestS3BackendPrefix: a repository under a prefix of a bucket sees only
// its own names, and the suite holds there too.
func TestS3BackendPrefix(t *testing.T) {
	srv := backendtest.VersityGW(t)
	srv.UseInProcess(t)
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		u, err := url.Parse(srv.NewBucket(t))
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/fleet/repo"
		return openURL(t, u.String())
	})
}

// TestAzureBackend runs the suite against Azurite, Microsoft's Azure
// Storage emulator.
func TestAzureBackend(t *testing.T) {
	srv := backendtest.Azurite(t)
	srv.UseInProcess(t)
	storagetest.Run(t, func(t *testing.T) storage.Backend { return openURL(t, srv.NewContainer(t)) })
}
