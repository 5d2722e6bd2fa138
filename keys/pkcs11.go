//go:build cgo

package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/edgetuf/edgetuf/internal/pkcs11tok"
	"github.com/miekg/pkcs11"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PKCS11Supported: this build can use keys in a PKCS#11 token (a cgo
// build; pkcs11_nocgo.go has the other value). mrepo --version reports it.
const PKCS11Supported = true

// PKCS#11 v3.0 names that miekg/pkcs11 v1.1.2 does not define.
const (
	ckkECEdwards           = 0x40
	ckmECEdwardsKeyPairGen = 0x1055
	ckmEdDSA               = 0x1057
)

var (
	oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidP256    = pkcs11tok.OIDP256
)

// ClosePKCS11 logs out of every PKCS#11 token this process opened, closes
// their sessions and finalizes and unloads their modules (see
// pkcs11tok.Close). Keys opened before can no longer sign.
func ClosePKCS11() error { return pkcs11tok.Close() }

// p11Key is a key pair in a PKCS#11 token. It is a crypto.Signer and a
// sigstore signature.Signer; the private key never leaves the token.
type p11Key struct {
	tok         *pkcs11tok.Token
	uri         *pkcs11URI
	prompt      PassphraseFunc
	typ         Type
	pub         crypto.PublicKey
	extractable bool
}

func openPKCS11(u *pkcs11URI, prompt PassphraseFunc) (*p11Key, error) {
	var k *p11Key
	err := pkcs11tok.Do(u, prompt, func(t *pkcs11tok.Token) (err error) {
		k, err = readKey(t, u, prompt)
		return err
	})
	return k, err
}

// readKey reads the public key of the URI's key pair and checks that its
// private key is there. The caller holds t.Mu.
func readKey(t *pkcs11tok.Token, u *pkcs11URI, prompt PassphraseFunc) (*p11Key, error) {
	pair, err := t.FindPair(u)
	if err != nil {
		return nil, err
	}
	typ, pub, err := parseP11Public(pair.KeyType, pair.ECParams, pair.ECPoint)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u.Describe(), err)
	}
	k := &p11Key{tok: t, uri: u, prompt: prompt, typ: typ, pub: pub}
	if pa, err := t.Ctx.GetAttributeValue(t.Session, pair.Private, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
	}); err == nil {
		k.extractable = pkcs11tok.AttrTrue(pa[0].Value) || !pkcs11tok.AttrTrue(pa[1].Value)
	} else {
		k.extractable = true // cannot tell: assume the worst
	}
	return k, nil
}

// parseP11Public turns CKA_KEY_TYPE, CKA_EC_PARAMS and CKA_EC_POINT into a
// public key.
func parseP11Public(kt uint, params, point []byte) (Type, crypto.PublicKey, error) {
	raw := pkcs11tok.ECPoint(point)
	var oid asn1.ObjectIdentifier
	_, oidErr := asn1.Unmarshal(params, &oid)
	switch {
	case kt == ckkECEdwards:
		if oidErr == nil && !oid.Equal(oidEd25519) {
			return "", nil, fmt.Errorf("EdDSA key on curve %v: only Ed25519 is supported", oid)
		}
		if oidErr != nil {
			// Older tokens name the curve with a PrintableString.
			var name string
			if _, err := asn1.Unmarshal(params, &name); err != nil || name != "edwards25519" {
				return "", nil, errors.New("EdDSA key with unknown curve parameters")
			}
		}
		if len(raw) != ed25519.PublicKeySize {
			return "", nil, fmt.Errorf("Ed25519 public key is %d bytes", len(raw))
		}
		return Ed25519, ed25519.PublicKey(bytes.Clone(raw)), nil
	case kt == pkcs11.CKK_EC:
		if oidErr != nil || !oid.Equal(oidP256) {
			return "", nil, errors.New("ECDSA key not on curve P-256: only P-256 is supported")
		}
		pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return "", nil, fmt.Errorf("ECDSA public key: %v", err)
		}
		return ECDSAP256, pk, nil
	}
	return "", nil, fmt.Errorf("key type 0x%x is not supported (want EC P-256 or Ed25519)", kt)
}

func generatePKCS11(u *pkcs11URI, typ Type, prompt PassphraseFunc) (*p11Key, error) {
	var mech *pkcs11.Mechanism
	var oid asn1.ObjectIdentifier
	var kt uint
	switch typ {
	case Ed25519:
		mech, oid, kt = pkcs11.NewMechanism(ckmECEdwardsKeyPairGen, nil), oidEd25519, ckkECEdwards
	case ECDSAP256:
		mech, oid, kt = pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil), oidP256, pkcs11.CKK_EC
	default:
		return nil, fmt.Errorf("cannot generate a %q key in a PKCS#11 token (want ed25519 or ecdsa-p256)", typ)
	}
	params, err := asn1.Marshal(oid)
	if err != nil {
		return nil, err
	}
	var k *p11Key
	err = pkcs11tok.Do(u, prompt, func(t *pkcs11tok.Token) (err error) {
		k, err = generate(t, u, mech, params, kt, prompt)
		return err
	})
	return k, err
}

// generate makes the key pair in the token. The caller holds t.Mu.
func generate(t *pkcs11tok.Token, u *pkcs11URI, mech *pkcs11.Mechanism, params []byte, kt uint, prompt PassphraseFunc) (*p11Key, error) {
	if err := t.RefuseExisting(u); err != nil {
		return nil, err
	}
	gen, err := t.GenerateKeyPair(u, mech,
		[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, kt)},
		[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params)},
		[]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_SIGN, true)})
	if err != nil {
		return nil, err
	}
	// Read the new pair by its ID too, so a same-named object elsewhere
	// cannot interfere.
	k, err := readKey(t, gen, prompt)
	if err != nil {
		return nil, err
	}
	k.uri = u
	return k, nil
}

// sign runs mechanism mech over data with the private key.
func (k *p11Key) sign(mech uint, data []byte) ([]byte, error) {
	t := k.tok
	t.Mu.Lock()
	defer t.Mu.Unlock()
	if err := t.Login(k.uri, k.prompt); err != nil {
		return nil, err
	}
	priv, err := t.FindOne(k.uri, pkcs11.CKO_PRIVATE_KEY, "private")
	if err != nil {
		return nil, err
	}
	if err := t.Ctx.SignInit(t.Session, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, priv); err != nil {
		return nil, fmt.Errorf("%s: C_SignInit: %w", k.uri.Describe(), err)
	}
	sig, err := t.Ctx.Sign(t.Session, data)
	if err != nil {
		return nil, fmt.Errorf("%s: C_Sign: %w", k.uri.Describe(), err)
	}
	return sig, nil
}

// Public implements crypto.Signer.
func (k *p11Key) Public() crypto.PublicKey { return k.pub }

// Sign implements crypto.Signer: for Ed25519, digest is the message itself
// (opts.HashFunc() == 0); for ECDSA, a SHA-256 digest, and the signature is
// ASN.1 DER as crypto/ecdsa makes it.
func (k *p11Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	switch k.typ {
	case Ed25519:
		if opts != nil && opts.HashFunc() != 0 {
			return nil, errors.New("Ed25519 PKCS#11 keys sign the message itself (pure EdDSA), not a digest")
		}
		if o, ok := opts.(*ed25519.Options); ok && o.Context != "" {
			return nil, errors.New("Ed25519 contexts are not supported")
		}
		return k.sign(ckmEdDSA, digest)
	case ECDSAP256:
		if opts == nil || opts.HashFunc() != crypto.SHA256 || len(digest) != sha256.Size {
			return nil, errors.New("ECDSA P-256 PKCS#11 keys sign SHA-256 digests")
		}
		raw, err := k.sign(pkcs11.CKM_ECDSA, digest)
		if err != nil {
			return nil, err
		}
		return ecdsaRawToDER(raw)
	}
	return nil, fmt.Errorf("unsupported key type %s", k.typ)
}

// ecdsaRawToDER converts PKCS#11's r||s to the ASN.1 DER form that
// sigstore and go-tuf verify.
func ecdsaRawToDER(raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 {
		return nil, fmt.Errorf("PKCS#11 ECDSA signature of %d bytes", len(raw))
	}
	n := len(raw) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])})
}

// PublicKey implements signature.Signer.
func (k *p11Key) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return k.pub, nil
}

// SignMessage implements signature.Signer, the interface go-tuf signs
// metadata with.
func (k *p11Key) SignMessage(message io.Reader, _ ...signature.SignOption) ([]byte, error) {
	msg, err := io.ReadAll(message)
	if err != nil {
		return nil, err
	}
	if k.typ == Ed25519 {
		return k.Sign(nil, msg, crypto.Hash(0))
	}
	sum := sha256.Sum256(msg)
	return k.Sign(nil, sum[:], crypto.SHA256)
}
