package backendtest

import (
	"testing"

	"github.com/edgetuf/edgetuf/internal/tpmdev"
	"github.com/google/go-tpm/tpm2"
)

// Clear issues TPM2_Clear with the lockout hierarchy's empty auth, as an
// attacker with root on a device whose lockout auth was never set can:
// every owner-hierarchy NV index (the anti-rollback counters among them)
// is deleted.
func (s *SWTPM) Clear(t testing.TB) {
	t.Helper()
	tpm, err := tpmdev.Open(s.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	if _, err := (tpm2.Clear{AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHLockout, Auth: tpm2.PasswordAuth(nil)}}).Execute(tpm); err != nil {
		t.Fatalf("TPM2_Clear: %v", err)
	}
}
