package testrepo

import (
	"os"
	"path/filepath"

	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/sigstore/sigstore/pkg/signature"
)

// DirSigners returns the online signers (targets, snapshot, timestamp)
// of a key directory made by mrepo init, decrypted with passphrase: what
// a script's forging commands sign with.
func DirSigners(keyDir, passphrase string) (ControlSigners, error) {
	signer := func(role string) (signature.Signer, error) {
		data, err := os.ReadFile(filepath.Join(keyDir, role+".key"))
		if err != nil {
			return nil, err
		}
		kf, err := keys.ParseFile(data)
		if err != nil {
			return nil, err
		}
		k, err := kf.Decrypt([]byte(passphrase))
		if err != nil {
			return nil, err
		}
		return k.Signer()
	}
	var s ControlSigners
	var err error
	if s.Targets, err = signer("targets"); err != nil {
		return s, err
	}
	if s.Snapshot, err = signer("snapshot"); err != nil {
		return s, err
	}
	s.Timestamp, err = signer("timestamp")
	return s, err
}

// ForgeEncryptedDir makes modelID@version, published plain, look like a
// version published with add-target --encrypt: its manifest target gets
// the signed encrypted field e (listed in critical), re-signed with s as
// ForgeCustomDir does. The payload stays plaintext: for tests of the key
// service and of key delivery, which need only the metadata.
func ForgeEncryptedDir(dir, modelID, version string, e targets.Encryption, s ControlSigners) error {
	return ForgeCustomDir(dir, modelID, version, func(c *targets.Custom) {
		c.Encrypted = &e
		c.Critical = append(c.Critical, targets.FieldEncrypted)
	}, s)
}
