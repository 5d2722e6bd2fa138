package devicekey

import (
	"bytes"
	"testing"
)

// FuzzParseTPMBlob: a TPM key blob is untrusted bytes from the state
// directory. Parsing never panics, and an accepted blob is a device key:
// it marshals back to the same structures and its public key is on P-256.
// The seed corpus (testdata/fuzz) holds a blob swtpm made.
func FuzzParseTPMBlob(f *testing.F) {
	f.Add([]byte(`{"format":"edgetuf-device-key-tpm-v1","public":"AAA=","private":"AAA="}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseTPMBlob(data)
		if err != nil {
			return
		}
		again, err := b.marshal()
		if err != nil {
			t.Fatal(err)
		}
		b2, err := parseTPMBlob(again)
		if err != nil {
			t.Fatalf("a re-marshalled blob is refused: %v", err)
		}
		if !b2.pub.Equal(b.pub) || len(b.pub.Bytes()) != 65 {
			t.Fatal("the public key changed in a round trip")
		}
	})
}

// FuzzParseFileKey: a software key file is untrusted bytes too; an
// accepted one is a P-256 key that computes ECDH with itself.
func FuzzParseFileKey(f *testing.F) {
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseFileKey(data)
		if err != nil {
			return
		}
		z1, err := fileKey{k}.ECDH(k.PublicKey())
		if err != nil || len(z1) != 32 {
			t.Fatalf("accepted key: ECDH %x, %v", z1, err)
		}
		if z2, _ := k.ECDH(k.PublicKey()); !bytes.Equal(z1, z2) {
			t.Fatal("ECDH differs")
		}
	})
}

// FuzzParseRef: the stored reference (client.json) never panics the
// parser, and an accepted one is stable under its canonical form.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"file", "tpm", "file:k.pem", "tpm:/dev/tpmrm0", "pkcs11:token=t;object=k", "x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		r2, err := ParseRef(r.String())
		if err != nil || r2 != r {
			t.Fatalf("ParseRef(%q) = %+v, but its canonical form %q gives %+v, %v", s, r, r.String(), r2, err)
		}
	})
}
