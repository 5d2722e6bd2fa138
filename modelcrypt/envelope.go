package modelcrypt

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"time"

	"filippo.io/age"
	"filippo.io/age/tag"
	"filippo.io/hpke"
)

// MaxEnvelopeSize bounds a key envelope read from the network or disk (an
// envelope is about 400 bytes).
const MaxEnvelopeSize = 4096

// Grant is the plaintext of a key envelope: the content key of one model
// version. NotAfter (RFC 3339, UTC), when set, is when a released key
// stops being accepted (the key service sets it; envelopes published
// beside a payload have none).
type Grant struct {
	ModelID    string `json:"model_id"`
	Version    string `json:"version"`
	ContentKey string `json:"content_key"`
	NotAfter   string `json:"not_after,omitempty"`
}

// DeviceKey is the private half of a device's (or the fleet's) P-256 key:
// devicekey.Key satisfies it, whatever holds the key (file, PKCS#11, TPM).
type DeviceKey interface {
	Public() *ecdh.PublicKey
	ECDH(remote *ecdh.PublicKey) ([]byte, error)
}

// Recipient returns the age recipient ("age1tag1...", the p256tag type) of
// a P-256 public key: the form devices are enrolled by (mrepo grant
// --devices, mrepo add-target --fleet-recipient).
func Recipient(pub *ecdh.PublicKey) (string, error) {
	r, err := tagRecipient(pub)
	if err != nil {
		return "", err
	}
	return r.String(), nil
}

func tagRecipient(pub *ecdh.PublicKey) (*tag.Recipient, error) {
	if pub == nil || pub.Curve() != ecdh.P256() {
		return nil, fmt.Errorf("a device key must be on P-256")
	}
	p, err := compress(pub.Bytes())
	if err != nil {
		return nil, err
	}
	return tag.NewClassicRecipient(p)
}

// compress turns an uncompressed P-256 point (65 bytes) into its
// compressed form (33 bytes).
func compress(u []byte) ([]byte, error) {
	if len(u) != 65 || u[0] != 4 {
		return nil, fmt.Errorf("not an uncompressed P-256 point")
	}
	out := make([]byte, 33)
	out[0] = 2 | u[64]&1
	copy(out[1:], u[1:33])
	return out, nil
}

// ParseRecipient parses a device or fleet recipient ("age1tag1...").
// Hybrid post-quantum tag recipients are refused: no device key can open
// them.
func ParseRecipient(s string) (*tag.Recipient, error) {
	r, err := tag.ParseRecipient(s)
	if err != nil {
		return nil, fmt.Errorf("invalid device recipient %q: %v", s, err)
	}
	if r.Hybrid() {
		return nil, fmt.Errorf("invalid device recipient %q: a hybrid (post-quantum) tag recipient; device keys are P-256", s)
	}
	return r, nil
}

// EnvelopeName is the file name of the envelope for a recipient: the hex
// SHA-256 of a label and the recipient's compressed key, plus ".age". It
// names no device: nobody enumerates devices from a listing, and one
// device's envelopes for different versions have the same name.
func EnvelopeName(r *tag.Recipient) string {
	h := sha256.New()
	io.WriteString(h, "edgetuf key envelope v1\n")
	h.Write(r.Bytes())
	return hex.EncodeToString(h.Sum(nil)) + ".age"
}

// envelopeName matches the names EnvelopeName gives.
var envelopeName = regexp.MustCompile(`^[0-9a-f]{64}\.age$`)

// IsEnvelopeName reports whether name has the form EnvelopeName gives:
// 64 lowercase hex digits and ".age".
func IsEnvelopeName(name string) bool { return envelopeName.MatchString(name) }

// SealEnvelope encrypts g for the recipient, after checking that g's
// content key is one.
func SealEnvelope(r *tag.Recipient, g Grant) ([]byte, error) {
	if _, err := ParseContentKey(g.ContentKey); err != nil {
		return nil, err
	}
	return seal(r, g)
}

// SealContentKey encrypts g, carrying key, for the recipient. key is
// already a parsed content key, so it is not checked again: mrepo grant
// seals one key for 100,000 devices, and the check (an X25519 scalar
// multiplication) costs as much as sealing.
func SealContentKey(r *tag.Recipient, key *ContentKey, g Grant) ([]byte, error) {
	g.ContentKey = key.String()
	return seal(r, g)
}

func seal(r *tag.Recipient, g Grant) ([]byte, error) {
	plain, err := json.Marshal(g)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// OpenEnvelope decrypts an envelope with key and returns the content key
// of modelID at version, after checking that the grant names exactly that
// version, has not expired at now, and that its key is the one the signed
// metadata names (recipient, targets.Encryption.Recipient). Every refusal
// is an *Error with code DECRYPT_FAILED: an envelope for another device,
// model or version, or a damaged one, is a wrong key. A failure of the
// device key itself (a TPM fault) is returned as it is, so its own code
// (DEVICE_KEY_UNAVAILABLE) reaches the caller.
func OpenEnvelope(data []byte, key DeviceKey, modelID, version, recipient string, now time.Time) (*ContentKey, error) {
	if len(data) > MaxEnvelopeSize {
		return nil, decryptErr("key envelope of %d bytes is over the %d-byte limit", len(data), MaxEnvelopeSize)
	}
	id, err := newTagIdentity(key)
	if err != nil {
		return nil, decryptErr("%v", err)
	}
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		if id.keyErr != nil {
			return nil, id.keyErr
		}
		return nil, decryptErr("key envelope of %s %s: %v", modelID, version, err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, MaxEnvelopeSize))
	if err != nil {
		return nil, decryptErr("key envelope of %s %s: %v", modelID, version, err)
	}
	var g Grant
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil || dec.More() {
		return nil, decryptErr("key envelope of %s %s: malformed grant", modelID, version)
	}
	if g.ModelID != modelID || g.Version != version {
		return nil, decryptErr("key envelope is for %s %s, not %s %s", g.ModelID, g.Version, modelID, version)
	}
	if g.NotAfter != "" {
		t, err := time.Parse(time.RFC3339, g.NotAfter)
		if err != nil {
			return nil, decryptErr("key envelope of %s %s: invalid not_after", modelID, version)
		}
		if !now.Before(t) {
			return nil, decryptErr("key envelope of %s %s expired at %s", modelID, version, g.NotAfter)
		}
	}
	ck, err := ParseContentKey(g.ContentKey)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(ck.Recipient()), []byte(recipient)) != 1 {
		return nil, decryptErr("key envelope of %s %s holds a key other than the signed one", modelID, version)
	}
	return ck, nil
}

// tagIdentity opens p256tag stanzas with a DeviceKey, as the age plugins
// for hardware keys do: the tag picks the stanza, HPKE (DHKEM P-256,
// HKDF-SHA256, ChaCha20-Poly1305) opens it with one ECDH.
type tagIdentity struct {
	key    DeviceKey
	rcpt   *tag.Recipient
	priv   hpke.PrivateKey
	keyErr error
}

const p256tagLabel = "age-encryption.org/p256tag"

func newTagIdentity(key DeviceKey) (*tagIdentity, error) {
	rcpt, err := tagRecipient(key.Public())
	if err != nil {
		return nil, err
	}
	id := &tagIdentity{key: key, rcpt: rcpt}
	priv, err := hpke.NewDHKEMPrivateKey(exchanger{id})
	if err != nil {
		return nil, err
	}
	id.priv = priv
	return id, nil
}

// exchanger adapts a DeviceKey to crypto/ecdh's KeyExchanger and keeps
// the device key's own error.
type exchanger struct{ id *tagIdentity }

func (e exchanger) PublicKey() *ecdh.PublicKey { return e.id.key.Public() }
func (e exchanger) Curve() ecdh.Curve          { return ecdh.P256() }
func (e exchanger) ECDH(remote *ecdh.PublicKey) ([]byte, error) {
	s, err := e.id.key.ECDH(remote)
	if err != nil {
		e.id.keyErr = err
	}
	return s, err
}

func (id *tagIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		if s.Type != "p256tag" || len(s.Args) != 2 || len(s.Body) != 32 {
			continue
		}
		tagArg, err := base64.RawStdEncoding.Strict().DecodeString(s.Args[0])
		if err != nil || len(tagArg) != 4 {
			continue
		}
		enc, err := base64.RawStdEncoding.Strict().DecodeString(s.Args[1])
		if err != nil || len(enc) != 65 {
			continue
		}
		want, err := id.rcpt.Tag(enc)
		if err != nil || subtle.ConstantTimeCompare(tagArg, want) != 1 {
			continue
		}
		r, err := hpke.NewRecipient(enc, id.priv, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte(p256tagLabel))
		if err != nil {
			if id.keyErr != nil {
				return nil, id.keyErr
			}
			continue
		}
		fileKey, err := r.Open(nil, s.Body)
		if err != nil {
			continue // a colliding tag of another recipient
		}
		return fileKey, nil
	}
	return nil, age.ErrIncorrectIdentity
}
