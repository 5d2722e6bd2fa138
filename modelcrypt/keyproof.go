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
