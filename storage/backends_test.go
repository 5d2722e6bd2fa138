package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
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

// runSuite runs the shared suite on fresh backends at the URLs newURL gives.
func runSuite(t *testing.T, newURL func(t *testing.T) string) {
	storagetest.Run(t, func(t *testing.T) storage.Backend { return openURL(t, newURL(t)) })
}

// s3URLs, azureURLs and gcsURLs start a server for t (skipping t where
// it is not installed) and return a maker of fresh, empty repositories'
// URLs on it.
func s3URLs(t *testing.T) func(*testing.T) string {
	srv := backendtest.VersityGW(t)
	srv.UseInProcess(t)
	return func(t *testing.T) string { return srv.NewBucket(t) }
}

func azureURLs(t *testing.T) func(*testing.T) string {
	srv := backendtest.Azurite(t)
	srv.UseInProcess(t)
	return func(t *testing.T) string { return srv.NewContainer(t) }
}

func gcsURLs(t *testing.T) func(*testing.T) string {
	srv := backendtest.FakeGCS(t)
	srv.UseInProcess(t)
	return func(t *testing.T) string { return srv.NewBucket(t) }
}

func TestFileBackend(t *testing.T) { runSuite(t, fileURL) }

// TestS3Backend runs the suite against a real S3 server (versitygw).
func TestS3Backend(t *testing.T) { runSuite(t, s3URLs(t)) }

// TestS3BackendPrefix: the suite holds for a repository under a prefix
// of a bucket (s3://BUCKET/fleet/repo).
func TestS3BackendPrefix(t *testing.T) {
	newBucket := s3URLs(t)
	runSuite(t, func(t *testing.T) string {
		u, err := url.Parse(newBucket(t))
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/fleet/repo"
		return u.String()
	})
}

// TestAzureBackend runs the suite against Azurite, Microsoft's Azure
// Storage emulator.
func TestAzureBackend(t *testing.T) { runSuite(t, azureURLs(t)) }

// TestGCSBackend runs the suite against fake-gcs-server, a Google Cloud
// Storage emulator: generation preconditions stand in for If-Match.
func TestGCSBackend(t *testing.T) { runSuite(t, gcsURLs(t)) }

// TestS3PrefixIsolation: a repository under a prefix stores its names
// under it and sees nothing of the rest of the bucket.
func TestS3PrefixIsolation(t *testing.T) {
	root := s3URLs(t)(t)
	u, err := url.Parse(root)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/fleet/repo"
	whole, repo := openURL(t, root), openURL(t, u.String())
	ctx := context.Background()
	for b, name := range map[storage.Backend]string{repo: "metadata/timestamp.json", whole: "other/timestamp.json"} {
		if err := b.Put(ctx, name, strings.NewReader("{}"), storage.PutOptions{IfAbsent: true}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(b storage.Backend) (names []string) {
		if err := b.List(ctx, "", func(n string, _ storage.Attrs) error { names = append(names, n); return nil }); err != nil {
			t.Fatal(err)
		}
		return names
	}
	if got := strings.Join(list(whole), ","); got != "fleet/repo/metadata/timestamp.json,other/timestamp.json" {
		t.Errorf("the bucket holds %s", got)
	}
	if got := strings.Join(list(repo), ","); got != "metadata/timestamp.json" {
		t.Errorf("the prefixed repository lists %s", got)
	}
	if _, err := repo.Stat(ctx, "../other/timestamp.json"); err == nil || errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat of a name outside the prefix = %v, want a refusal", err)
	}
}

// TestLargeConditionalWrites: the conditions hold for objects uploaded in
// parts too (S3: If-None-Match / If-Match on CompleteMultipartUpload), not
// only for small single-request ones.
func TestLargeConditionalWrites(t *testing.T) { largeConditionalWrites(t, openURL(t, fileURL(t))) }

func TestS3LargeConditionalWrites(t *testing.T) {
	largeConditionalWrites(t, openURL(t, s3URLs(t)(t)))
}

func TestAzureLargeConditionalWrites(t *testing.T) {
	largeConditionalWrites(t, openURL(t, azureURLs(t)(t)))
}

func TestGCSLargeConditionalWrites(t *testing.T) {
	largeConditionalWrites(t, openURL(t, gcsURLs(t)(t)))
}

// largeConditionalWrites: a second creator of a 12 MiB target and a stale
// compare-and-swap are refused, and the object is the one the successful
// compare-and-swap wrote.
func largeConditionalWrites(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	const size = 12 << 20
	name := "targets/models/m/1.0.0/0123.model.bin"
	big := func(seed byte) io.Reader {
		return &randomReader{rng: rand.NewChaCha8([32]byte{seed}), left: size}
	}
	if err := b.Put(ctx, name, big(1), storage.PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	first, err := b.Stat(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, name, big(2), storage.PutOptions{IfAbsent: true}); !errors.Is(err, storage.ErrPrecondition) {
		t.Fatalf("second IfAbsent Put of %d MiB: %v, want ErrPrecondition", size>>20, err)
	}
	if err := b.Put(ctx, name, big(3), storage.PutOptions{IfMatch: first.ETag}); err != nil {
		t.Fatalf("IfMatch with the current ETag: %v", err)
	}
	if err := b.Put(ctx, name, big(4), storage.PutOptions{IfMatch: first.ETag}); !errors.Is(err, storage.ErrPrecondition) {
		t.Fatalf("IfMatch with a stale ETag: %v, want ErrPrecondition", err)
	}
	r, _, err := b.Open(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, want := sha256.New(), sha256.New()
	io.Copy(got, r)
	io.Copy(want, big(3))
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("the object is not the one the successful compare-and-swap wrote")
	}
}

// TestS3FailedPutLeavesNothing: a reader that fails after several upload
// parts have gone up aborts the multi-part upload; the name stays absent.
func TestS3FailedPutLeavesNothing(t *testing.T) {
	b := openURL(t, s3URLs(t)(t))
	ctx := context.Background()
	src := io.MultiReader(&randomReader{rng: rand.NewChaCha8([32]byte{9}), left: 11 << 20}, failingReader{})
	if err := b.Put(ctx, "targets/half.bin", src, storage.PutOptions{IfAbsent: true}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if _, err := b.Stat(ctx, "targets/half.bin"); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("after the failed Put: Stat = %v, want ErrNotExist", err)
	}
}
