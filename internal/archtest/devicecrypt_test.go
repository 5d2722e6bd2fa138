package archtest

import "testing"

// TestDeviceDecryptionLinksNoContentKeyStore: the device side of
// encrypted versions (client/internal/sealed, which decrypts, and
// client/internal/keyaccess, which fetches envelopes) and every device
// binary link modelcrypt but never the content key store (contentkeys)
// nor anything that publishes; the small packages that moved out of
// client (backoff, report, tufcli) stay below it like its other
// mechanisms, and report, the result types, reads no files.
func TestDeviceDecryptionLinksNoContentKeyStore(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"client/internal/sealed", "client/internal/keyaccess", "client", "cmd/mclient"} {
		d := deps(t, pkg)
		if d["contentkeys"] {
			t.Errorf("%s depends on contentkeys: a device links no content key store", pkg)
		}
		if pkg != "cmd/mclient" && pkg != "client" && !d["modelcrypt"] {
			t.Errorf("%s does not use modelcrypt: decryption must be the one format's", pkg)
		}
	}
	for dep := range deps(t, "client/internal/report") {
		if dep == "internal/safefs" || dep == "internal/atomicfs" || dep == "client/internal/devstate" {
			t.Errorf("client/internal/report depends on %s: it only describes results", dep)
		}
	}
}
