package keys

import (
	"errors"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
)

// countingKeyring counts the requests that reach it; the first fails.
type countingKeyring struct {
	calls int
	s     signature.Signer
}

func (c *countingKeyring) Signer(string) (signature.Signer, error) {
	c.calls++
	if c.calls == 1 {
		return nil, ErrWrongPassphrase
	}
	return c.s, nil
}

// TestCache: a signer is asked for until it is had, then kept.
func TestCache(t *testing.T) {
	k, err := Generate("t", Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.Signer()
	if err != nil {
		t.Fatal(err)
	}
	inner := &countingKeyring{s: s}
	c := NewCache(inner)
	if _, err := c.Signer("id"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("first: %v", err)
	}
	for i := 0; i < 3; i++ {
		if got, err := c.Signer("id"); err != nil || got != s {
			t.Fatalf("signer %d: %v, %v", i, got, err)
		}
	}
	if inner.calls != 2 {
		t.Errorf("%d requests reached the keyring, want 2", inner.calls)
	}
}
