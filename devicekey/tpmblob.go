package devicekey

import (
	"bytes"
	"crypto/ecdh"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/google/go-tpm/tpm2"
)

// tpmBlobFormat names the format of TPMBlobFile.
const tpmBlobFormat = "edgetuf-device-key-tpm-v1"

// tpmBlob is a TPM key's two parts as TPM2_Create returned them: the
// public area and the private area, which the TPM encrypted and
// integrity-protected with its storage root key (derived from the TPM's
// own storage seed). Only that TPM can load the private area; nothing in
// it is usable elsewhere.
type tpmBlob struct {
	Public  tpm2.TPM2BPublic
	Private tpm2.TPM2BPrivate
	pub     *ecdh.PublicKey
}

// tpmBlobJSON is the file: the TPM2B_PUBLIC and TPM2B_PRIVATE structures
// in the TPM's wire format, base64 in JSON.
type tpmBlobJSON struct {
	Format  string `json:"format"`
	Public  []byte `json:"public"`
	Private []byte `json:"private"`
}

// tpmTemplate is the public area of every TPM device key: an ECC P-256
// key for ECDH (TPM2_ECDH_ZGen) that the TPM generated itself
// (sensitiveDataOrigin), that can never leave this TPM (fixedTPM) nor be
// moved under another parent (fixedParent), used with its (empty)
// authorization value (userWithAuth), not subject to dictionary-attack
// lockout (noDA: it has no password to guess), a decryption key that
// cannot sign and is not restricted.
func tpmTemplate() tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:            true,
			FixedParent:         true,
			SensitiveDataOrigin: true,
			UserWithAuth:        true,
			NoDA:                true,
			Decrypt:             true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			CurveID: tpm2.TPMECCNistP256,
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDH,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDH, &tpm2.TPMSKeySchemeECDH{HashAlg: tpm2.TPMAlgSHA256}),
			},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
	}
}

func (b *tpmBlob) marshal() ([]byte, error) {
	return json.Marshal(tpmBlobJSON{Format: tpmBlobFormat, Public: tpm2.Marshal(b.Public), Private: tpm2.Marshal(b.Private)})
}

// ParseTPMBlob parses TPMBlobFile and checks that its public area is a
// device key's (tpmTemplate, with a point on P-256), so that a blob of
// another key of the same TPM (one that may leave it, or be signed with)
// is refused. It returns the public key.
func ParseTPMBlob(data []byte) (*ecdh.PublicKey, error) {
	b, err := parseTPMBlob(data)
	if err != nil {
		return nil, err
	}
	return b.pub, nil
}

func parseTPMBlob(data []byte) (b *tpmBlob, err error) {
	defer func() {
		// go-tpm's Marshal panics on what it cannot marshal; a blob
		// is untrusted bytes, so any such panic is a damaged blob.
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("damaged TPM key blob (%v)", r)
		}
	}()
	var j tpmBlobJSON
	if err := jsonlimit.UnmarshalStrict(data, &j, maxKeyFile); err != nil {
		return nil, fmt.Errorf("TPM key blob: %w", err)
	}
	if j.Format != tpmBlobFormat {
		return nil, fmt.Errorf("TPM key blob of format %q (want %s)", j.Format, tpmBlobFormat)
	}
	pub2b, err := tpm2.Unmarshal[tpm2.TPM2BPublic](j.Public)
	if err != nil || !bytes.Equal(tpm2.Marshal(*pub2b), j.Public) {
		return nil, errors.New("TPM key blob: the public area does not parse")
	}
	priv2b, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](j.Private)
	if err != nil || len(priv2b.Buffer) == 0 || !bytes.Equal(tpm2.Marshal(*priv2b), j.Private) {
		return nil, errors.New("TPM key blob: the private area does not parse")
	}
	pub, err := pub2b.Contents()
	if err != nil {
		return nil, fmt.Errorf("TPM key blob: public area: %w", err)
	}
	point, err := pub.Unique.ECC()
	if err != nil {
		return nil, fmt.Errorf("TPM key blob: public area: %w", err)
	}
	want := tpmTemplate()
	want.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, point)
	if !bytes.Equal(tpm2.Marshal(want), tpm2.Marshal(*pub)) {
		return nil, errors.New("TPM key blob: not a device key (its type, attributes or parameters differ: fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, decrypt, ECDH on P-256)")
	}
	parms, err := pub.Parameters.ECCDetail()
	if err != nil {
		return nil, fmt.Errorf("TPM key blob: public area: %w", err)
	}
	key, err := tpm2.ECDHPub(parms, point)
	if err != nil {
		return nil, fmt.Errorf("TPM key blob: public key: %w", err)
	}
	return &tpmBlob{Public: *pub2b, Private: *priv2b, pub: key}, nil
}
