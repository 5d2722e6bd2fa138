package archtest

import "testing"

// TestKeyringOpensOnly: client/internal/keyring opens the device's keys
// and key envelopes and nothing else: it fetches nothing (key envelopes
// come from keyaccess or the state directory), and neither it nor the
// reading side that uses it (verifiedread) links the publishing side's
// content key store.
func TestKeyringOpensOnly(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"client/internal/keyring", "client/internal/verifiedread"} {
		d := deps(t, pkg)
		if d["contentkeys"] {
			t.Errorf("%s depends on contentkeys: a device holds no content key store", pkg)
		}
	}
	d := deps(t, "client/internal/keyring")
	for _, forbidden := range []string{"client/internal/transport", "client/internal/keyaccess", "client/internal/devstate"} {
		if d[forbidden] {
			t.Errorf("client/internal/keyring depends on %s: it opens keys, it reads and fetches nothing", forbidden)
		}
	}
}
