package keys

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// The encrypted private key of a key file is go-securesystemslib's
// encrypted format, composed here as its encrypted package composes it:
//
//	{"kdf":{"name":"scrypt","params":{"N":8192,"r":8,"p":10},"salt":B64},
//	 "cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}
//
// the secretbox key is scrypt(passphrase, salt, N, r, p) (32 bytes), the
// salt 32 random bytes, the nonce 24. That package is not used for it:
// its Decrypt accepts only its own three parameter sets, and online keys
// need another one (onlineParams). Files it wrote decrypt here and files
// written here with its parameters decrypt there.

// scryptParams are scrypt's cost parameters. scrypt allocates 128*r*N
// bytes once and runs the p lanes one after the other in that block, so
// N and r set the memory and N*r*p the time.
type scryptParams struct {
	N int `json:"N"`
	R int `json:"r"`
	P int `json:"p"`
}

// memory is the block scrypt allocates for p.
func (p scryptParams) memory() int { return 128 * p.R * p.N }

var (
	// onlineParams encrypt online keys (targets, snapshot, timestamp),
	// decrypted on every publication: OWASP's minimum for scrypt
	// (Password Storage Cheat Sheet: N=2^17 r=8 p=1 or an equivalent
	// such as N=2^13 r=8 p=10), in 8 MiB, so that publishing fits a
	// 64 MiB memory budget. The work (N*r*p) is 2.5 times legacyParams'.
	onlineParams = scryptParams{N: 1 << 13, R: 8, P: 10}
	// offlineParams encrypt offline keys (root), decrypted only in
	// ceremonies: OWASP's N=2^17 r=8 p=1 (128 MiB), securesystemslib's
	// "OWASP" set.
	offlineParams = scryptParams{N: 1 << 17, R: 8, P: 1}
	// legacyParams (securesystemslib's "Legacy", 32 MiB) encrypted
	// online keys until 2026-12; standardParams is its "Standard".
	legacyParams   = scryptParams{N: 1 << 15, R: 8, P: 1}
	standardParams = scryptParams{N: 1 << 16, R: 8, P: 1}
)

// acceptedParams is the allow-list of parameters a key file may name:
// anything else is refused before scrypt runs, so a key file cannot make
// a reader allocate more than 128 MiB or spend more than one offline
// derivation's time.
var acceptedParams = []scryptParams{onlineParams, offlineParams, legacyParams, standardParams}

const (
	sealedKDFName    = "scrypt"
	sealedCipherName = "nacl/secretbox"
	saltSize         = 32
	nonceSize        = 24
	boxKeySize       = 32
)

// ErrKeyEncryption is returned for an encrypted private key that is
// malformed or names a key derivation or cipher this package does not
// accept. Unlike ErrWrongPassphrase, no passphrase can help.
var ErrKeyEncryption = errors.New("unsupported or malformed private key encryption")

type sealedKDF struct {
	Name   string       `json:"name"`
	Params scryptParams `json:"params"`
	Salt   []byte       `json:"salt"`
}

type sealedCipher struct {
	Name  string `json:"name"`
	Nonce []byte `json:"nonce"`
}

// sealedKey is an encrypted private key (securesystemslib's field order).
type sealedKey struct {
	KDF        sealedKDF    `json:"kdf"`
	Cipher     sealedCipher `json:"cipher"`
	Ciphertext []byte       `json:"ciphertext"`
}

// seal encrypts plaintext with a key derived from passphrase by scrypt
// with params.
func seal(plaintext, passphrase []byte, params scryptParams) ([]byte, error) {
	s := sealedKey{
		KDF:    sealedKDF{Name: sealedKDFName, Params: params, Salt: make([]byte, saltSize)},
		Cipher: sealedCipher{Name: sealedCipherName, Nonce: make([]byte, nonceSize)},
	}
	if _, err := rand.Read(s.KDF.Salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(s.Cipher.Nonce); err != nil {
		return nil, err
	}
	key, err := s.derive(passphrase)
	if err != nil {
		return nil, err
	}
	s.Ciphertext = secretbox.Seal(nil, plaintext, (*[nonceSize]byte)(s.Cipher.Nonce), key)
	return json.Marshal(s)
}

// parseSealed parses an encrypted private key and checks everything that
// can be checked without the passphrase: known names, accepted
// parameters, the salt's and nonce's lengths, a ciphertext at least as
// long as the authenticator, no unknown, duplicated or miscased field.
func parseSealed(data []byte) (*sealedKey, error) {
	var s sealedKey
	if err := jsonlimit.UnmarshalExact(data, &s, maxKeyFileSize); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyEncryption, err)
	}
	switch {
	case s.KDF.Name != sealedKDFName:
		return nil, fmt.Errorf("%w: key derivation %q, want %q", ErrKeyEncryption, s.KDF.Name, sealedKDFName)
	case s.Cipher.Name != sealedCipherName:
		return nil, fmt.Errorf("%w: cipher %q, want %q", ErrKeyEncryption, s.Cipher.Name, sealedCipherName)
	case !accepted(s.KDF.Params):
		p := s.KDF.Params
		return nil, fmt.Errorf("%w: scrypt parameters N=%d r=%d p=%d are not among those accepted", ErrKeyEncryption, p.N, p.R, p.P)
	case len(s.KDF.Salt) != saltSize:
		return nil, fmt.Errorf("%w: salt of %d bytes, want %d", ErrKeyEncryption, len(s.KDF.Salt), saltSize)
	case len(s.Cipher.Nonce) != nonceSize:
		return nil, fmt.Errorf("%w: nonce of %d bytes, want %d", ErrKeyEncryption, len(s.Cipher.Nonce), nonceSize)
	case len(s.Ciphertext) < secretbox.Overhead:
		return nil, fmt.Errorf("%w: ciphertext of %d bytes, shorter than its authenticator", ErrKeyEncryption, len(s.Ciphertext))
	}
	return &s, nil
}

func accepted(p scryptParams) bool {
	for _, a := range acceptedParams {
		if p == a {
			return true
		}
	}
	return false
}

// open decrypts s (from parseSealed) with passphrase. A wrong passphrase
// and a damaged salt, nonce or ciphertext are the same failure to the
// authenticator: ErrWrongPassphrase.
func (s *sealedKey) open(passphrase []byte) ([]byte, error) {
	key, err := s.derive(passphrase)
	if err != nil {
		return nil, err
	}
	plain, ok := secretbox.Open(nil, s.Ciphertext, (*[nonceSize]byte)(s.Cipher.Nonce), key)
	if !ok {
		return nil, ErrWrongPassphrase
	}
	return plain, nil
}

// derive runs scrypt. Its block (8-128 MiB) is allocated at once:
// collect the caller's garbage and hand its pages back to the OS first,
// so that the block does not come on top of them (a publication has just
// parsed its hash bins), and hand the block back afterwards, before the
// caller streams gigabytes within a small budget or derives its next key.
func (s *sealedKey) derive(passphrase []byte) (*[boxKeySize]byte, error) {
	debug.FreeOSMemory()
	key, err := scrypt.Key(passphrase, s.KDF.Salt, s.KDF.Params.N, s.KDF.Params.R, s.KDF.Params.P, boxKeySize)
	debug.FreeOSMemory()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyEncryption, err)
	}
	return (*[boxKeySize]byte)(key), nil
}
