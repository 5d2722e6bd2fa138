package storage_test

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/storage"
)

// benchObjectSize is the object of BenchmarkS3: 256 MiB, or
// EDGETUF_BENCH_OBJECT_MIB (small while iterating).
func benchObjectSize(b *testing.B) int64 {
	if s := os.Getenv("EDGETUF_BENCH_OBJECT_MIB"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("EDGETUF_BENCH_OBJECT_MIB=%q", s)
		}
		return int64(n) << 20
	}
	return 256 << 20
}

// randomReader yields n pseudo-random bytes without holding them.
type randomReader struct {
	rng        *rand.ChaCha8
	left, read int64
	peakHeap   uint64 // highest live heap seen, sampled every 4 MiB
}

func (r *randomReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	r.rng.Read(p)
	r.left -= int64(len(p))
	if r.read/(4<<20) != (r.read+int64(len(p)))/(4<<20) {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		r.peakHeap = max(r.peakHeap, ms.HeapAlloc)
	}
	r.read += int64(len(p))
	return len(p), nil
}

// BenchmarkS3 measures the S3 backend against versitygw on loopback: a
// streamed Put of a large object (the size of a model payload), Stat of
// it (a HEAD), Open and read it through, and a small conditional Put (a
// timestamp.json compare-and-swap).
func BenchmarkS3(b *testing.B) {
	srv := backendtest.VersityGW(b)
	srv.UseInProcess(b)
	ctx := context.Background()
	be, err := storage.Open(ctx, srv.NewBucket(b))
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	size := benchObjectSize(b)
	name := "targets/models/big/1.0.0/0123.model.bin"
	put := func(b *testing.B) uint64 {
		src := &randomReader{rng: rand.NewChaCha8([32]byte{1}), left: size}
		if err := be.Put(ctx, name, src, storage.PutOptions{Size: size, SizeKnown: true}); err != nil {
			b.Fatal(err)
		}
		return src.peakHeap
	}
	b.Run("Put", func(b *testing.B) {
		b.SetBytes(size)
		var peak uint64
		for b.Loop() {
			peak = max(peak, put(b))
		}
		b.ReportMetric(float64(peak)/(1<<20), "MiB-peak-heap")
	})
	if _, err := be.Stat(ctx, name); errors.Is(err, storage.ErrNotExist) {
		put(b) // Put was not selected by -bench
	}
	b.Run("Stat", func(b *testing.B) {
		for b.Loop() {
			if _, err := be.Stat(ctx, name); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Open", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			r, _, err := be.Open(ctx, name)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, r); err != nil || n != size {
				b.Fatalf("read %d bytes: %v", n, err)
			}
			r.Close()
		}
	})
	b.Run("CompareAndSwapSmall", func(b *testing.B) {
		const ts = "metadata/timestamp.json"
		if err := be.Put(ctx, ts, newSmall(0), storage.PutOptions{IfAbsent: true}); err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			a, err := be.Stat(ctx, ts)
			if err != nil {
				b.Fatal(err)
			}
			i++
			if err := be.Put(ctx, ts, newSmall(i), storage.PutOptions{IfMatch: a.ETag, CacheControl: "public, max-age=30"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func newSmall(i int) io.Reader {
	return io.LimitReader(&randomReader{rng: rand.NewChaCha8([32]byte{byte(i), byte(i >> 8)}), left: 1 << 20}, 600)
}
