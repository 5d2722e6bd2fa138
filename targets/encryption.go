package targets

import (
	"fmt"
	"regexp"
	"slices"
)

// Encryption is the "encrypted" field of an encrypted version's manifest
// target custom metadata and of its manifest.json (docs/encryption.md):
// every payload file (and every patch) of the version is an age file for
// one content key, whose recipient is signed here. The field is always
// listed in critical: a client that cannot decrypt refuses the version
// before it downloads anything.
type Encryption struct {
	// Scheme is EncryptionScheme.
	Scheme string `json:"scheme"`
	// Recipient is the public form ("age1...", X25519) of the version's
	// content key; a device accepts only a content key whose recipient
	// is this one.
	Recipient string `json:"recipient"`
	// Delivery says how a device obtains the content key: one of
	// DeliveryFleet, DeliveryDevice, DeliveryKeyServer.
	Delivery string `json:"delivery"`
}

// EncryptionScheme is the only scheme: payloads are age files
// (modelcrypt.Scheme).
const EncryptionScheme = "age-v1"

// How a device obtains a version's content key.
const (
	// DeliveryFleet: one envelope, for the fleet key every device holds,
	// published beside the payload by add-target --encrypt.
	DeliveryFleet = "fleet"
	// DeliveryDevice: one envelope per enrolled device (mrepo grant),
	// published beside the payload.
	DeliveryDevice = "device"
	// DeliveryKeyServer: the key service (mrepo keyserver) wraps the key
	// for a device that proves it holds its enrolled device key.
	DeliveryKeyServer = "keyserver"
)

// FieldEncrypted and FieldPlaintext are the custom fields' names, as
// listed in critical.
const (
	FieldEncrypted = "encrypted"
	FieldPlaintext = "plaintext"
)

// Plaintext is the "plaintext" field of the custom metadata of an
// encrypted version's payload and delta targets: the length and SHA-256
// of the decrypted file (or patch). The target's own length and hashes
// are the ciphertext's, which is what is transferred.
type Plaintext struct {
	Length int64  `json:"length"`
	SHA256 string `json:"sha256"`
}

// MaxPlaintextLength bounds a plaintext's signed length (1 TiB).
const MaxPlaintextLength = 1 << 40

// EnvelopeDir is the directory, beside a version's targets under
// targets/, that holds its key envelopes: models/<model_id>/<version>/keys/.
// Envelopes are not targets (a fleet of 100,000 devices would add 100,000
// entries to the targets metadata): a device checks the key an envelope
// holds against the signed Encryption.Recipient instead.
func EnvelopeDir(modelID, version string) string {
	return TargetDir(modelID, version) + "/keys"
}

var ageRecipientPattern = regexp.MustCompile(`^age1[02-9ac-hj-np-z]{58}$`)

// Validate checks the field's syntax (the recipient's checksum is checked
// where it is used, by package modelcrypt).
func (e *Encryption) Validate() error {
	if e.Scheme != EncryptionScheme {
		return fmt.Errorf("encrypted: scheme %q is not supported (want %s)", e.Scheme, EncryptionScheme)
	}
	if !ageRecipientPattern.MatchString(e.Recipient) {
		return fmt.Errorf("encrypted: recipient %.80q is not an age X25519 recipient", e.Recipient)
	}
	switch e.Delivery {
	case DeliveryFleet, DeliveryDevice, DeliveryKeyServer:
	default:
		return fmt.Errorf("encrypted: unknown delivery %q", e.Delivery)
	}
	return nil
}

// Validate checks the field's values.
func (p *Plaintext) Validate() error {
	if p.Length < 0 || p.Length > MaxPlaintextLength {
		return fmt.Errorf("plaintext: length %d out of range", p.Length)
	}
	if !isHexDigest(p.SHA256) {
		return fmt.Errorf("plaintext: sha256 must be 64 lowercase hex digits")
	}
	return nil
}

// checkEncryptionFields checks the encryption fields of custom metadata:
// each present one valid and listed in critical, encrypted only on a
// manifest target, plaintext only on payload and delta targets.
func (c *Custom) checkEncryptionFields() error {
	if c.Encrypted != nil {
		if c.Kind != KindManifest {
			return fmt.Errorf("encrypted belongs to the manifest target")
		}
		if err := c.Encrypted.Validate(); err != nil {
			return err
		}
		if !slices.Contains(c.Critical, FieldEncrypted) {
			return fmt.Errorf("encrypted is present but not listed in critical")
		}
	}
	if c.Plaintext != nil {
		if c.Kind == KindManifest {
			return fmt.Errorf("plaintext belongs to payload and delta targets")
		}
		if err := c.Plaintext.Validate(); err != nil {
			return err
		}
		if !slices.Contains(c.Critical, FieldPlaintext) {
			return fmt.Errorf("plaintext is present but not listed in critical")
		}
	}
	return nil
}
