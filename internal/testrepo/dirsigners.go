package testrepo

import (
	"os"
	"path/filepath"

	"github.com/edgetuf/edgetuf/keys"
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
