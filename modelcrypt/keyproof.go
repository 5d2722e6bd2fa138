package modelcrypt

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
)

// ProofLabel is the HKDF info, and the first line of the MAC'd
// transcript, of a key service proof (docs/keyserver.md).
const ProofLabel = "edgetuf keyserver v1"

// Proof is what a device sends the key service to prove it holds its
// enrolled device key: HMAC-SHA256 keyed with HKDF-SHA256(shared, salt =
// nonce, info = ProofLabel) over ProofLabel, challengeID, modelID,
// version and device (the device's recipient), one per line. shared is
// the ECDH secret of the device key and the server's ephemeral key for
// this challenge; the device computes it with its key, the service with
// the ephemeral private key and the enrolled public key. Device keys are
// ECDH-only (a TPM key made for ECDH cannot sign), so possession is
// proven by a MAC under a key only the two ends can derive, over a fresh
// challenge. The fields never contain a newline: the service checks
// their syntax before it compares proofs.
func Proof(shared, nonce []byte, challengeID, modelID, version, device string) []byte {
	k, err := hkdf.Key(sha256.New, shared, nonce, ProofLabel, sha256.Size)
	if err != nil {
		panic("modelcrypt: HKDF-SHA256 of 32 bytes failed: " + err.Error()) // only for lengths over 255*32
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(ProofLabel + "\n" + challengeID + "\n" + modelID + "\n" + version + "\n" + device))
	return m.Sum(nil)
}

// The key service's messages (docs/keyserver.md): JSON bodies of POST
// /v1/challenge and /v1/key and of their answers. Binary fields are
// standard base64 with padding.

// ChallengeRequest asks for a challenge to prove the device key with.
type ChallengeRequest struct {
	ModelID string `json:"model_id"`
	Version string `json:"version"`
	Device  string `json:"device"`
}

// Challenge is the service's answer: ServerKey is an ephemeral P-256
// public key (uncompressed, 65 bytes) made for this challenge only.
type Challenge struct {
	ChallengeID string `json:"challenge_id"`
	ServerKey   string `json:"server_key"`
	Nonce       string `json:"nonce"`
	Expires     string `json:"expires"`
}

// KeyRequest proves the device key (Proof) and asks for the envelope.
type KeyRequest struct {
	ChallengeID string `json:"challenge_id"`
	ModelID     string `json:"model_id"`
	Version     string `json:"version"`
	Device      string `json:"device"`
	Proof       string `json:"proof"`
}

// Refusal is the body of every answer that is not a success.
type Refusal struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// Sizes of the key service's binary fields, in bytes.
const (
	ChallengeIDSize = 16
	NonceSize       = 32
	ServerKeySize   = 65
)

// MaxKeyServiceMessage bounds every JSON body of the key service, in
// either direction.
const MaxKeyServiceMessage = 8 << 10

// Key service refusal codes (Refusal.Code).
const (
	RefusalNotEnrolled      = "DEVICE_NOT_ENROLLED"
	RefusalRevoked          = "DEVICE_REVOKED"
	RefusalProofInvalid     = "PROOF_INVALID"
	RefusalChallengeUnknown = "CHALLENGE_UNKNOWN"
	RefusalChallengeExpired = "CHALLENGE_EXPIRED"
	RefusalVersionUnknown   = "VERSION_UNKNOWN"
	RefusalRateLimited      = "RATE_LIMITED"
	RefusalMalformed        = "MALFORMED"
	RefusalTooLarge         = "TOO_LARGE"
)
