package repostore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/edgetuf/edgetuf/internal/repostoretest"
	"github.com/edgetuf/edgetuf/repostore"
	"github.com/edgetuf/edgetuf/storage"
)

// BenchmarkConcurrentPublishers: 8 publishers x 5 versions into one
// file:// repository at once, with the real backoff; reports the
// attempts the publications took. bench/ runs the same against S3.
func BenchmarkConcurrentPublishers(b *testing.B) {
	for i := 0; i < b.N; i++ {
		be, err := storage.Open(context.Background(), "file://"+b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		attempts := repostoretest.ConcurrentPublishers(b, be, 8, 5, repostore.RunOptions{})
		total := 0
		for _, a := range attempts {
			total += a
		}
		b.ReportMetric(float64(total)/float64(len(attempts)), "attempts/publication")
		be.Close()
	}
}

// BenchmarkAddTargetFile: one add-target into a file:// repository.
func BenchmarkAddTargetFile(b *testing.B) {
	be, err := storage.Open(context.Background(), "file://"+b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	fx := repostoretest.Seed(b, be)
	bundles := make([]string, b.N)
	for i := range bundles {
		bundles[i] = repostoretest.Bundle(b, "m", fmt.Sprintf("1.0.%d", i))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := repostoretest.AddTarget(context.Background(), be, fx.Keys, bundles[i], repostore.RunOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
