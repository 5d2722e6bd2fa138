package keys

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestAWSKMSKey creates an ECDSA P-256 key in local-kms through sigstore's
// AWS KMS signer, registers it, signs TUF metadata through Dir.Signer and
// checks the signature with go-tuf.
func TestAWSKMSKey(t *testing.T) {
	backendtest.LocalKMS(t)
	kd := &Dir{FS: afero.NewOsFs(), Path: filepath.Join(t.TempDir(), "keys")}
	ref, err := ParseRef("awskms:///alias/edgetuf-timestamp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kd.AddRef("timestamp", ref, ""); err == nil {
		t.Fatal("registered a KMS key that does not exist")
	}
	if _, err := kd.AddRef("timestamp", ref, Ed25519); err == nil || !strings.Contains(err.Error(), "ecdsa-p256") {
		t.Fatalf("generating an Ed25519 KMS key: %v", err)
	}
	k, err := kd.AddRef("timestamp", ref, ECDSAP256)
	if err != nil {
		t.Fatalf("generating in KMS: %v", err)
	}
	if k.Public.Type != metadata.KeyTypeECDSA_SHA2_P256 || k.Public.Scheme != metadata.KeySchemeECDSA_SHA2_P256 {
		t.Fatalf("KMS key is %s/%s", k.Public.Type, k.Public.Scheme)
	}
	if _, err := kd.AddRef("again", ref, ECDSAP256); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("generating over an existing KMS key: %v", err)
	}
	s, err := kd.Signer(k.ID())
	if err != nil {
		t.Fatal(err)
	}
	signAndVerify(t, s, k.Public)
	refs, err := kd.Refs()
	if err != nil || len(refs) != 1 || refs[0].Backend != BackendAWSKMS || refs[0].KeyID != k.ID() {
		t.Fatalf("Refs() = %+v, %v", refs, err)
	}
}
