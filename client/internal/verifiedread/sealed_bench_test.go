package verifiedread

import (
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkActiveRead reads a version's file through Model.Open as the
// application does (1 MiB reads), installed decrypted (hashed while read)
// and kept encrypted at rest (decrypted, every chunk authenticated, and
// hashed), sequentially and at random offsets (ReadAt, encrypted only).
// The file is EDGETUF_BENCH_MIB MiB (default 64), warm in the page cache.
// bench/activeread.sh FORM=encrypted measures the whole path, 1 GiB.
func BenchmarkActiveRead(b *testing.B) {
	mib := 64
	if s := os.Getenv("EDGETUF_BENCH_MIB"); s != "" {
		mib, _ = strconv.Atoi(s)
	}
	for _, form := range []string{"plaintext", "encrypted"} {
		v := newSealedSize(b, form == "encrypted", mib<<20)
		m := v.model()
		if err := m.Unseal(v.state, v.keys(), time.Now()); err != nil {
			b.Fatal(err)
		}
		b.Run(form+"/sequential", func(b *testing.B) {
			b.SetBytes(int64(mib) << 20)
			buf := make([]byte, 1<<20)
			for b.Loop() {
				r, err := m.Open("model.bin")
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := r.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				r.Close()
			}
		})
		if form != "encrypted" {
			continue
		}
		b.Run(form+"/random-1MiB", func(b *testing.B) {
			b.SetBytes(1 << 20)
			r, err := m.Open("model.bin")
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			ra := r.(io.ReaderAt)
			buf := make([]byte, 1<<20)
			for b.Loop() {
				if _, err := ra.ReadAt(buf, rand.Int64N(int64(mib-1)<<20)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
