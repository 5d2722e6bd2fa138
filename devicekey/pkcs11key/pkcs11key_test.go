//go:build cgo

package pkcs11key

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/pkcs11tok"
	"github.com/miekg/pkcs11"
)

func softHSM(t *testing.T) *backendtest.SoftHSM {
	return backendtest.InProcessSoftHSM(t, "edgetuf-device")
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *devicekey.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

// TestSoftHSMKeyRoundTrip: a device key generated in a SoftHSM2 token
// agrees with a software peer (crypto/ecdh), through devicekey.Create and
// again through devicekey.Open; a second Create is DEVICE_KEY_EXISTS, and
// Create with replace makes a new pair in place of the old.
func TestSoftHSMKeyRoundTrip(t *testing.T) {
	h := softHSM(t)
	ref := h.URI("device")
	k, stored, err := devicekey.Create(ref, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	if stored != ref {
		t.Fatalf("stored reference %q", stored)
	}
	k2, err := devicekey.Open(ref, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Public().Equal(k.Public()) {
		t.Fatal("reopened key differs")
	}
	for _, key := range []devicekey.Key{k, k2} {
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		want, err := peer.ECDH(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		got, err := key.ECDH(peer.PublicKey())
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ECDH %x, %v; the peer computed %x", got, err, want)
		}
	}
	_, _, err = devicekey.Create(ref, t.TempDir(), false)
	wantCode(t, err, devicekey.CodeExists)
	k3, _, err := devicekey.Create(ref, t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	if k3.Public().Equal(k.Public()) {
		t.Fatal("replacing kept the old key")
	}
	if k4, err := devicekey.Open(ref, t.TempDir()); err != nil || !k4.Public().Equal(k3.Public()) {
		t.Fatalf("after replacing, the reference opens %v, %v", k4, err)
	}
}

// TestSoftHSMKeyNotExtractable: the token refuses to hand out the device
// key's private key: C_GetAttributeValue(CKA_VALUE) is
// CKR_ATTRIBUTE_SENSITIVE, C_WrapKey under a wrapping key of the token
// is CKR_KEY_UNEXTRACTABLE, and CKA_EXTRACTABLE cannot be turned back on.
// The control, an extractable key in the same token, is wrapped and read
// (so the refusals are the attributes' doing), and devicekey.Open refuses
// that key.
func TestSoftHSMKeyNotExtractable(t *testing.T) {
	h := softHSM(t)
	if _, _, err := devicekey.Create(h.URI("device"), t.TempDir(), false); err != nil {
		t.Fatal(err)
	}
	h.WithPrivateKey(t, "device", func(tok *pkcs11tok.Token, priv pkcs11.ObjectHandle) error {
		attrs, err := tok.Ctx.GetAttributeValue(tok.Session, priv, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_SENSITIVE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, nil),
		})
		if err != nil {
			return err
		}
		for i, want := range []bool{false, true, true, true, true} {
			if pkcs11tok.AttrTrue(attrs[i].Value) != want {
				t.Errorf("attribute 0x%x = %v, want %v", attrs[i].Type, !want, want)
			}
		}
		_, err = tok.Ctx.GetAttributeValue(tok.Session, priv, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if !pkcs11tok.IsCKR(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
			t.Errorf("reading CKA_VALUE: %v, want CKR_ATTRIBUTE_SENSITIVE", err)
		}
		wrapping, err := tok.Ctx.GenerateKey(tok.Session, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		})
		if err != nil {
			return err
		}
		wrap := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}
		if _, err := tok.Ctx.WrapKey(tok.Session, wrap, wrapping, priv); !pkcs11tok.IsCKR(err, pkcs11.CKR_KEY_UNEXTRACTABLE) {
			t.Errorf("wrapping the device key: %v, want CKR_KEY_UNEXTRACTABLE", err)
		}
		if err := tok.Ctx.SetAttributeValue(tok.Session, priv, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true)}); err == nil {
			t.Error("CKA_EXTRACTABLE was turned back on")
		}

		// The control: an extractable, non-sensitive EC key pair.
		params := []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
		common := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_LABEL, "loose"), pkcs11.NewAttribute(pkcs11.CKA_DERIVE, true)}
		_, loose, err := tok.Ctx.GenerateKeyPair(tok.Session, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)},
			append(common, pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params)),
			append(common, pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true)))
		if err != nil {
			return err
		}
		if _, err := tok.Ctx.WrapKey(tok.Session, wrap, wrapping, loose); err != nil {
			t.Errorf("control: wrapping an extractable key: %v (this test proves nothing)", err)
		}
		if _, err := tok.Ctx.GetAttributeValue(tok.Session, loose, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); err != nil {
			t.Errorf("control: reading a non-sensitive key: %v (this test proves nothing)", err)
		}
		return nil
	})
	_, err := devicekey.Open(h.URI("loose"), t.TempDir())
	wantCode(t, err, devicekey.CodeUnavailable)
	if !strings.Contains(err.Error(), "must stay in the token") {
		t.Fatalf("opening an extractable key: %v", err)
	}
}

// TestSoftHSMKeyUnavailable: a missing key, a missing token, a wrong PIN
// and no PIN at all are DEVICE_KEY_UNAVAILABLE; a device never prompts.
func TestSoftHSMKeyUnavailable(t *testing.T) {
	h := softHSM(t)
	if _, _, err := devicekey.Create(h.URI("device"), t.TempDir(), false); err != nil {
		t.Fatal(err)
	}
	wrongPIN := t.TempDir() + "/pin"
	if err := os.WriteFile(wrongPIN, []byte("not-the-pin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(pkcs11tok.PINEnv, "")
	os.Unsetenv(pkcs11tok.PINEnv)
	for ref, want := range map[string]string{
		h.URI("no-such-key"): "no private key object",
		strings.Replace(h.URI("device"), "token="+h.Token, "token=no-such-token", 1): "no such token",
		strings.Replace(h.URI("device"), "?", "?x-unused=1&", 1) + "&pin-value=1":    "pin-value is not allowed",
		"pkcs11:token=" + h.Token + ";object=device?module-path=" + h.Module:         "no PIN",
	} {
		// A fresh session each time: a logged-in one needs no PIN.
		if err := pkcs11tok.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := devicekey.Open(ref, t.TempDir())
		wantCode(t, err, devicekey.CodeUnavailable)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want %q", ref, err, want)
		}
	}
	pkcs11tok.Close()
	_, err := devicekey.Open(strings.Replace(h.URI("device"), h.PINFile, wrongPIN, 1), t.TempDir())
	wantCode(t, err, devicekey.CodeUnavailable)
}
