package devicekey

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
)

// BenchmarkECDH measures one ECDH with the device key, per backend
// (docs/client.md, "Device keys", reports the numbers). The TPM's
// includes what every use costs: connecting, deriving the SRK, loading
// the blob, the salted session, flushing.
func BenchmarkECDH(b *testing.B) {
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, k Key) {
		for b.Loop() {
			if _, err := k.ECDH(peer.PublicKey()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("file", func(b *testing.B) {
		k, _, err := Create("file", b.TempDir(), false)
		if err != nil {
			b.Fatal(err)
		}
		run(b, k)
	})
	b.Run("tpm", func(b *testing.B) {
		sw := backendtest.StartSWTPM(b)
		k, _, err := Create("tpm:"+sw.Socket, b.TempDir(), false)
		if err != nil {
			b.Fatal(err)
		}
		run(b, k)
	})
	b.Run("tpm-open", func(b *testing.B) {
		sw := backendtest.StartSWTPM(b)
		dir := b.TempDir()
		if _, _, err := Create("tpm:"+sw.Socket, dir, false); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := Open("tpm:"+sw.Socket, dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}
