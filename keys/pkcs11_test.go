//go:build cgo

package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/pkcs11tok"
	"github.com/miekg/pkcs11"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// softHSM makes a SoftHSM2 token for t and points this process's module
// at it; the module is finalized when t ends.
func softHSM(t *testing.T) *backendtest.SoftHSM {
	t.Helper()
	return backendtest.InProcessSoftHSM(t, "edgetuf-test")
}

// TestPKCS11Keys generates Ed25519 and ECDSA P-256 keys inside a SoftHSM2
// token, registers them, signs TUF metadata through Dir.Signer and checks
// the signatures with go-tuf, and checks that the private keys cannot
// leave the token.
func TestPKCS11Keys(t *testing.T) {
	h := softHSM(t)
	for _, c := range []struct {
		typ            Type
		keytype, sheme string
	}{
		{Ed25519, metadata.KeyTypeEd25519, metadata.KeySchemeEd25519},
		{ECDSAP256, metadata.KeyTypeECDSA_SHA2_P256, metadata.KeySchemeECDSA_SHA2_P256},
	} {
		t.Run(string(c.typ), func(t *testing.T) {
			kd := &Dir{FS: afero.NewOsFs(), Path: filepath.Join(t.TempDir(), "keys")}
			ref, err := ParseRef(h.URI("targets-" + string(c.typ)))
			if err != nil {
				t.Fatal(err)
			}
			k, err := kd.AddRef("targets", ref, c.typ)
			if err != nil {
				t.Fatalf("generating in the token: %v", err)
			}
			if k.Public.Type != c.keytype || k.Public.Scheme != c.sheme {
				t.Fatalf("key %s/%s, want %s/%s", k.Public.Type, k.Public.Scheme, c.keytype, c.sheme)
			}
			if k.Extractable == nil || *k.Extractable {
				t.Fatalf("generated key reported extractable (%v)", k.Extractable)
			}
			assertNotExtractable(t, ref.pkcs11)
			if _, err := kd.AddRef("again", ref, c.typ); err == nil || !strings.Contains(err.Error(), "already exists") {
				t.Errorf("generating over an existing key: %v", err)
			}
			// Registering the existing key under another name reads the same public key.
			k2, err := kd.AddRef("targets-copy", ref, "")
			if err != nil || k2.ID() != k.ID() {
				t.Fatalf("adding the existing key: %v (ID %s, want %s)", err, k2.ID(), k.ID())
			}
			pubFile, err := os.ReadFile(filepath.Join(kd.Path, "targets.pub"))
			if err != nil {
				t.Fatal(err)
			}
			if pub, err := ParsePublic(pubFile); err != nil {
				t.Fatal(err)
			} else if id, _ := pub.ID(); id != k.ID() {
				t.Fatalf("targets.pub has key ID %s, want %s", id, k.ID())
			}
			refFile, _ := os.ReadFile(filepath.Join(kd.Path, "targets.ref"))
			if strings.TrimSpace(string(refFile)) != ref.Raw || strings.Contains(string(refFile), backendtest.TestPIN) {
				t.Fatalf("targets.ref = %q", refFile)
			}

			s, err := kd.Signer(k.ID())
			if err != nil {
				t.Fatal(err)
			}
			signAndVerify(t, s, k.Public)
			// The same key through crypto.Signer, checked by the standard library.
			ck := s.(crypto.Signer)
			msg := []byte("edgetuf")
			switch pub := ck.Public().(type) {
			case ed25519.PublicKey:
				sig, err := ck.Sign(nil, msg, crypto.Hash(0))
				if err != nil || !ed25519.Verify(pub, msg, sig) {
					t.Fatalf("crypto.Signer Ed25519 signature does not verify (%v)", err)
				}
			case *ecdsa.PublicKey:
				sum := sha256.Sum256(msg)
				sig, err := ck.Sign(nil, sum[:], crypto.SHA256)
				if err != nil || !ecdsa.VerifyASN1(pub, sum[:], sig) {
					t.Fatalf("crypto.Signer ECDSA signature is not valid ASN.1 DER (%v)", err)
				}
			}
		})
	}
}

// assertNotExtractable asks the token itself about the private key: not
// extractable, sensitive, never extractable, and its value unreadable.
func assertNotExtractable(t *testing.T, u *pkcs11URI) {
	t.Helper()
	tok, err := pkcs11tok.FindToken(u)
	if err != nil {
		t.Fatal(err)
	}
	tok.Mu.Lock()
	defer tok.Mu.Unlock()
	if err := tok.Login(u, nil); err != nil {
		t.Fatal(err)
	}
	priv, err := tok.FindOne(u, pkcs11.CKO_PRIVATE_KEY, "private")
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := tok.Ctx.GetAttributeValue(tok.Session, priv, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_SENSITIVE, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{false, true, true, true}
	for i, a := range attrs {
		if pkcs11tok.AttrTrue(a.Value) != want[i] {
			t.Errorf("private key attribute 0x%x = %v, want %v", a.Type, pkcs11tok.AttrTrue(a.Value), want[i])
		}
	}
	if _, err := tok.Ctx.GetAttributeValue(tok.Session, priv, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); !pkcs11tok.IsCKR(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
		t.Errorf("reading the private key's CKA_VALUE: %v, want CKR_ATTRIBUTE_SENSITIVE", err)
	}
}

// TestPKCS11Errors: a wrong PIN, a missing key, a missing token and a
// missing PIN source are clear errors.
func TestPKCS11Errors(t *testing.T) {
	h := softHSM(t)
	// A second token, to have a session that is not logged in yet.
	h2 := h.AddToken(t, "edgetuf-test-2")
	kd := &Dir{FS: afero.NewOsFs(), Path: t.TempDir()}
	for _, c := range []struct{ ref, want string }{
		{h.URI("no-such-key"), `no private key object`},
		{strings.Replace(h.URI("k"), "token="+h.Token, "token=no-such-token", 1), "no such token"},
		{strings.Replace(h.URI("k"), h.Module, "/nonexistent/module.so", 1), "no such file"},
	} {
		ref, err := ParseRef(c.ref)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kd.AddRef("k", ref, ""); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("AddRef(%s) = %v, want an error containing %q", c.ref, err, c.want)
		}
	}

	wrong := filepath.Join(t.TempDir(), "wrong-pin")
	os.WriteFile(wrong, []byte("not-the-pin\n"), 0o600)
	ref, _ := ParseRef(strings.Replace(h2.URI("k"), h2.PINFile, wrong, 1))
	if _, err := kd.AddRef("k", ref, Ed25519); err == nil || !strings.Contains(err.Error(), "wrong PIN") {
		t.Errorf("wrong PIN: %v", err)
	}
	t.Setenv(PINEnv, "")
	os.Unsetenv(PINEnv)
	ref, _ = ParseRef("pkcs11:token=" + h2.Token + ";object=k?module-path=" + h2.Module)
	if _, err := kd.AddRef("k", ref, Ed25519); err == nil || !strings.Contains(err.Error(), "no PIN") {
		t.Errorf("no PIN source: %v", err)
	}
	// The PIN from the environment, then from the prompt.
	t.Setenv(PINEnv, h2.PIN)
	if _, err := kd.AddRef("k", ref, Ed25519); err != nil {
		t.Errorf("PIN from %s: %v", PINEnv, err)
	}
}

// The same process loads a module once; an unusable type is refused.
func TestPKCS11GenerateRefusesOtherTypes(t *testing.T) {
	h := softHSM(t)
	ref, _ := ParseRef(h.URI("rsa"))
	kd := &Dir{FS: afero.NewOsFs(), Path: t.TempDir()}
	if _, err := kd.AddRef("k", ref, Type("rsa")); err == nil {
		t.Error("generated an rsa key")
	}
}
