package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/pkcs11tok"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// A key reference names a private key that this package does not hold
// itself: a key in a PKCS#11 token, a key in a cloud KMS, or an encrypted
// key file somewhere else. It is stored in the key directory as NAME.ref
// (the reference string, which never holds a secret) beside NAME.pub (the
// key's TUF public key object, read from the backend when the reference
// was added). Dir.Signer finds a key by the ID of NAME.pub and, when a
// NAME.ref exists, signs through the backend instead of decrypting
// NAME.key; so every command that signs works with every backend.
//
// Reference syntax:
//
//	file:PATH        an encrypted key file (NAME.key is the default, with no
//	                 reference); a relative PATH is relative to the key
//	                 directory, and ".key" is appended when PATH has no
//	                 extension
//	pkcs11:...       an RFC 7512 PKCS#11 URI, see pkcs11tok.URI
//	awskms://...     an AWS KMS key through sigstore's KMS signer, see
//	                 sigstore's aws package for the forms

// RefSuffix is the extension of key reference files.
const RefSuffix = ".ref"

// Backends of key references.
const (
	BackendFile   = "file"
	BackendPKCS11 = "pkcs11"
	BackendAWSKMS = "awskms"
)

// PINEnv is the environment variable a PKCS#11 user PIN is read from when
// the reference has no pin-source.
const PINEnv = pkcs11tok.PINEnv

// ModuleEnv names the PKCS#11 module when a reference has no module-path.
const ModuleEnv = pkcs11tok.ModuleEnv

// pkcs11URI is a parsed RFC 7512 PKCS#11 URI (pkcs11tok.Parse).
type pkcs11URI = pkcs11tok.URI

func parsePKCS11URI(s string) (*pkcs11URI, error) { return pkcs11tok.Parse(s) }

// maxRefSize bounds what a NAME.ref file may hold.
const maxRefSize = 4 << 10

// kmsTimeout bounds each call to a KMS.
const kmsTimeout = time.Minute

// Ref is a parsed key reference.
type Ref struct {
	Backend string // BackendFile, BackendPKCS11 or BackendAWSKMS
	Raw     string // the reference as written

	file   string     // BackendFile: the path after "file:"
	pkcs11 *pkcs11URI // BackendPKCS11
}

// ParseRef checks a key reference's syntax. It refuses references that
// carry a secret (a PKCS#11 pin-value): a reference is stored in the
// clear.
func ParseRef(s string) (*Ref, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty key reference")
	}
	if strings.ContainsAny(s, "\n\r\x00") {
		return nil, errors.New("key reference spans lines")
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("key reference %q has no scheme (want file:, pkcs11: or awskms://)", s)
	}
	r := &Ref{Raw: s}
	switch strings.ToLower(scheme) {
	case "file":
		if rest == "" {
			return nil, errors.New("file: reference names no file")
		}
		r.Backend, r.file = BackendFile, rest
	case "pkcs11":
		u, err := parsePKCS11URI(s)
		if err != nil {
			return nil, err
		}
		r.Backend, r.pkcs11 = BackendPKCS11, u
	case "awskms":
		if err := checkAWSKMSRef(s); err != nil {
			return nil, err
		}
		r.Backend = BackendAWSKMS
	case "gcpkms", "azurekms", "hashivault":
		return nil, fmt.Errorf("key reference %q: %s keys are not built into this mrepo (supported: file:, pkcs11:, awskms://)", s, scheme)
	default:
		return nil, fmt.Errorf("key reference %q: unknown scheme %q (supported: file:, pkcs11:, awskms://)", s, scheme)
	}
	return r, nil
}

// String returns the reference as written.
func (r *Ref) String() string { return r.Raw }

// RefKey is a key opened through its reference: a signer whose private key
// stays in its backend.
type RefKey struct {
	Ref    *Ref
	Public *metadata.Key
	signer signature.Signer
	// Extractable is set for PKCS#11 keys: whether the token lets the
	// private key leave it (CKA_EXTRACTABLE true or CKA_SENSITIVE false).
	Extractable *bool
}

// ID is the key's TUF key ID.
func (k *RefKey) ID() string {
	id, _ := k.Public.ID()
	return id
}

// Signer returns the key's signer for TUF metadata.
func (k *RefKey) Signer() signature.Signer { return k.signer }

// RefOptions tell OpenRef where secrets come from and where relative
// file references start.
type RefOptions struct {
	FS  afero.Fs
	Dir string // the key directory
	// Passphrase opens a file: reference's key file.
	Passphrase PassphraseFunc
	// PIN asks for a PKCS#11 user PIN when the reference has no
	// pin-source and PINEnv is not set (a terminal prompt); nil: no prompt.
	PIN PassphraseFunc
	// Generate creates the key in the backend (PKCS#11 or KMS) with this
	// type instead of opening an existing one; the key must not exist.
	Generate Type

	// decrypt, when set, opens a file: reference's key file instead of
	// asking Passphrase (a Dir tries the passphrases it already knows).
	decrypt func(*File) (*Key, error)
}

// OpenRef connects to a reference's backend, reads the public key (never
// the private key) and returns a signer for it.
func OpenRef(ref *Ref, opts RefOptions) (*RefKey, error) {
	if opts.FS == nil {
		opts.FS = afero.NewOsFs()
	}
	var (
		s   signature.Signer
		ext *bool
		err error
	)
	switch ref.Backend {
	case BackendFile:
		if opts.Generate != "" {
			return nil, errors.New("file: references cannot generate keys (use mrepo init or keygen)")
		}
		s, err = openFileRef(ref, opts)
	case BackendPKCS11:
		var k *p11Key
		if opts.Generate != "" {
			k, err = generatePKCS11(ref.pkcs11, opts.Generate, opts.PIN)
		} else {
			k, err = openPKCS11(ref.pkcs11, opts.PIN)
		}
		if err == nil {
			s = k
			x := k.extractable
			ext = &x
		}
	case BackendAWSKMS:
		s, err = openAWSKMS(ref.Raw, opts.Generate)
	default:
		err = fmt.Errorf("unknown key backend %q", ref.Backend)
	}
	if err != nil {
		return nil, err
	}
	pub, err := s.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the public key: %w", ref.Raw, err)
	}
	if err := checkRefPublic(pub); err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Raw, err)
	}
	tk, err := metadata.KeyFromPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.Raw, err)
	}
	return &RefKey{Ref: ref, Public: tk, signer: s, Extractable: ext}, nil
}

// checkRefPublic accepts the key types that TUF metadata signed here may
// carry: Ed25519 and ECDSA P-256.
func checkRefPublic(pub crypto.PublicKey) error {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if len(p) == ed25519.PublicKeySize {
			return nil
		}
	case *ecdsa.PublicKey:
		if p.Curve == elliptic.P256() {
			return nil
		}
		return fmt.Errorf("ECDSA key on curve %s: only P-256 is supported", p.Curve.Params().Name)
	}
	return fmt.Errorf("unsupported key type %T (want Ed25519 or ECDSA P-256)", pub)
}

// openFileRef decrypts the key file a file: reference names.
func openFileRef(ref *Ref, opts RefOptions) (signature.Signer, error) {
	p := ref.file
	if !filepath.IsAbs(p) {
		p = filepath.Join(opts.Dir, p)
	}
	if filepath.Ext(p) == "" {
		p += KeySuffix
	}
	f, err := readKeyFile(opts.FS, p)
	if err != nil {
		return nil, err
	}
	var k *Key
	switch {
	case opts.decrypt != nil:
		k, err = opts.decrypt(f)
	case opts.Passphrase != nil:
		var pass []byte
		if pass, err = opts.Passphrase(fmt.Sprintf("key %s (%s)", f.Name, ShortID(f.KeyID)), false); err == nil {
			k, err = f.Decrypt(pass)
		}
	default:
		return &filePublic{f: f}, nil
	}
	if err != nil {
		return nil, err
	}
	return k.Signer()
}

// filePublic is a file: reference opened without a passphrase: it knows
// the public key (enough to register the reference) but cannot sign.
type filePublic struct{ f *File }

func (p *filePublic) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return p.f.Public.ToPublicKey()
}

func (p *filePublic) SignMessage(io.Reader, ...signature.SignOption) ([]byte, error) {
	return nil, fmt.Errorf("key %s: no passphrase source", p.f.Name)
}

// RefInfo describes one NAME.ref of a key directory.
type RefInfo struct {
	Name    string `json:"name"`
	Ref     string `json:"ref"`
	Backend string `json:"backend"`
	KeyID   string `json:"keyid"`
	KeyType string `json:"keytype"`
	Scheme  string `json:"scheme"`
}

// Refs lists the key references of the directory, sorted by name. A
// reference without a readable NAME.pub is an error.
func (d *Dir) Refs() ([]RefInfo, error) {
	if err := d.checkDir(); err != nil {
		return nil, err
	}
	entries, err := afero.ReadDir(d.FS, d.Path)
	if err != nil {
		return nil, err
	}
	var out []RefInfo
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), RefSuffix)
		if e.IsDir() || !ok || name == "" || atomicfs.IsTemp(e.Name()) {
			continue
		}
		ref, pub, err := d.readRef(name)
		if err != nil {
			return nil, err
		}
		id, err := pub.ID()
		if err != nil {
			return nil, err
		}
		out = append(out, RefInfo{Name: name, Ref: ref.Raw, Backend: ref.Backend, KeyID: id, KeyType: pub.Type, Scheme: pub.Scheme})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// readRef reads NAME.ref and NAME.pub, each only if group and others
// cannot write it: a reference decides which backend (and which PKCS#11
// module, a shared library) mrepo loads.
func (d *Dir) readRef(name string) (*Ref, *metadata.Key, error) {
	p := filepath.Join(d.Path, name+RefSuffix)
	if err := checkTrusted(d.FS, p, "key reference"); err != nil {
		return nil, nil, err
	}
	data, err := readSmall(d.FS, p, maxRefSize)
	if err != nil {
		return nil, nil, err
	}
	ref, err := ParseRef(string(data))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	pp := filepath.Join(d.Path, name+PubSuffix)
	if err := checkTrusted(d.FS, pp, "public key"); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("key reference %s has no public key: %w", p, err)
		}
		return nil, nil, err
	}
	data, err = readSmall(d.FS, pp, maxKeyFileSize)
	if err != nil {
		return nil, nil, fmt.Errorf("key reference %s has no public key: %w", p, err)
	}
	pub, err := ParsePublic(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", pp, err)
	}
	return ref, pub, nil
}

// readSmall reads a file of at most limit bytes, never more than limit+1
// bytes of it (a size from Stat says nothing of a FIFO or a growing file).
func readSmall(fs afero.Fs, name string, limit int64) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return data, nil
}

// refSigner returns a signer for keyID if a NAME.ref of the directory
// holds it; found is false when none does.
func (d *Dir) refSigner(keyID string) (s signature.Signer, found bool, err error) {
	if _, err := d.FS.Stat(d.Path); errors.Is(err, os.ErrNotExist) {
		return nil, false, nil // Load reports the missing directory
	}
	refs, err := d.Refs()
	if err != nil {
		return nil, true, err
	}
	for _, ri := range refs {
		if ri.KeyID != keyID {
			continue
		}
		ref, _, err := d.readRef(ri.Name)
		if err != nil {
			return nil, true, err
		}
		k, err := OpenRef(ref, RefOptions{FS: d.FS, Dir: d.Path, Passphrase: d.Passphrase, PIN: d.PIN, decrypt: d.decrypt})
		if err != nil {
			return nil, true, fmt.Errorf("key %s (%s): %w", ri.Name, ShortID(keyID), err)
		}
		if k.ID() != keyID {
			return nil, true, fmt.Errorf("key %s: %s now holds key %s, but %s%s has key %s: the backend's key changed",
				ri.Name, ref.Raw, ShortID(k.ID()), ri.Name, PubSuffix, ShortID(keyID))
		}
		return k.Signer(), true, nil
	}
	return nil, false, nil
}

// AddRef opens (or, with opts.Generate, creates) the key a reference
// names, and stores NAME.ref and NAME.pub. It never overwrites a file and
// never reads a private key.
func (d *Dir) AddRef(name string, ref *Ref, generate Type) (*RefKey, error) {
	if err := checkKeyName(name); err != nil {
		return nil, err
	}
	if err := d.checkDir(); err != nil {
		return nil, err
	}
	for _, suf := range []string{KeySuffix, PubSuffix, RefSuffix} {
		p := filepath.Join(d.Path, name+suf)
		if _, err := d.FS.Stat(p); err == nil {
			return nil, fmt.Errorf("%s already exists: refusing to overwrite a key", p)
		}
	}
	k, err := OpenRef(ref, RefOptions{FS: d.FS, Dir: d.Path, PIN: d.PIN, Generate: generate})
	if err != nil {
		return nil, err
	}
	pub, err := EncodePublic(k.Public)
	if err != nil {
		return nil, err
	}
	if err := d.FS.MkdirAll(d.Path, 0o700); err != nil {
		return nil, err
	}
	// NAME.pub first: a NAME.ref without its NAME.pub is an error for
	// every later command, a lone NAME.pub is harmless.
	if err := atomicfs.WriteFile(d.FS, filepath.Join(d.Path, name+PubSuffix), pub, 0o644); err != nil {
		return nil, err
	}
	if err := atomicfs.WriteFile(d.FS, filepath.Join(d.Path, name+RefSuffix), []byte(ref.Raw+"\n"), 0o644); err != nil {
		return nil, err
	}
	return k, nil
}

// checkKeyName accepts names that make one file name.
func checkKeyName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`+"\x00") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("invalid key name %q", name)
	}
	return nil
}

// kmsContext bounds one KMS call.
func kmsContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), kmsTimeout)
}
