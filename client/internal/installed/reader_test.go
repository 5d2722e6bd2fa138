package installed

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// benchFile writes a model of EDGETUF_BENCH_MIB MiB (default 16; the
// issue's measurement uses 1024, see bench/activeread.sh) and returns its
// path and signed target.
func benchFile(b *testing.B) (string, *metadata.TargetFiles) {
	b.Helper()
	mib := 16
	if s := os.Getenv("EDGETUF_BENCH_MIB"); s != "" {
		var err error
		if mib, err = strconv.Atoi(s); err != nil || mib <= 0 {
			b.Fatalf("EDGETUF_BENCH_MIB=%q: want a positive number", s)
		}
	}
	path := filepath.Join(b.TempDir(), "model.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	r := rand.NewChaCha8([32]byte{1})
	chunk := make([]byte, 1<<20)
	for range mib {
		r.Read(chunk)
		h.Write(chunk)
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path, &metadata.TargetFiles{Length: int64(mib) << 20, Hashes: metadata.Hashes{"sha256": h.Sum(nil)}}
}

// BenchmarkReader: a verified read (Reader through io.Copy, as an app
// loading a model does) beside a plain read of the same file with the same
// 1 MiB buffer, page cache warm. Memory per read is the buffer, whatever
// the size (B/op).
func BenchmarkReader(b *testing.B) {
	path, tf := benchFile(b)
	sfs := safefs.New(filepath.Dir(path))
	b.Run("openactive", func(b *testing.B) {
		b.SetBytes(tf.Length)
		b.ReportAllocs()
		for b.Loop() {
			r, err := OpenReader(sfs, path, tf)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, r); err != nil || n != tf.Length {
				b.Fatal(n, err)
			}
			r.Close()
		}
	})
	b.Run("plain", func(b *testing.B) {
		b.SetBytes(tf.Length)
		b.ReportAllocs()
		buf := make([]byte, 1<<20)
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			for {
				_, err := f.Read(buf)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
		}
	})
}
