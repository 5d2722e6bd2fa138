package archtest

import "testing"

// TestRulesPackagesStandAlone: the packages that decide on metadata alone
// what the writer then signs link no writer, no key storage, no target
// store, staged format, auditor, server or client, and no device binary
// links them: rollout control (rollout), a publication's rules (release)
// and mrepo.json (internal/repoconfig, which reads it; the writer writes
// it). rollout and release read no files at all.
func TestRulesPackagesStandAlone(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"rollout", "release", "internal/repoconfig"} {
		for dep := range deps(t, pkg) {
			if writerPackage(dep) || dep == "targetstore" || dep == "staged" || dep == "audit" || dep == "server" || dep == "client" ||
				pkg != "internal/repoconfig" && dep == "internal/repofiles" {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
		for _, dev := range []string{"cmd/mclient", "client"} {
			if deps(t, dev)[pkg] {
				t.Errorf("%s depends on %s: a device binary must not link repository code", dev, pkg)
			}
		}
	}
}
