package archtest

import (
	"strings"
	"testing"
)

// TestKeyServiceStaysOnThePublishingSide: the key service (keyserver)
// holds content keys; no device binary links it, nor the content key
// store. The device's half of the protocol (client/internal/keyaccess)
// links neither, nor anything repository-side: what both ends share
// (the proof, the messages) is in modelcrypt. The key service links no
// device code.
func TestKeyServiceStaysOnThePublishingSide(t *testing.T) {
	t.Parallel()
	for _, dev := range []string{"cmd/mclient", "client", "client/internal/keyaccess"} {
		d := deps(t, dev)
		for _, forbidden := range append([]string{"keyserver", "contentkeys", "cmd/mrepo"}, repositorySide...) {
			if d[forbidden] {
				t.Errorf("%s depends on %s: a device binary must not link the key service or content keys", dev, forbidden)
			}
		}
	}
	for dep := range deps(t, "keyserver") {
		if dep == "client" || strings.HasPrefix(dep, "client/") || strings.HasPrefix(dep, "cmd/") || dep == "repo" || dep == "keys" {
			t.Errorf("keyserver depends on %s", dep)
		}
	}
}
