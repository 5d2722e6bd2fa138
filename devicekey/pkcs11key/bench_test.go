//go:build cgo

package pkcs11key

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"

	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/internal/backendtest"
)

// BenchmarkSoftHSMECDH measures one ECDH with a device key in SoftHSM2
// (docs/client.md, "Device keys").
func BenchmarkSoftHSMECDH(b *testing.B) {
	h := backendtest.InProcessSoftHSM(b, "edgetuf-bench")
	k, _, err := devicekey.Create(h.URI("device"), b.TempDir(), false)
	if err != nil {
		b.Fatal(err)
	}
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := k.ECDH(peer.PublicKey()); err != nil {
			b.Fatal(err)
		}
	}
}
