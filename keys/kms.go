package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/kms"
	awskms "github.com/sigstore/sigstore/pkg/signature/kms/aws"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// AWS KMS keys go through sigstore's KMS signer (the package registers the
// awskms:// scheme). Credentials, region and endpoint come from the AWS SDK's
// default chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN,
// AWS_PROFILE and ~/.aws, an instance or task role; AWS_REGION;
// AWS_ENDPOINT_URL_KMS (or awskms://HOST:PORT/..., which sigstore reaches
// over HTTPS). Only ECC_NIST_P256 keys (ECDSA_SHA_256) are accepted: they
// are the KMS keys that TUF clients verify as ecdsa-sha2-nistp256.
//
// sigstore's kms.Get would also run a "sigstore-kms-NAME" plugin program
// found in PATH for an unknown scheme; a reference from a key directory
// must not start programs, so only awskms:// is passed to it.

// awsKeySpec is the only AWS KMS key spec accepted and generated.
const awsKeySpec = "ECC_NIST_P256"

func checkAWSKMSRef(ref string) error {
	if err := awskms.ValidReference(ref); err != nil {
		return fmt.Errorf("key reference %q: %v", ref, err)
	}
	return nil
}

// kmsSigner bounds every KMS call with a timeout.
type kmsSigner struct {
	sv  kms.SignerVerifier
	ref string
}

func (k *kmsSigner) PublicKey(opts ...signature.PublicKeyOption) (crypto.PublicKey, error) {
	ctx, cancel := kmsContext()
	defer cancel()
	return k.sv.PublicKey(append(opts, options.WithContext(ctx))...)
}

func (k *kmsSigner) SignMessage(message io.Reader, opts ...signature.SignOption) ([]byte, error) {
	ctx, cancel := kmsContext()
	defer cancel()
	sig, err := k.sv.SignMessage(message, append(opts, options.WithContext(ctx))...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.ref, err)
	}
	return sig, nil
}

// openAWSKMS opens an AWS KMS key, or with generate creates it (and its
// alias) first; generate refuses a key that exists.
func openAWSKMS(ref string, generate Type) (signature.Signer, error) {
	if err := checkAWSKMSRef(ref); err != nil {
		return nil, err
	}
	ctx, cancel := kmsContext()
	defer cancel()
	sv, err := kms.Get(ctx, ref, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	s := &kmsSigner{sv: sv, ref: ref}
	if generate != "" {
		if generate != ECDSAP256 {
			return nil, fmt.Errorf("AWS KMS keys are generated as ecdsa-p256 (%s), not %s", awsKeySpec, generate)
		}
		if _, err := s.PublicKey(); err == nil {
			return nil, fmt.Errorf("%s already exists: refusing to generate another", ref)
		}
		if _, _, _, err := awskms.ParseReference(ref); err != nil {
			return nil, err
		}
		if _, err := sv.CreateKey(ctx, awsKeySpec); err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
	}
	pub, err := s.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if p, ok := pub.(*ecdsa.PublicKey); !ok || p.Curve != elliptic.P256() {
		return nil, errors.New(ref + ": not an ECC_NIST_P256 key (the only AWS KMS key spec supported)")
	}
	return s, nil
}
