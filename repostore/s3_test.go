package repostore_test

import (
	"context"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/repostoretest"
	"github.com/edgetuf/edgetuf/storage"
)

// TestConcurrentPublishersS3: the same against a real S3 server
// (versitygw), whose If-None-Match and If-Match are the commit point and
// the timestamp's compare-and-swap. Every publication runs in sessions of
// its own; cmd/mrepo's TestConcurrentPublishersS3 runs them as separate
// processes.
func TestConcurrentPublishersS3(t *testing.T) {
	s3 := backendtest.VersityGW(t)
	s3.UseInProcess(t)
	b, err := storage.Open(context.Background(), s3.NewBucket(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	attempts := repostoretest.ConcurrentPublishers(t, b, 8, 5, fast)
	if len(attempts) != 40 {
		t.Fatalf("%d publications succeeded, want 40", len(attempts))
	}
	t.Logf("attempts per publication: %v", attempts)
}
