//go:build cgo

package pkcs11tok

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// Supported: this build can load PKCS#11 modules (a cgo build;
// nocgo.go has the other value).
const Supported = true

// Modules are loaded and initialized once per process, and each token
// keeps one logged-in session for the life of the process: logging in is
// per application in PKCS#11, and a second C_Initialize of one module
// fails. Every call on a token's session holds the token's lock.
var p11 struct {
	mu      sync.Mutex
	modules map[string]*pkcs11.Ctx
	tokens  map[string]*Token // by module path and slot ID
}

// Token is one token of a loaded module, with this process's session on
// it. Callers hold Mu around every use of Ctx and Session (Do does).
type Token struct {
	Mu      sync.Mutex
	Ctx     *pkcs11.Ctx
	Slot    uint
	Label   string
	Session pkcs11.SessionHandle
	open    bool
	closed  bool // Close finalized the module
}

// Close logs out of every PKCS#11 token this process opened, closes
// their sessions and finalizes and unloads their modules. Keys opened
// before can no longer be used; opening a key again loads the module again
// (which then reads its configuration anew, as SoftHSM2 does
// SOFTHSM2_CONF). A command need not call it: the tokens are released when
// the process exits.
func Close() error {
	p11.mu.Lock()
	defer p11.mu.Unlock()
	for _, t := range p11.tokens {
		t.Mu.Lock()
		if t.open {
			t.Ctx.Logout(t.Session)
			t.Ctx.CloseSession(t.Session)
			t.open = false
		}
		t.closed = true
		t.Mu.Unlock()
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
	if err := c.Initialize(); err != nil && !IsCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		c.Destroy()
		return nil, fmt.Errorf("PKCS#11 module %s: C_Initialize: %w", path, err)
	}
	if p11.modules == nil {
		p11.modules = map[string]*pkcs11.Ctx{}
		p11.tokens = map[string]*Token{}
	}
	p11.modules[path] = c
	return c, nil
}

// IsCKR reports whether err is the PKCS#11 return value code.
func IsCKR(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

func trimLabel(s string) string { return strings.TrimRight(s, " \x00") }

// FindToken returns the one token that matches the URI, loading its
// module if needed.
func FindToken(u *URI) (*Token, error) {
	path, err := u.Module()
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
		if u.SlotID != nil && *u.SlotID != s {
			continue
		}
		ti, err := ctx.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if (u.Token != "" && trimLabel(ti.Label) != u.Token) ||
			(u.Serial != "" && trimLabel(ti.SerialNumber) != u.Serial) ||
			(u.Manufacturer != "" && trimLabel(ti.ManufacturerID) != u.Manufacturer) ||
			(u.Model != "" && trimLabel(ti.Model) != u.Model) {
			continue
		}
		match = append(match, s)
		label = trimLabel(ti.Label)
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%s: no such token in module %s", u.Describe(), path)
	case 1:
	default:
		return nil, fmt.Errorf("%s: %d tokens match; add serial= to the reference", u.Describe(), len(match))
	}
	p11.mu.Lock()
	defer p11.mu.Unlock()
	key := fmt.Sprintf("%s\x00%d", path, match[0])
	t := p11.tokens[key]
	if t == nil {
		t = &Token{Ctx: ctx, Slot: match[0], Label: label}
		p11.tokens[key] = t
	}
	return t, nil
}

// Do finds the URI's token, locks it, logs in (the PIN from the URI's
// pin-source, PINEnv or prompt) and runs fn.
func Do(u *URI, prompt PromptFunc, fn func(*Token) error) error {
	t, err := FindToken(u)
	if err != nil {
		return err
	}
	t.Mu.Lock()
	defer t.Mu.Unlock()
	if err := t.Login(u, prompt); err != nil {
		return err
	}
	return fn(t)
}

// Login opens the token's session if needed and logs the user in unless
// already logged in. The caller holds t.Mu.
func (t *Token) Login(u *URI, prompt PromptFunc) error {
	if t.closed {
		return fmt.Errorf("PKCS#11 token %q: the module was closed", t.Label)
	}
	if t.open {
		if info, err := t.Ctx.GetSessionInfo(t.Session); err == nil {
			if info.State == pkcs11.CKS_RW_USER_FUNCTIONS || info.State == pkcs11.CKS_RO_USER_FUNCTIONS {
				return nil
			}
		} else {
			t.Ctx.CloseSession(t.Session)
			t.open = false
		}
	}
	if !t.open {
		s, err := t.Ctx.OpenSession(t.Slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return fmt.Errorf("PKCS#11 token %q: C_OpenSession: %w", t.Label, err)
		}
		t.Session, t.open = s, true
	}
	pin, err := u.PIN(prompt, t.Label)
	if err != nil {
		return err
	}
	if err := t.Ctx.Login(t.Session, pkcs11.CKU_USER, pin); err != nil && !IsCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		if IsCKR(err, pkcs11.CKR_PIN_INCORRECT) {
			return fmt.Errorf("PKCS#11 token %q: wrong PIN", t.Label)
		}
		return fmt.Errorf("PKCS#11 token %q: C_Login: %w", t.Label, err)
	}
	return nil
}

// Find returns the handles of the objects of class that the URI names
// (two at most: enough to tell one from several). The caller holds t.Mu.
func (t *Token) Find(u *URI, class uint) ([]pkcs11.ObjectHandle, error) {
	tmpl := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, class)}
	if u.Object != "" {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_LABEL, u.Object))
	}
	if u.ID != nil {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_ID, u.ID))
	}
	if err := t.Ctx.FindObjectsInit(t.Session, tmpl); err != nil {
		return nil, fmt.Errorf("PKCS#11 C_FindObjectsInit: %w", err)
	}
	hs, _, err := t.Ctx.FindObjects(t.Session, 2)
	if ferr := t.Ctx.FindObjectsFinal(t.Session); err == nil {
		err = ferr
	}
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 C_FindObjects: %w", err)
	}
	return hs, nil
}

// FindOne is Find for exactly one object; what names the class in
// messages ("private", "public"). The caller holds t.Mu.
func (t *Token) FindOne(u *URI, class uint, what string) (pkcs11.ObjectHandle, error) {
	hs, err := t.Find(u, class)
	if err != nil {
		return 0, err
	}
	switch len(hs) {
	case 0:
		return 0, fmt.Errorf("%s: no %s key object", u.Describe(), what)
	case 1:
		return hs[0], nil
	}
	return 0, fmt.Errorf("%s: more than one %s key object matches; add id= to the reference", u.Describe(), what)
}

// RefuseExisting fails if a private or public key object that the URI
// names exists: key generation never adds a second pair under one name.
// The caller holds t.Mu.
func (t *Token) RefuseExisting(u *URI) error {
	for _, class := range []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY} {
		hs, err := t.Find(u, class)
		if err != nil {
			return err
		}
		if len(hs) > 0 {
			return fmt.Errorf("%s already exists: refusing to generate another", u.Describe())
		}
	}
	return nil
}

// AttrTrue reads a CK_BBOOL attribute value.
func AttrTrue(v []byte) bool { return len(v) > 0 && v[0] != 0 }

// AttrULong reads a CK_ULONG attribute value (the host's byte order and
// size).
func AttrULong(v []byte) (uint, bool) {
	switch len(v) {
	case 4:
		return uint(binary.NativeEndian.Uint32(v)), true
	case 8:
		return uint(binary.NativeEndian.Uint64(v)), true
	}
	return 0, false
}

// GenerateKeyPair generates a key pair with mech in the token: both
// objects kept on the token (CKA_TOKEN), labelled and identified as the
// URI says (a random 16-byte CKA_ID when it names none), with the
// attributes common to both, pub for the public key (which is not
// CKA_PRIVATE) and priv for the private key, which is CKA_PRIVATE,
// CKA_SENSITIVE and not CKA_EXTRACTABLE: it never leaves the token. It
// returns the URI with the new pair's ID, which names it whatever else
// carries its label. The caller holds t.Mu.
func (t *Token) GenerateKeyPair(u *URI, mech *pkcs11.Mechanism, common, pub, priv []*pkcs11.Attribute) (*URI, error) {
	id := u.ID
	if id == nil {
		id = make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return nil, err
		}
	}
	both := func(extra ...*pkcs11.Attribute) []*pkcs11.Attribute {
		a := []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		}
		if u.Object != "" {
			a = append(a, pkcs11.NewAttribute(pkcs11.CKA_LABEL, u.Object))
		}
		return append(append(a, common...), extra...)
	}
	pubT := both(append([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false)}, pub...)...)
	privT := both(append([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	}, priv...)...)
	if _, _, err := t.Ctx.GenerateKeyPair(t.Session, []*pkcs11.Mechanism{mech}, pubT, privT); err != nil {
		return nil, fmt.Errorf("%s: C_GenerateKeyPair: %w", u.Describe(), err)
	}
	gen := *u
	gen.ID = id
	return &gen, nil
}

// Pair is the key pair a URI names: its private key's handle and its
// public key's type, curve parameters and point (CKA_EC_POINT as the
// token gives it: ECPoint unwraps it).
type Pair struct {
	Private           pkcs11.ObjectHandle
	KeyType           uint
	ECParams, ECPoint []byte
}

// FindPair finds the one private and one public key object the URI names
// and reads the public key. The caller holds t.Mu.
func (t *Token) FindPair(u *URI) (*Pair, error) {
	priv, err := t.FindOne(u, pkcs11.CKO_PRIVATE_KEY, "private")
	if err != nil {
		return nil, err
	}
	pub, err := t.FindOne(u, pkcs11.CKO_PUBLIC_KEY, "public")
	if err != nil {
		return nil, err
	}
	attrs, err := t.Ctx.GetAttributeValue(t.Session, pub, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("%s: reading the public key: %w", u.Describe(), err)
	}
	kt, ok := AttrULong(attrs[0].Value)
	if !ok {
		return nil, fmt.Errorf("%s: the public key has no CKA_KEY_TYPE", u.Describe())
	}
	return &Pair{Private: priv, KeyType: kt, ECParams: attrs[1].Value, ECPoint: attrs[2].Value}, nil
}
