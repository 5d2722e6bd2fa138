package archtest

import (
	"strings"
	"testing"
)

// TestStatusReadsOnly: mrepo status's engine (package status) reads a
// repository without keys and writes nothing. It imports no key storage,
// no writer and no file-writing helper itself, and links no repository
// writer, auditor, server, client or command. (It links package staged,
// and through it keys, for staged.List, which only reads staged files.)
// No device binary links it.
func TestStatusReadsOnly(t *testing.T) {
	t.Parallel()
	for dep := range directImports(t, "status") {
		if writerPackage(dep) {
			t.Errorf("status imports %s", dep)
		}
	}
	for dep := range deps(t, "status") {
		if dep == "repo" || strings.HasPrefix(dep, "cmd/") || dep == "internal/testrepo" || dep == "audit" || dep == "server" || dep == "client" {
			t.Errorf("status depends on %s", dep)
		}
	}
	for _, pkg := range []string{"cmd/mclient", "client"} {
		if deps(t, pkg)["status"] {
			t.Errorf("%s depends on status: a device binary must not link repository code", pkg)
		}
	}
}

// TestDelegationTreeReadsOnly: package delegation (its rules and the
// delegation tree that the writer and status share) links no writer, no
// key storage and nothing that writes files.
func TestDelegationTreeReadsOnly(t *testing.T) {
	t.Parallel()
	for dep := range deps(t, "delegation") {
		if writerPackage(dep) {
			t.Errorf("delegation depends on %s", dep)
		}
	}
}
