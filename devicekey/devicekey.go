// Package devicekey holds a device's own key pair: the key that
// per-device payload decryption and key release (the repository wraps a
// model's content key to it) rely on. The private key lives in one of
// three backends, named by a reference string that the state directory's
// client.json stores (device_key):
//
//	file:PATH     a software key (PKCS#8 PEM, mode 0600), for devices
//	              without hardware; a relative PATH is relative to the
//	              key directory (the state directory)
//	pkcs11:...    an RFC 7512 PKCS#11 URI naming the key pair in a token
//	              (the PIN from pin-source=file:PATH or EDGETUF_PKCS11_PIN,
//	              never from the reference itself); only in programs that
//	              import devicekey/pkcs11 (mclient built with the
//	              edgetuf_pkcs11 tag and cgo)
//	tpm:PATH      a key created inside the TPM 2.0 at PATH (/dev/tpmrm0, or
//	              a swtpm socket) under its storage hierarchy; its public
//	              and TPM-encrypted private parts are kept in the key
//	              directory (TPMBlobFile), useless without that TPM
//
// Every key is an ECDH key on NIST P-256: what TPM 2.0 chips
// (TPM2_ECDH_ZGen) and PKCS#11 tokens (CKM_ECDH1_DERIVE) compute natively;
// no TPM does X25519. In the hardware backends the private key never
// leaves the hardware: the token or TPM refuses to export it (see
// docs/client.md, "Device keys").
//
// Every failure to open or use a key is an *Error with code
// DEVICE_KEY_UNAVAILABLE (or DEVICE_KEY_EXISTS from Create): a missing or
// damaged reference, key file or TPM blob, absent or replaced hardware, a
// wrong PIN. Nothing falls back to another key or backend.
package devicekey

import (
	"crypto/ecdh"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/edgetuf/edgetuf/internal/tpmdev"
)

// Key is a device key pair on NIST P-256 whose private half may be out
// of reach (in a TPM or a token).
//
// Contract: Public returns the key's public half (the same value on every
// call, never nil). ECDH returns the shared secret with remote, the
// x-coordinate of the product point as crypto/ecdh's (*PrivateKey).ECDH
// returns it (32 bytes, big-endian), or an error; it refuses a remote key
// not on P-256. The secret is the input of a KDF (HKDF), never a key
// itself. ECDH may be called from several goroutines. A hardware failure
// is an *Error with code DEVICE_KEY_UNAVAILABLE: the caller fails closed
// (no model is decrypted with anything else).
type Key interface {
	Public() *ecdh.PublicKey
	ECDH(remote *ecdh.PublicKey) ([]byte, error)
}

// The stable codes of this package's errors (docs/error-codes.md).
const (
	// CodeUnavailable: the device key cannot be opened or used.
	CodeUnavailable = "DEVICE_KEY_UNAVAILABLE"
	// CodeExists: Create would replace an existing key.
	CodeExists = "DEVICE_KEY_EXISTS"
)

// Error is every failure of this package: the code, the reference of the
// key, and the cause.
type Error struct {
	Code string
	Ref  string
	Err  error
}

func (e *Error) Error() string {
	if e.Ref == "" {
		return e.Code + ": " + e.Err.Error()
	}
	return e.Code + ": device key " + e.Ref + ": " + e.Err.Error()
}

// ErrorCode is the stable code (for mclient's JSON errors).
func (e *Error) ErrorCode() string { return e.Code }

func (e *Error) Unwrap() error { return e.Err }

func unavailable(ref string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: CodeUnavailable, Ref: ref, Err: err}
}

// Backends of device keys: the scheme of a reference.
const (
	BackendFile   = "file"
	BackendPKCS11 = "pkcs11"
	BackendTPM    = "tpm"
)

// DefaultFile is where a "file" key is created when the reference names
// no path (relative to the key directory); TPMBlobFile holds a TPM key's
// public and private parts in the key directory.
const (
	DefaultFile = "device-key.pem"
	TPMBlobFile = "device-key.tpm"
	// DefaultTPM is the TPM a "tpm" reference without a path uses: the
	// kernel's resource manager.
	DefaultTPM = tpmdev.DefaultPath
)

// maxRefSize bounds a reference.
const maxRefSize = 4 << 10

// Ref is a parsed device key reference.
type Ref struct {
	Backend string // BackendFile, BackendPKCS11 or BackendTPM
	// Path is the key file (file:) or the TPM (tpm:); the whole URI for
	// pkcs11:.
	Path string
}

// String is the reference as stored.
func (r Ref) String() string {
	if r.Backend == BackendPKCS11 {
		return r.Path
	}
	return r.Backend + ":" + r.Path
}

// ParseRef checks a reference's syntax. The shorthands "file" and "tpm"
// mean file:device-key.pem and tpm:/dev/tpmrm0. A pkcs11: URI is checked
// in full only where PKCS#11 is built in (Open and Create).
func ParseRef(s string) (Ref, error) {
	switch {
	case s == "":
		return Ref{}, errors.New("empty device key reference")
	case len(s) > maxRefSize:
		return Ref{}, fmt.Errorf("device key reference of %d bytes (at most %d)", len(s), maxRefSize)
	case strings.ContainsAny(s, "\n\r\x00"):
		return Ref{}, errors.New("device key reference spans lines")
	case s == BackendFile:
		return Ref{BackendFile, DefaultFile}, nil
	case s == BackendTPM:
		return Ref{BackendTPM, DefaultTPM}, nil
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Ref{}, fmt.Errorf("device key reference %q has no scheme (want file:PATH, pkcs11:URI or tpm:PATH)", s)
	}
	switch strings.ToLower(scheme) {
	case BackendFile:
		if rest == "" || strings.HasSuffix(rest, "/") {
			return Ref{}, fmt.Errorf("device key reference %q names no file", s)
		}
		return Ref{BackendFile, rest}, nil
	case BackendTPM:
		if !filepath.IsAbs(rest) {
			return Ref{}, fmt.Errorf("device key reference %q: want tpm:/ABSOLUTE/PATH of the TPM device or socket", s)
		}
		return Ref{BackendTPM, rest}, nil
	case BackendPKCS11:
		return Ref{BackendPKCS11, s}, nil
	}
	return Ref{}, fmt.Errorf("device key reference %q: unknown backend %q (want file:, pkcs11: or tpm:)", s, scheme)
}

// Open opens the key that ref names; dir is the key directory (the state
// directory), which holds a TPM key's blob and against which a relative
// file: path is resolved. It checks that the key is usable (a TPM blob is
// loaded into the TPM) but computes nothing with it. PINs come from the
// reference's pin-source or EDGETUF_PKCS11_PIN: a device never prompts.
func Open(ref, dir string) (Key, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, unavailable(ref, err)
	}
	var k Key
	switch r.Backend {
	case BackendFile:
		k, err = openFile(resolve(dir, r.Path))
	case BackendTPM:
		k, err = openTPM(r.Path, filepath.Join(dir, TPMBlobFile))
	case BackendPKCS11:
		k, err = pkcs11Backend().Open(r.Path)
	}
	if err != nil {
		return nil, unavailable(r.String(), err)
	}
	return k, nil
}

// Create makes a new key where ref says and returns it with the
// canonical form of ref to store. A key that exists there already (the
// file, the TPM blob, a token object with the URI's label or id) is
// refused with DEVICE_KEY_EXISTS unless replace is set; replacing
// destroys the old key, and with it everything wrapped to it.
func Create(ref, dir string, replace bool) (Key, string, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, "", unavailable(ref, err)
	}
	var k Key
	switch r.Backend {
	case BackendFile:
		k, err = createFile(resolve(dir, r.Path), replace)
	case BackendTPM:
		k, err = createTPM(r.Path, filepath.Join(dir, TPMBlobFile), replace)
	case BackendPKCS11:
		k, err = pkcs11Backend().Create(r.Path, replace)
	}
	if err != nil {
		return nil, "", unavailable(r.String(), err)
	}
	return k, r.String(), nil
}

// errExists is the cause of a DEVICE_KEY_EXISTS error.
func errExists(ref, what string) error {
	return &Error{Code: CodeExists, Ref: ref, Err: fmt.Errorf("%s already exists: refusing to replace it (and everything wrapped to it) unless told to", what)}
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// PublicPEM is the public key as a PEM "PUBLIC KEY" block (PKIX
// SubjectPublicKeyInfo, as openssl prints it): what the repository's
// grant step takes.
func PublicPEM(pub *ecdh.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// Fingerprint names a public key: "sha256:" and the hex SHA-256 of its
// SubjectPublicKeyInfo DER (what `openssl pkey -pubin -outform DER |
// sha256sum` prints).
func Fingerprint(pub *ecdh.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// CheckRemote refuses a peer key that is not on P-256: every backend,
// pkcs11key included, checks with it.
func CheckRemote(remote *ecdh.PublicKey) error {
	if remote == nil || remote.Curve() != ecdh.P256() {
		return errors.New("the peer's key is not on NIST P-256")
	}
	return nil
}
