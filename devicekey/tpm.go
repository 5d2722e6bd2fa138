package devicekey

import (
	"crypto/ecdh"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/fileperm"
	"github.com/edgetuf/edgetuf/internal/tpmdev"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/spf13/afero"
)

// A TPM device key is an ordinary (non-persistent) object under the
// storage root key (SRK), which is re-derived on every use from the TCG
// reference ECC template (TPM2_CreatePrimary of the owner hierarchy: the
// same seed gives the same key, nothing stored in NV). The key's public
// and TPM-encrypted private parts live in the key directory
// (TPMBlobFile); each use loads them under the SRK, computes, and flushes
// everything. docs/design.md says why a blob and not a persistent handle.

// tpmKey is a key in the TPM at path.
type tpmKey struct {
	path string
	blob *tpmBlob
	mu   sync.Mutex // one TPM conversation at a time
}

func (k *tpmKey) Public() *ecdh.PublicKey { return k.blob.pub }

// ECDH runs TPM2_ECDH_ZGen with the key: the TPM multiplies remote by the
// private key, which never leaves it. The command's response (the shared
// point) is encrypted between the TPM and this process by a session
// salted to the SRK, so a probe on the TPM's bus does not see it.
func (k *tpmKey) ECDH(remote *ecdh.PublicKey) ([]byte, error) {
	if err := CheckRemote(remote); err != nil {
		return nil, err
	}
	x, y, err := tpm2.ECCPoint(remote)
	if err != nil {
		return nil, err
	}
	in := tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: x.FillBytes(make([]byte, 32))},
		Y: tpm2.TPM2BECCParameter{Buffer: y.FillBytes(make([]byte, 32))},
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var z []byte
	err = withLoadedKey(k.path, k.blob, func(tpm transport.TPM, srk *tpm2.CreatePrimaryResponse, srkPub *tpm2.TPMTPublic, key *tpm2.LoadResponse) error {
		rsp, err := tpm2.ECDHZGen{
			KeyHandle: tpm2.AuthHandle{Handle: key.ObjectHandle, Name: key.Name, Auth: tpm2.HMAC(tpm2.TPMAlgSHA256, 16,
				tpm2.AESEncryption(128, tpm2.EncryptOut), tpm2.Salted(srk.ObjectHandle, *srkPub))},
			InPoint: tpm2.New2B(in),
		}.Execute(tpm)
		if err != nil {
			return fmt.Errorf("TPM2_ECDH_ZGen: %w", err)
		}
		out, err := rsp.OutPoint.Contents()
		if err != nil {
			return fmt.Errorf("TPM2_ECDH_ZGen: %w", err)
		}
		if len(out.X.Buffer) == 0 || len(out.X.Buffer) > 32 {
			return fmt.Errorf("TPM2_ECDH_ZGen returned a %d-byte coordinate", len(out.X.Buffer))
		}
		z = make([]byte, 32)
		copy(z[32-len(out.X.Buffer):], out.X.Buffer)
		return nil
	})
	if err != nil {
		return nil, unavailable("tpm:"+k.path, err)
	}
	return z, nil
}

// withSRK opens the TPM, derives its SRK and runs fn, then flushes the
// SRK and closes the TPM.
func withSRK(path string, fn func(transport.TPM, *tpm2.CreatePrimaryResponse, *tpm2.TPMTPublic) error) error {
	tpm, err := tpmdev.Open(path)
	if err != nil {
		return err
	}
	defer tpm.Close()
	srk, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(tpm)
	if err != nil {
		return fmt.Errorf("TPM %s: deriving the storage root key (TPM2_CreatePrimary, owner hierarchy): %w", path, err)
	}
	defer tpm2.FlushContext{FlushHandle: srk.ObjectHandle}.Execute(tpm)
	srkPub, err := srk.OutPublic.Contents()
	if err != nil {
		return err
	}
	return fn(tpm, srk, srkPub)
}

// withLoadedKey loads blob under the SRK, runs fn and flushes the key.
func withLoadedKey(path string, blob *tpmBlob, fn func(transport.TPM, *tpm2.CreatePrimaryResponse, *tpm2.TPMTPublic, *tpm2.LoadResponse) error) error {
	return withSRK(path, func(tpm transport.TPM, srk *tpm2.CreatePrimaryResponse, srkPub *tpm2.TPMTPublic) error {
		key, err := tpm2.Load{
			ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
			InPrivate:    blob.Private,
			InPublic:     blob.Public,
		}.Execute(tpm)
		if err != nil {
			return fmt.Errorf("TPM %s: the key's blob does not load (TPM2_Load: %w): it was made by another TPM, or this TPM was cleared, or the blob is damaged", path, err)
		}
		defer tpm2.FlushContext{FlushHandle: key.ObjectHandle}.Execute(tpm)
		return fn(tpm, srk, srkPub, key)
	})
}

func openTPM(path, blobPath string) (Key, error) {
	data, err := fileperm.ReadSecret(blobPath, "TPM key blob", maxKeyFile, true)
	if err != nil {
		return nil, err
	}
	blob, err := parseTPMBlob(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", blobPath, err)
	}
	// Fail now, not at the first use, if this TPM cannot load it.
	if err := withLoadedKey(path, blob, func(transport.TPM, *tpm2.CreatePrimaryResponse, *tpm2.TPMTPublic, *tpm2.LoadResponse) error {
		return nil
	}); err != nil {
		return nil, err
	}
	return &tpmKey{path: path, blob: blob}, nil
}

func createTPM(path, blobPath string, replace bool) (Key, error) {
	if _, err := os.Lstat(blobPath); err == nil && !replace {
		return nil, errExists("tpm:"+path, "a TPM key blob "+blobPath)
	}
	var data []byte
	err := withSRK(path, func(tpm transport.TPM, srk *tpm2.CreatePrimaryResponse, _ *tpm2.TPMTPublic) error {
		rsp, err := tpm2.Create{
			ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)},
			InPublic:     tpm2.New2B(tpmTemplate()),
		}.Execute(tpm)
		if err != nil {
			return fmt.Errorf("TPM %s: TPM2_Create: %w", path, err)
		}
		data, err = (&tpmBlob{Public: rsp.OutPublic, Private: rsp.OutPrivate}).marshal()
		return err
	})
	if err != nil {
		return nil, err
	}
	if _, err := parseTPMBlob(data); err != nil {
		return nil, errors.Join(errors.New("the TPM made a key unlike the one asked for"), err)
	}
	if err := atomicfs.WriteFile(afero.NewOsFs(), blobPath, data, 0o600); err != nil {
		return nil, err
	}
	return openTPM(path, blobPath)
}
