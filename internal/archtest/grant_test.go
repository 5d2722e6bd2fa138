package archtest

import (
	"strings"
	"testing"
)

// TestGrantIsPublishingSide: package grant (mrepo grant: content keys
// wrapped for enrolled devices) is repository-side code that holds a
// content key: no device binary links it, and it links no device code,
// no key service, auditor, server or command. It takes the key from its
// caller (a contentkeys.Store) rather than linking the store itself.
func TestGrantIsPublishingSide(t *testing.T) {
	t.Parallel()
	for dep := range deps(t, "grant") {
		if dep == "client" || strings.HasPrefix(dep, "client/") || dep == "devicekey" || strings.HasPrefix(dep, "cmd/") ||
			dep == "audit" || dep == "server" || dep == "contentkeys" || dep == "internal/testrepo" {
			t.Errorf("grant depends on %s", dep)
		}
	}
	for _, pkg := range []string{"cmd/mclient", "client"} {
		if deps(t, pkg)["grant"] {
			t.Errorf("%s depends on grant: a device binary must not link the publishing side", pkg)
		}
	}
}
