// Package modelcrypttest makes test-only keys for the encryption tests:
// content keys, and device keys (a software P-256 key held in memory, a
// modelcrypt.DeviceKey) with their recipients, so that the tests of
// repo, targetstore, grant, audit, keyserver, client and the commands
// need not each generate and encode one. It depends on modelcrypt only,
// so the internal tests of repo and targetstore can use it without an
// import cycle.
//
// It is test support only: it must never be imported by non-test code.
package modelcrypttest

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"

	"filippo.io/age/tag"
	"github.com/edgetuf/edgetuf/modelcrypt"
)

// DeviceKey is a software P-256 device key and its recipient, both
// forms: the string a devices file lists and the parsed recipient an
// envelope is sealed to.
type DeviceKey struct {
	Priv      *ecdh.PrivateKey
	Recipient string
	Parsed    *tag.Recipient
}

// Public and ECDH make a DeviceKey a modelcrypt.DeviceKey.
func (d *DeviceKey) Public() *ecdh.PublicKey                     { return d.Priv.PublicKey() }
func (d *DeviceKey) ECDH(remote *ecdh.PublicKey) ([]byte, error) { return d.Priv.ECDH(remote) }

// NewDeviceKey generates a fresh device key; it fails the test if any
// step does.
func NewDeviceKey(t testing.TB) *DeviceKey {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := modelcrypt.Recipient(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	r, err := modelcrypt.ParseRecipient(s)
	if err != nil {
		t.Fatal(err)
	}
	return &DeviceKey{Priv: k, Recipient: s, Parsed: r}
}

// NewContentKey generates a fresh content key (of no published version
// until a test publishes one under it); it fails the test if it cannot.
func NewContentKey(t testing.TB) *modelcrypt.ContentKey {
	t.Helper()
	k, err := modelcrypt.NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
