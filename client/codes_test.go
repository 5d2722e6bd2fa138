package client

import (
	"os"
	"strings"
	"testing"
)

// TestRolloutCodesStable: the rollout codes are part of the API, spelled
// as documented, each explained in docs/error-codes.md; IsDeferral says
// which ones exit 75.
func TestRolloutCodesStable(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/error-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	for code, deferral := range map[Code]bool{
		CohortExcluded: false, Revoked: false,
		DeferredBattery: true, DeferredNetwork: true, DeferredMetered: true, DeferredStorage: true,
		DeferredUserSettings: true, DeferredQuietWindow: true, DeferredVerifyFailures: true, Backoff: true,
	} {
		if !strings.Contains(string(doc), "| `"+string(code)+"` |") {
			t.Errorf("%s is not a row of docs/error-codes.md", code)
		}
		if IsDeferral(code) != deferral {
			t.Errorf("IsDeferral(%s) = %v", code, !deferral)
		}
	}
	for code, want := range map[Code]string{CohortExcluded: "COHORT_EXCLUDED", Revoked: "REVOKED", DeferredBattery: "DEFERRED_BATTERY",
		DeferredNetwork: "DEFERRED_NETWORK", DeferredMetered: "DEFERRED_METERED", DeferredStorage: "DEFERRED_STORAGE",
		DeferredUserSettings: "DEFERRED_USER_SETTINGS", DeferredQuietWindow: "DEFERRED_QUIET_WINDOW",
		DeferredVerifyFailures: "DEFERRED_VERIFY_FAILURES", Backoff: "BACKOFF"} {
		if string(code) != want {
			t.Errorf("%s spelled %s", want, code)
		}
	}
	for _, c := range []Code{Network, HealthcheckFailed, Incompatible, PolicyRejected} {
		if IsDeferral(c) {
			t.Errorf("%s is a deferral", c)
		}
	}
}

// TestStopAndBusyCodesDocumented: INTERRUPTED (a signal), BUSY (the lock
// is held) and ANTI_ROLLBACK_UNAVAILABLE (the TPM store) are spelled as
// documented, rows of docs/error-codes.md, and none is a deferral.
func TestStopAndBusyCodesDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/error-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[Code]string{Interrupted: "INTERRUPTED", Busy: "BUSY", Cancelled: "CANCELLED", AntiRollbackUnavailable: "ANTI_ROLLBACK_UNAVAILABLE"} {
		if string(code) != want || !strings.Contains(string(doc), "| `"+want+"` |") || IsDeferral(code) {
			t.Errorf("%s: spelled %s, documented %v, deferral %v", want, code, strings.Contains(string(doc), "| `"+want+"` |"), IsDeferral(code))
		}
	}
}

// TestEncryptionCodesDocumented: KEY_UNAVAILABLE, DECRYPT_FAILED and
// DEVICE_KEY_UNAVAILABLE are spelled as documented, rows of
// docs/error-codes.md, none a deferral; the skip events are named as
// documented in docs/client.md.
func TestEncryptionCodesDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/error-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile("../docs/client.md")
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[Code]string{KeyUnavailable: "KEY_UNAVAILABLE", DecryptFailed: "DECRYPT_FAILED", DeviceKeyUnavailable: "DEVICE_KEY_UNAVAILABLE"} {
		if string(code) != want || !strings.Contains(string(doc), "| `"+want+"` |") || IsDeferral(code) {
			t.Errorf("%s: spelled %s, documented %v, deferral %v", want, code, strings.Contains(string(doc), "| `"+want+"` |"), IsDeferral(code))
		}
	}
	for _, ev := range []string{EventKeyUnavailable, EventDecryptFailed} {
		if !strings.Contains(string(guide), "`"+ev+"`") {
			t.Errorf("event %s is not in docs/client.md", ev)
		}
	}
}
