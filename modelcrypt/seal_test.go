package modelcrypt

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"
)

// TestSealEnvelopeChecksEveryKey: SealEnvelope refuses a string that is
// not a content key, before and after a valid key, every time.
func TestSealEnvelopeChecksEveryKey(t *testing.T) {
	dev, _ := ecdh.P256().GenerateKey(rand.Reader)
	rs, _ := Recipient(dev.PublicKey())
	r, err := ParseRecipient(rs)
	if err != nil {
		t.Fatal(err)
	}
	ck, _ := NewContentKey()
	good := Grant{ModelID: "m", Version: "1.0.0", ContentKey: ck.String()}
	bad := good
	bad.ContentKey = "AGE-SECRET-KEY-1NOTAKEY"
	for i, g := range []Grant{bad, good, good, bad, bad, good} {
		_, err := SealEnvelope(r, g)
		if (g == bad) != (err != nil) {
			t.Fatalf("seal %d (bad key %v): %v", i, g == bad, err)
		}
	}
}
