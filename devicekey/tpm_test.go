package devicekey

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/tpmdev"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// dupPolicy is the policy digest that allows TPM2_Duplicate
// (TPM2_PolicyCommandCode), computed by a trial session.
func dupPolicy(t *testing.T, tpm transport.TPM) []byte {
	t.Helper()
	sess, cleanup, err := tpm2.PolicySession(tpm, tpm2.TPMAlgSHA256, 16, tpm2.Trial())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if _, err := (tpm2.PolicyCommandCode{PolicySession: sess.Handle(), Code: tpm2.TPMCCDuplicate}).Execute(tpm); err != nil {
		t.Fatal(err)
	}
	rsp, err := tpm2.PolicyGetDigest{PolicySession: sess.Handle()}.Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
	return rsp.PolicyDigest.Buffer
}

// duplicate asks the TPM to export the loaded object under newParent
// with no inner wrapper, satisfying the duplication policy.
func duplicate(tpm transport.TPM, obj *tpm2.LoadResponse, newParent *tpm2.CreatePrimaryResponse) error {
	_, err := tpm2.Duplicate{
		ObjectHandle: tpm2.AuthHandle{Handle: obj.ObjectHandle, Name: obj.Name,
			Auth: tpm2.Policy(tpm2.TPMAlgSHA256, 16, tpm2.PolicyCallback(func(tpm transport.TPM, h tpm2.TPMISHPolicy, _ tpm2.TPM2BNonce) error {
				_, err := tpm2.PolicyCommandCode{PolicySession: h, Code: tpm2.TPMCCDuplicate}.Execute(tpm)
				return err
			}))},
		NewParentHandle: tpm2.NamedHandle{Handle: newParent.ObjectHandle, Name: newParent.Name},
		Symmetric:       tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
	}.Execute(tpm)
	return err
}

// TestTPMKeyCannotBeDuplicated: the TPM refuses TPM2_Duplicate (the one
// command that exports a TPM key) of a device key, even when the key's
// policy would allow duplication: fixedTPM and fixedParent forbid it
// (TPM_RC_ATTRIBUTES). The control, the same key without those two
// attributes, is exported, so the refusal is the attributes' doing. The
// key that Create makes has no policy at all: the TPM refuses it too.
func TestTPMKeyCannotBeDuplicated(t *testing.T) {
	sw := backendtest.StartSWTPM(t)
	dir := t.TempDir()
	if _, _, err := Create("tpm:"+sw.Socket, dir, false); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, TPMBlobFile))
	if err != nil {
		t.Fatal(err)
	}
	blob, err := parseTPMBlob(data)
	if err != nil {
		t.Fatal(err)
	}
	tpm, err := tpmdev.Open(sw.Socket)
	if err != nil {
		t.Fatal(err)
	}
	policy := dupPolicy(t, tpm)
	tpm.Close()

	// try makes a key from tmpl under the SRK, as Create does, loads it
	// and tries to duplicate it under the endorsement hierarchy's SRK.
	try := func(tmpl tpm2.TPMTPublic) error {
		var dupErr error
		err := withSRK(sw.Socket, func(tpm transport.TPM, srk *tpm2.CreatePrimaryResponse, _ *tpm2.TPMTPublic) error {
			parent := tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)}
			c, err := tpm2.Create{ParentHandle: parent, InPublic: tpm2.New2B(tmpl)}.Execute(tpm)
			if err != nil {
				return err
			}
			np, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHEndorsement, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(tpm)
			if err != nil {
				return err
			}
			defer tpm2.FlushContext{FlushHandle: np.ObjectHandle}.Execute(tpm)
			k, err := tpm2.Load{ParentHandle: parent, InPrivate: c.OutPrivate, InPublic: c.OutPublic}.Execute(tpm)
			if err != nil {
				return err
			}
			defer tpm2.FlushContext{FlushHandle: k.ObjectHandle}.Execute(tpm)
			dupErr = duplicate(tpm, k, np)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return dupErr
	}
	movable := tpmTemplate()
	movable.AuthPolicy = tpm2.TPM2BDigest{Buffer: policy}
	movable.ObjectAttributes.FixedTPM, movable.ObjectAttributes.FixedParent = false, false
	if err := try(movable); err != nil {
		t.Fatalf("control: a key without fixedTPM and fixedParent was not duplicated (%v): this test proves nothing", err)
	}
	fixed := tpmTemplate()
	fixed.AuthPolicy = tpm2.TPM2BDigest{Buffer: policy}
	err = try(fixed)
	if !errors.Is(err, tpm2.TPMRCAttributes) {
		t.Fatalf("duplicating a key with the device key's attributes: %v, want TPM_RC_ATTRIBUTES", err)
	}
	t.Logf("device key attributes: the TPM refuses: %v", err)

	// The key Create made, loaded from its blob.
	err = withLoadedKey(sw.Socket, blob, func(tpm transport.TPM, _ *tpm2.CreatePrimaryResponse, _ *tpm2.TPMTPublic, k *tpm2.LoadResponse) error {
		np, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHEndorsement, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(tpm)
		if err != nil {
			return err
		}
		defer tpm2.FlushContext{FlushHandle: np.ObjectHandle}.Execute(tpm)
		if err := duplicate(tpm, k, np); err == nil {
			t.Error("the TPM duplicated the device key")
		} else {
			t.Logf("the device key: the TPM refuses: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTPMBlobUselessElsewhere: the state directory holds no usable
// private key: the blob does not load in a second, fresh TPM, nor in the
// same TPM once it is cleared (a new storage seed: what replacing the
// TPM or the board amounts to). Both are DEVICE_KEY_UNAVAILABLE. A blob
// whose private area was altered fails the TPM's integrity check, and
// one whose public area is another kind of key of the same TPM is
// refused before the TPM sees it.
func TestTPMBlobUselessElsewhere(t *testing.T) {
	sw := backendtest.StartSWTPM(t)
	dir := t.TempDir()
	if _, _, err := Create("tpm:"+sw.Socket, dir, false); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseFileKey(data); err == nil {
			t.Fatalf("%s holds a software private key", e.Name())
		}
	}
	if len(entries) != 1 || entries[0].Name() != TPMBlobFile {
		t.Fatalf("the key directory holds %v", entries)
	}

	other := backendtest.StartSWTPM(t)
	_, err = Open("tpm:"+other.Socket, dir)
	wantCode(t, err, CodeUnavailable)
	t.Logf("a second TPM: %v", err)

	blobPath := filepath.Join(dir, TPMBlobFile)
	good, err := os.ReadFile(blobPath)
	if err != nil {
		t.Fatal(err)
	}
	var j tpmBlobJSON
	if err := json.Unmarshal(good, &j); err != nil {
		t.Fatal(err)
	}
	flipped := j
	flipped.Private = append([]byte{}, j.Private...)
	flipped.Private[len(flipped.Private)-5] ^= 0x01
	data, _ := json.Marshal(flipped)
	writeBlob(t, blobPath, data)
	_, err = Open("tpm:"+sw.Socket, dir)
	wantCode(t, err, CodeUnavailable)
	t.Logf("altered private area: %v", err)

	// A signing key of the same TPM, with the blob's layout.
	sign := tpmTemplate()
	sign.ObjectAttributes.Decrypt, sign.ObjectAttributes.SignEncrypt = false, true
	sign.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{CurveID: tpm2.TPMECCNistP256,
		Scheme: tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA, Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256})}})
	err = withSRK(sw.Socket, func(tpm transport.TPM, srk *tpm2.CreatePrimaryResponse, _ *tpm2.TPMTPublic) error {
		c, err := tpm2.Create{ParentHandle: tpm2.AuthHandle{Handle: srk.ObjectHandle, Name: srk.Name, Auth: tpm2.PasswordAuth(nil)}, InPublic: tpm2.New2B(sign)}.Execute(tpm)
		if err != nil {
			return err
		}
		data, err := (&tpmBlob{Public: c.OutPublic, Private: c.OutPrivate}).marshal()
		writeBlob(t, blobPath, data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open("tpm:"+sw.Socket, dir)
	wantCode(t, err, CodeUnavailable)
	t.Logf("another kind of key: %v", err)

	writeBlob(t, blobPath, good)
	if _, err := Open("tpm:"+sw.Socket, dir); err != nil {
		t.Fatalf("the original blob: %v", err)
	}
	sw.Clear(t)
	_, err = Open("tpm:"+sw.Socket, dir)
	wantCode(t, err, CodeUnavailable)
	t.Logf("the TPM cleared: %v", err)
}

func writeBlob(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
