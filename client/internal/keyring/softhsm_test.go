//go:build cgo

package keyring

import (
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/pkcs11tok"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/miekg/pkcs11"

	_ "github.com/edgetuf/edgetuf/devicekey/pkcs11key" // the PKCS#11 backend
)

// TestFleetKeyInSoftHSM: a fleet key made by the release team (a PKCS#8
// file) and imported into a PKCS#11 token (softhsm2-util --import, then
// CKA_DERIVE set, as docs/client.md says) opens a fleet envelope through its pkcs11: URI.
// Skipped without SoftHSM2, as the other token tests are.
func TestFleetKeyInSoftHSM(t *testing.T) {
	h := backendtest.InProcessSoftHSM(t, "edgetuf-fleet")
	path, pub := fleetKeyFile(t)
	if out, err := h.Util("--import", path, "--token", h.Token, "--label", "fleet", "--id", "f1ee", "--pin", h.PIN); err != nil {
		t.Fatalf("softhsm2-util --import: %v\n%s", err, out)
	}
	// softhsm2-util imports the key without CKA_DERIVE: allow ECDH, as
	// the token tool's import option does (pkcs11-tool --usage-derive).
	h.WithPrivateKey(t, "fleet", func(tok *pkcs11tok.Token, priv pkcs11.ObjectHandle) error {
		return tok.Ctx.SetAttributeValue(tok.Session, priv, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_DERIVE, true)})
	})
	env, enc := grant(t, pub, targets.DeliveryFleet, "1.0.0", "")
	k := &Keys{Dir: t.TempDir(), FleetRef: h.URI("fleet")}
	ck, err := k.Open(env, enc, "det", "1.0.0", time.Now())
	if err != nil || ck.Recipient() != enc.Recipient {
		t.Fatalf("Open with the token's fleet key: %v", err)
	}
	if !k.Fleet.Public().Equal(pub) {
		t.Fatal("the token's key is not the imported one")
	}
}
