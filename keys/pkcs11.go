//go:build cgo

package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"sync"

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
	oidP256    = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
)

// Modules are loaded and initialized once per process, and each token
// keeps one logged-in session for the life of the process: logging in is
// per application in PKCS#11, and a second C_Initialize of one module
// fails. Every call on a token's session holds the token's lock.
var p11 struct {
	mu      sync.Mutex
	modules map[string]*pkcs11.Ctx
	tokens  map[string]*p11Token // by module path and slot ID
}

type p11Token struct {
	mu      sync.Mutex
	ctx     *pkcs11.Ctx
	slot    uint
	label   string
	session pkcs11.SessionHandle
	open    bool
	closed  bool // ClosePKCS11 finalized the module
}

// ClosePKCS11 logs out of every PKCS#11 token this process opened, closes
// their sessions and finalizes and unloads their modules. Keys opened
// before can no longer sign; opening a key again loads the module again
// (which then reads its configuration anew, as SoftHSM2 does
// SOFTHSM2_CONF). A command need not call it: the tokens are released when
// the process exits.
func ClosePKCS11() error {
	p11.mu.Lock()
	defer p11.mu.Unlock()
	for _, t := range p11.tokens {
		t.mu.Lock()
		if t.open {
			t.ctx.Logout(t.session)
			t.ctx.CloseSession(t.session)
			t.open = false
		}
		t.closed = true
		t.mu.Unlock()
	}
	var errs []error
	for path, c := range p11.modules {
		if err := c.Finalize(); err != nil {
			errs = append(errs, fmt.Errorf("PKCS#11 module %s: C_Finalize: %w", path, err))
		}
		c.Destroy()
	}
	p11.modules, p11.tokens = nil, nil
	return errors.Join(errs...)
}

func loadModule(path string) (*pkcs11.Ctx, error) {
	p11.mu.Lock()
	defer p11.mu.Unlock()
	if c, ok := p11.modules[path]; ok {
		return c, nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("PKCS#11 module: %w", err)
	}
	c := pkcs11.New(path)
	if c == nil {
		return nil, fmt.Errorf("cannot load PKCS#11 module %s", path)
	}
	if err := c.Initialize(); err != nil && !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		c.Destroy()
		return nil, fmt.Errorf("PKCS#11 module %s: C_Initialize: %w", path, err)
	}
	if p11.modules == nil {
		p11.modules = map[string]*pkcs11.Ctx{}
		p11.tokens = map[string]*p11Token{}
	}
	p11.modules[path] = c
	return c, nil
}

func isCKR(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

func trimLabel(s string) string { return strings.TrimRight(s, " \x00") }

// findToken returns the one token that matches the URI.
func findToken(u *pkcs11URI) (*p11Token, error) {
	path, err := u.module()
	if err != nil {
		return nil, err
	}
	ctx, err := loadModule(path)
	if err != nil {
		return nil, err
	}
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 C_GetSlotList: %w", err)
	}
	var match []uint
	var label string
	for _, s := range slots {
		if u.slotID != nil && *u.slotID != s {
			continue
		}
		ti, err := ctx.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if (u.token != "" && trimLabel(ti.Label) != u.token) ||
			(u.serial != "" && trimLabel(ti.SerialNumber) != u.serial) ||
			(u.manufacturer != "" && trimLabel(ti.ManufacturerID) != u.manufacturer) ||
			(u.model != "" && trimLabel(ti.Model) != u.model) {
			continue
		}
		match = append(match, s)
		label = trimLabel(ti.Label)
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%s: no such token in module %s", u.describe(), path)
	case 1:
	default:
		return nil, fmt.Errorf("%s: %d tokens match; add serial= to the reference", u.describe(), len(match))
	}
	p11.mu.Lock()
	defer p11.mu.Unlock()
	key := fmt.Sprintf("%s\x00%d", path, match[0])
	t := p11.tokens[key]
	if t == nil {
		t = &p11Token{ctx: ctx, slot: match[0], label: label}
		p11.tokens[key] = t
	}
	return t, nil
}

// login opens the token's session if needed and logs the user in unless
// already logged in. The caller holds t.mu.
func (t *p11Token) login(u *pkcs11URI, prompt PassphraseFunc) error {
	if t.closed {
		return fmt.Errorf("PKCS#11 token %q: the module was closed (ClosePKCS11)", t.label)
	}
	if t.open {
		if info, err := t.ctx.GetSessionInfo(t.session); err == nil {
			if info.State == pkcs11.CKS_RW_USER_FUNCTIONS || info.State == pkcs11.CKS_RO_USER_FUNCTIONS {
				return nil
			}
		} else {
			t.ctx.CloseSession(t.session)
			t.open = false
		}
	}
	if !t.open {
		s, err := t.ctx.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return fmt.Errorf("PKCS#11 token %q: C_OpenSession: %w", t.label, err)
		}
		t.session, t.open = s, true
	}
	pin, err := u.pin(prompt, t.label)
	if err != nil {
		return err
	}
	if err := t.ctx.Login(t.session, pkcs11.CKU_USER, pin); err != nil && !isCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		if isCKR(err, pkcs11.CKR_PIN_INCORRECT) {
			return fmt.Errorf("PKCS#11 token %q: wrong PIN", t.label)
		}
		return fmt.Errorf("PKCS#11 token %q: C_Login: %w", t.label, err)
	}
	return nil
}

// find returns the handles of the objects of class that the URI names.
// The caller holds t.mu.
func (t *p11Token) find(u *pkcs11URI, class uint) ([]pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, class)}
	if u.object != "" {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, u.object))
	}
	if u.id != nil {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, u.id))
	}
	if err := t.ctx.FindObjectsInit(t.session, tmpl); err != nil {
		return nil, fmt.Errorf("PKCS#11 C_FindObjectsInit: %w", err)
	}
	hs, _, err := t.ctx.FindObjects(t.session, 2)
	if ferr := t.ctx.FindObjectsFinal(t.session); err == nil {
		err = ferr
	}
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 C_FindObjects: %w", err)
	}
	return hs, nil
}

// findOne is find for exactly one object.
func (t *p11Token) findOne(u *pkcs11URI, class uint, what string) (pkcs11.ObjectHandle, error) {
	hs, err := t.find(u, class)
	if err != nil {
		return 0, err
	}
	switch len(hs) {
	case 0:
		return 0, fmt.Errorf("%s: no %s key object", u.describe(), what)
	case 1:
		return hs[0], nil
	}
	return 0, fmt.Errorf("%s: more than one %s key object matches; add id= to the reference", u.describe(), what)
}

// p11Key is a key pair in a PKCS#11 token. It is a crypto.Signer and a
// sigstore signature.Signer; the private key never leaves the token.
type p11Key struct {
	tok         *p11Token
	uri         *pkcs11URI
	prompt      PassphraseFunc
	typ         Type
	pub         crypto.PublicKey
	extractable bool
}

func openPKCS11(u *pkcs11URI, prompt PassphraseFunc) (*p11Key, error) {
	t, err := findToken(u)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.login(u, prompt); err != nil {
		return nil, err
	}
	return t.readKey(u, prompt)
}

// readKey reads the public key of the URI's key pair and checks that its
// private key is there. The caller holds t.mu.
func (t *p11Token) readKey(u *pkcs11URI, prompt PassphraseFunc) (*p11Key, error) {
	priv, err := t.findOne(u, pkcs11.CKO_PRIVATE_KEY, "private")
	if err != nil {
		return nil, err
	}
	pubH, err := t.findOne(u, pkcs11.CKO_PUBLIC_KEY, "public")
	if err != nil {
		return nil, err
	}
	attrs, err := t.ctx.GetAttributeValue(t.session, pubH, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: reading the public key: %w", u.describe(), err)
	}
	typ, pub, err := parseP11Public(attrs[0].Value, attrs[1].Value, attrs[2].Value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u.describe(), err)
	}
	k := &p11Key{tok: t, uri: u, prompt: prompt, typ: typ, pub: pub}
	if pa, err := t.ctx.GetAttributeValue(t.session, priv, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
	}); err == nil {
		k.extractable = attrTrue(pa[0].Value) || !attrTrue(pa[1].Value)
	} else {
		k.extractable = true // cannot tell: assume the worst
	}
	return k, nil
}

func attrTrue(v []byte) bool { return len(v) > 0 && v[0] != 0 }

func attrULong(v []byte) (uint, bool) {
	// CK_ULONG in the host's byte order and size.
	switch len(v) {
	case 4:
		return uint(binary.NativeEndian.Uint32(v)), true
	case 8:
		return uint(binary.NativeEndian.Uint64(v)), true
	}
	return 0, false
}

// parseP11Public turns CKA_KEY_TYPE, CKA_EC_PARAMS and CKA_EC_POINT into a
// public key.
func parseP11Public(keyType, params, point []byte) (Type, crypto.PublicKey, error) {
	kt, ok := attrULong(keyType)
	if !ok {
		return "", nil, errors.New("public key has no CKA_KEY_TYPE")
	}
	// CKA_EC_POINT is a DER OCTET STRING; some tokens give the bare point.
	raw := point
	var inner []byte
	if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
		raw = inner
	}
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
	t, err := findToken(u)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.login(u, prompt); err != nil {
		return nil, err
	}
	for _, class := range []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY} {
		hs, err := t.find(u, class)
		if err != nil {
			return nil, err
		}
		if len(hs) > 0 {
			return nil, fmt.Errorf("%s already exists: refusing to generate another", u.describe())
		}
	}
	id := u.id
	if id == nil {
		id = make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return nil, err
		}
	}
	common := func() []*pkcs11.Attribute {
		a := []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, kt),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		}
		if u.object != "" {
			a = append(a, pkcs11.NewAttribute(pkcs11.CKA_LABEL, u.object))
		}
		return a
	}
	pubT := append(common(),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
	)
	privT := append(common(),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	)
	if _, _, err := t.ctx.GenerateKeyPair(t.session, []*pkcs11.Mechanism{mech}, pubT, privT); err != nil {
		return nil, fmt.Errorf("%s: C_GenerateKeyPair: %w", u.describe(), err)
	}
	gen := *u
	gen.id = id // find the new pair by the ID too, so a same-named object elsewhere cannot interfere
	k, err := t.readKey(&gen, prompt)
	if err != nil {
		return nil, err
	}
	k.uri = u
	return k, nil
}

// sign runs mechanism mech over data with the private key.
func (k *p11Key) sign(mech uint, data []byte) ([]byte, error) {
	t := k.tok
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.login(k.uri, k.prompt); err != nil {
		return nil, err
	}
	priv, err := t.findOne(k.uri, pkcs11.CKO_PRIVATE_KEY, "private")
	if err != nil {
		return nil, err
	}
	if err := t.ctx.SignInit(t.session, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, priv); err != nil {
		return nil, fmt.Errorf("%s: C_SignInit: %w", k.uri.describe(), err)
	}
	sig, err := t.ctx.Sign(t.session, data)
	if err != nil {
		return nil, fmt.Errorf("%s: C_Sign: %w", k.uri.describe(), err)
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
