package repo

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/contentkeys"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/release"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// BenchmarkAddTarget publishes a 256 MiB payload on the OS filesystem,
// fsync included. bench/addtarget.sh compares the whole command with
// openssl + cp + sync at 1 GiB.
func BenchmarkAddTarget(b *testing.B) {
	benchAddTarget(b, func(string) AddOptions { return AddOptions{} })
}

// BenchmarkAddTargetEncrypted is BenchmarkAddTarget with --encrypt
// (delivery device): the payload is encrypted while it is stored.
// bench/addtarget-encrypt.sh compares the two commands at 1 GiB.
func BenchmarkAddTargetEncrypted(b *testing.B) {
	benchAddTarget(b, func(dir string) AddOptions {
		return AddOptions{Encrypt: &EncryptOptions{Delivery: targets.DeliveryDevice},
			ContentKeys: func() (release.KeyStore, error) { return contentkeys.Open(filepath.Join(dir, "keys"), "bench-only") }}
	})
}

func benchAddTarget(b *testing.B, opts func(dir string) AddOptions) {
	const size = 256 << 20
	dir := b.TempDir()
	fs := afero.NewOsFs()
	kd := &keys.Dir{FS: fs, Path: filepath.Join(dir, "keys"), Passphrase: func(string, bool) ([]byte, error) { return []byte("bench-only"), nil }}
	if _, err := Init(fs, filepath.Join(dir, "repo"), kd, InitOptions{}); err != nil {
		b.Fatal(err)
	}
	r, err := Open(fs, filepath.Join(dir, "repo"))
	if err != nil {
		b.Fatal(err)
	}
	bundle := filepath.Join(dir, "bundle")
	os.MkdirAll(bundle, 0o755)
	f, _ := os.Create(filepath.Join(bundle, "model.bin"))
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.SetBytes(size)
	b.ResetTimer()
	payload, err := os.OpenFile(filepath.Join(bundle, "model.bin"), os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer payload.Close()
	for i := 0; i < b.N; i++ {
		// Other bytes in every version: the same file would be linked to
		// the previous version's, not stored.
		if _, err := payload.WriteAt(fmt.Appendf(nil, "%08x", i), 0); err != nil {
			b.Fatal(err)
		}
		manifest := fmt.Sprintf(`{"model_id": "bench", "version": "1.0.%d"}`, i)
		os.WriteFile(filepath.Join(bundle, "manifest.json"), []byte(manifest), 0o644)
		if _, err := r.AddTarget(bundle, kd, opts(dir)); err != nil {
			b.Fatal(err)
		}
	}
}
