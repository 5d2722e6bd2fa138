//go:build cgo

// Package pkcs11key is devicekey's PKCS#11 backend: a program that
// imports it can keep its device key in a PKCS#11 token (pkcs11: device
// key references). It needs cgo (a module is a shared library); without
// cgo, importing it registers a backend that says so.
//
// The key pair is generated inside the token (CKM_EC_KEY_PAIR_GEN on
// P-256) with a private key that is CKA_SENSITIVE and not
// CKA_EXTRACTABLE (so the token refuses to reveal or wrap it) and
// CKA_DERIVE, and every ECDH is a CKM_ECDH1_DERIVE in the token (with
// CKD_NULL: the raw shared secret, which is read back from a session
// object destroyed at once). Open refuses a key the token would let out.
package pkcs11key

import (
	"crypto/ecdh"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/internal/pkcs11tok"
	"github.com/miekg/pkcs11"
)

// Supported: PKCS#11 device keys work in this build (cgo).
const Supported = true

func init() { devicekey.RegisterPKCS11(backend{}) }

type backend struct{}

// key is a device key pair in a token. The private key never leaves it.
type key struct {
	uri *pkcs11tok.URI
	pub *ecdh.PublicKey
}

func (k *key) Public() *ecdh.PublicKey { return k.pub }

func (k *key) ECDH(remote *ecdh.PublicKey) ([]byte, error) {
	if err := devicekey.CheckRemote(remote); err != nil {
		return nil, err
	}
	var z []byte
	err := pkcs11tok.Do(k.uri, nil, func(t *pkcs11tok.Token) error {
		priv, err := t.FindOne(k.uri, pkcs11.CKO_PRIVATE_KEY, "private")
		if err != nil {
			return err
		}
		mech := pkcs11.NewMechanism(pkcs11.CKM_ECDH1_DERIVE, pkcs11.NewECDH1DeriveParams(pkcs11.CKD_NULL, nil, remote.Bytes()))
		secret, err := t.Ctx.DeriveKey(t.Session, []*pkcs11.Mechanism{mech}, priv, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
		})
		if err != nil {
			return fmt.Errorf("%s: C_DeriveKey (CKM_ECDH1_DERIVE): %w", k.uri.Describe(), err)
		}
		defer t.Ctx.DestroyObject(t.Session, secret)
		a, err := t.Ctx.GetAttributeValue(t.Session, secret, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err != nil {
			return fmt.Errorf("%s: reading the derived secret: %w", k.uri.Describe(), err)
		}
		if len(a[0].Value) != 32 {
			return fmt.Errorf("%s: the token derived a %d-byte secret", k.uri.Describe(), len(a[0].Value))
		}
		z = a[0].Value
		return nil
	})
	if err != nil {
		return nil, &devicekey.Error{Code: devicekey.CodeUnavailable, Ref: k.uri.Describe(), Err: err}
	}
	return z, nil
}

func (backend) Open(uri string) (devicekey.Key, error) {
	u, err := pkcs11tok.Parse(uri)
	if err != nil {
		return nil, err
	}
	var k *key
	err = pkcs11tok.Do(u, nil, func(t *pkcs11tok.Token) (err error) {
		k, err = readKey(t, u)
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// readKey reads the public key of the URI's pair and checks its private
// key: on P-256, for ECDH, and kept in the token. The caller holds t.Mu.
func readKey(t *pkcs11tok.Token, u *pkcs11tok.URI) (*key, error) {
	pair, err := t.FindPair(u)
	if err != nil {
		return nil, err
	}
	var oid asn1.ObjectIdentifier
	if pair.KeyType != pkcs11.CKK_EC {
		return nil, fmt.Errorf("%s: not an EC key", u.Describe())
	}
	if _, err := asn1.Unmarshal(pair.ECParams, &oid); err != nil || !oid.Equal(pkcs11tok.OIDP256) {
		return nil, fmt.Errorf("%s: not on curve P-256", u.Describe())
	}
	pub, err := ecdh.P256().NewPublicKey(pkcs11tok.ECPoint(pair.ECPoint))
	if err != nil {
		return nil, fmt.Errorf("%s: public key: %w", u.Describe(), err)
	}
	xa, err := t.Ctx.GetAttributeValue(t.Session, pair.Private, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: reading the private key's attributes: %w", u.Describe(), err)
	}
	if pkcs11tok.AttrTrue(xa[0].Value) || !pkcs11tok.AttrTrue(xa[1].Value) {
		return nil, fmt.Errorf("%s: the token would let the private key out (CKA_EXTRACTABLE true or CKA_SENSITIVE false): a device key must stay in the token", u.Describe())
	}
	if !pkcs11tok.AttrTrue(xa[2].Value) {
		return nil, fmt.Errorf("%s: the private key cannot derive (CKA_DERIVE false): not an ECDH key", u.Describe())
	}
	return &key{uri: u, pub: pub}, nil
}

func (backend) Create(uri string, replace bool) (devicekey.Key, error) {
	u, err := pkcs11tok.Parse(uri)
	if err != nil {
		return nil, err
	}
	params, err := asn1.Marshal(pkcs11tok.OIDP256)
	if err != nil {
		return nil, err
	}
	var k *key
	err = pkcs11tok.Do(u, nil, func(t *pkcs11tok.Token) (err error) {
		k, err = generate(t, u, params, replace)
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// generate makes the key pair in the token, after destroying the pair
// the URI names when replace is set. The caller holds t.Mu.
func generate(t *pkcs11tok.Token, u *pkcs11tok.URI, params []byte, replace bool) (*key, error) {
	for _, class := range []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY} {
		hs, err := t.Find(u, class)
		if err != nil {
			return nil, err
		}
		if len(hs) > 0 && !replace {
			return nil, &devicekey.Error{Code: devicekey.CodeExists, Ref: u.Describe(),
				Err: errors.New("a key object with this label or id exists in the token: refusing to replace it (and everything wrapped to it) unless told to")}
		}
		for _, h := range hs {
			if err := t.Ctx.DestroyObject(t.Session, h); err != nil {
				return nil, fmt.Errorf("%s: C_DestroyObject: %w", u.Describe(), err)
			}
		}
	}
	gen, err := t.GenerateKeyPair(u, pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil),
		[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), pkcs11.NewAttribute(pkcs11.CKA_DERIVE, true)},
		[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params)},
		[]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
			pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		})
	if err != nil {
		return nil, err
	}
	// The new pair, by its ID too, whatever else carries the label.
	k, err := readKey(t, gen)
	if err != nil {
		return nil, err
	}
	return k, nil
}
