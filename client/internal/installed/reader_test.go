package installed

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/internal/safefs"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func target(data []byte) *metadata.TargetFiles {
	sum := sha256.Sum256(data)
	return &metadata.TargetFiles{Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
}

// TestReaderEdges: an empty file, an empty read, a file that grows from
// nothing while open, an error that stays, a second listed hash checked.
func TestReaderEdges(t *testing.T) {
	dir := t.TempDir()
	sfs := safefs.New(dir)
	path := filepath.Join(dir, "f")
	os.WriteFile(path, nil, 0o600)
	r, err := OpenReader(sfs, path, target(nil))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(nil); n != 0 || err != nil && err != io.EOF {
		t.Fatalf("empty read: %d %v", n, err)
	}
	if n, err := r.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("empty file: %d %v", n, err)
	}
	r.Close()

	r, _ = OpenReader(sfs, path, target(nil))
	os.WriteFile(path, []byte("x"), 0o600) // grows after Open
	buf := make([]byte, 8)
	n, err := r.Read(buf)
	if n != 0 || codes.CodeOf(err) != codes.HashMismatch {
		t.Fatalf("grown from nothing: %d %v", n, err)
	}
	if n, err2 := r.Read(buf); n != 0 || err2 != err {
		t.Fatalf("second read: %d %v, want the same error", n, err2)
	}
	r.Close()

	data := []byte("detector weights")
	os.WriteFile(path, data, 0o600)
	tf := target(data)
	tf.Hashes["sha512"] = make([]byte, 64) // listed, and wrong
	r, _ = OpenReader(sfs, path, tf)
	if _, err := io.ReadAll(r); codes.CodeOf(err) != codes.HashMismatch || !strings.Contains(err.Error(), "SHA-512") {
		t.Fatalf("wrong SHA-512: %v", err)
	}
	r.Close()
}

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
