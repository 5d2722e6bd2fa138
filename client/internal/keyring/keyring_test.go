package keyring

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
)

// fleetKeyFile writes a fleet key as the release team makes one (PKCS#8
// PEM, P-256, mode 0600) and returns its path and public key. Test-only.
func fleetKeyFile(t *testing.T) (string, *ecdh.PublicKey) {
	t.Helper()
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fleet.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, priv.PublicKey()
}

// grant seals the content key of det 1.0.0 for pub and returns the
// envelope and the version's signed encryption.
func grant(t *testing.T, pub *ecdh.PublicKey, delivery, version string, notAfter string) ([]byte, *targets.Encryption) {
	t.Helper()
	ck, err := modelcrypt.NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := modelcrypt.Recipient(pub)
	if err != nil {
		t.Fatal(err)
	}
	r, err := modelcrypt.ParseRecipient(rs)
	if err != nil {
		t.Fatal(err)
	}
	env, err := modelcrypt.SealEnvelope(r, modelcrypt.Grant{ModelID: "det", Version: version, ContentKey: ck.String(), NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	return env, &targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: ck.Recipient(), Delivery: delivery}
}

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if codes.CodeOf(err) != code {
		t.Fatalf("error %v, want %s", err, code)
	}
}

// TestFleetKeyFile: a fleet envelope opens with the fleet key file that
// client.json names, opened on first use; the device key is not touched
// (none is configured), and a device-delivered version without a device
// key is KEY_UNAVAILABLE.
func TestFleetKeyFile(t *testing.T) {
	t.Parallel()
	path, pub := fleetKeyFile(t)
	k := &Keys{Dir: t.TempDir(), FleetRef: "file:" + path}
	env, enc := grant(t, pub, targets.DeliveryFleet, "1.0.0", "")
	ck, err := k.Open(env, enc, "det", "1.0.0", time.Now())
	if err != nil || ck.Recipient() != enc.Recipient {
		t.Fatalf("Open: %v", err)
	}
	if k.Fleet == nil || k.Device != nil {
		t.Fatalf("opened keys: fleet %v, device %v", k.Fleet, k.Device)
	}
	// The same envelope named for delivery "device": the device key.
	enc.Delivery = targets.DeliveryDevice
	_, err = k.Open(env, enc, "det", "1.0.0", time.Now())
	wantCode(t, err, codes.KeyUnavailable)
	enc.Delivery = targets.DeliveryKeyServer
	_, err = k.Open(env, enc, "det", "1.0.0", time.Now())
	wantCode(t, err, codes.KeyUnavailable)
}

// TestFleetKeyRefusals: no fleet key configured is KEY_UNAVAILABLE; a
// configured one that is missing or readable by others is
// DEVICE_KEY_UNAVAILABLE (fail closed); another fleet's key, an envelope
// of another version or an expired one is DECRYPT_FAILED.
func TestFleetKeyRefusals(t *testing.T) {
	t.Parallel()
	path, pub := fleetKeyFile(t)
	env, enc := grant(t, pub, targets.DeliveryFleet, "1.0.0", "")
	now := time.Now()
	_, err := (&Keys{}).Open(env, enc, "det", "1.0.0", now)
	wantCode(t, err, codes.KeyUnavailable)
	_, err = (&Keys{FleetRef: "file:" + path + ".missing"}).Open(env, enc, "det", "1.0.0", now)
	wantCode(t, err, devicekey.CodeUnavailable)
	os.Chmod(path, 0o644)
	_, err = (&Keys{FleetRef: "file:" + path}).Open(env, enc, "det", "1.0.0", now)
	wantCode(t, err, devicekey.CodeUnavailable)
	os.Chmod(path, 0o600)

	other, _ := fleetKeyFile(t)
	_, err = (&Keys{FleetRef: "file:" + other}).Open(env, enc, "det", "1.0.0", now)
	wantCode(t, err, codes.DecryptFailed)
	_, err = (&Keys{FleetRef: "file:" + path}).Open(env, enc, "det", "1.1.0", now)
	wantCode(t, err, codes.DecryptFailed)
	expired, enc2 := grant(t, pub, targets.DeliveryFleet, "1.0.0", now.Add(-time.Minute).UTC().Format(time.RFC3339))
	_, err = (&Keys{FleetRef: "file:" + path}).Open(expired, enc2, "det", "1.0.0", now)
	wantCode(t, err, codes.DecryptFailed)
}
