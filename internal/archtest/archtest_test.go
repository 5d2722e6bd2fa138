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
	}
}

func TestDependenciesPointOneWay(t *testing.T) {
	t.Parallel()
	rules := map[string][]string{
		"targets":       {"repo", "keys", "client", "anti_rollback"},
		"anti_rollback": {"repo", "keys", "client"},
		"keys":          {"repo", "client"},
		"repo":          {"client", "anti_rollback"},
		"delta":         {"repo", "keys", "client", "anti_rollback", "targets", "internal/testrepo"},
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
