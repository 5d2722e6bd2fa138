// Package archtest checks the dependency rules of the project layout:
// dependencies point one way, and a device binary links no signing code.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/edgetuf/edgetuf/"

func deps(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	m := map[string]bool{}
	for _, line := range strings.Fields(string(out)) {
		m[strings.TrimPrefix(line, module)] = true
	}
	return m
}

func TestDeviceBinaryLinksNoSigningCode(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"cmd/mclient", "client"} {
		d := deps(t, pkg)
		for _, forbidden := range []string{"repo", "keys", "internal/testrepo"} {
			if d[forbidden] {
				t.Errorf("%s depends on %s: a device binary must not link signing code", pkg, forbidden)
			}
		}
		// Nor repository-side code that holds no keys: the auditor, the
		// static server and the layout they share with the writer.
		for _, forbidden := range []string{"audit", "server", "internal/repofiles"} {
			if d[forbidden] {
				t.Errorf("%s depends on %s: a device binary must not link repository code", pkg, forbidden)
			}
		}
	}
}

func TestDependenciesPointOneWay(t *testing.T) {
	t.Parallel()
	rules := map[string][]string{
		"targets":       {"repo", "keys", "client", "anti_rollback"},
		"anti_rollback": {"repo", "keys", "client"},
		// The TPM store: device code, linked by mclient and the client.
		"anti_rollback/tpmstore": {"repo", "keys", "client"},
		"keys":                   {"repo", "client"},
		"repo":                   {"client", "anti_rollback"},
		"delta":                  {"repo", "keys", "client", "anti_rollback", "targets", "internal/testrepo"},
		// Shared by the writer and the auditor: they must not pull the
		// writer or key storage into the auditor.
		"internal/repofiles": {"repo", "keys", "client"},
		"internal/pubkey":    {"repo", "keys", "client"},
		"internal/duration":  {"repo", "keys", "client"},
	}
	for pkg, forbidden := range rules {
		d := deps(t, pkg)
		for _, f := range forbidden {
			if d[f] {
				t.Errorf("%s must not depend on %s", pkg, f)
			}
		}
	}
}

// TestDeltaKnowsNoTUF: the delta algorithm is plain file diffing; what may
// be applied to what is decided by its callers from signed metadata.
func TestDeltaKnowsNoTUF(t *testing.T) {
	t.Parallel()
	for dep := range deps(t, "delta") {
		if strings.Contains(dep, "theupdateframework") || strings.Contains(dep, "securesystemslib") || strings.Contains(dep, "sigstore") {
			t.Errorf("delta depends on %s", dep)
		}
	}
}

// writerPackages are the packages that write a repository or hold keys,
// and the commands and test support that use them: a package a third
// party imports to audit or serve a repository must link none of them.
func writerPackage(dep string) bool {
	return under(dep, "repo", "keys", "cmd", "internal/testrepo", "internal/atomicfs", "internal/keyringtest", "internal/backendtest", "internal/rolesign")
}

// under says whether dep is one of roots or a package below one.
func under(dep string, roots ...string) bool {
	for _, p := range roots {
		if dep == p || strings.HasPrefix(dep, p+"/") {
			return true
		}
	}
	return false
}

// TestAuditorLinksNoWriter: the auditor (mrepo verify's engine) needs no
// keys and writes nothing; a third party auditing a repository must not
// link the writer, key storage or signing backends.
func TestAuditorLinksNoWriter(t *testing.T) {
	t.Parallel()
	for dep := range deps(t, "audit") {
		if writerPackage(dep) || dep == "client" || dep == "server" {
			t.Errorf("audit depends on %s", dep)
		}
	}
}

// TestServerLinksNoWriter: the static server holds no secrets and changes
// nothing; it must not link key storage or the writer.
func TestServerLinksNoWriter(t *testing.T) {
	t.Parallel()
	for dep := range deps(t, "server") {
		if writerPackage(dep) || dep == "client" || dep == "audit" {
			t.Errorf("server depends on %s", dep)
		}
	}
}
