package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestQuickstart runs the README's Quickstart as a user pastes it into
// bash at the root of the repository (offline: GOPROXY=off), and checks
// that it ends with detector 1.1.0 active on the device. The block must
// work as written: it builds mrepo and mclient, serves on a free port
// and waits for the server's address file rather than sleeping.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds mrepo and mclient and runs the whole Quickstart")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go on PATH")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := quickstartBlock(t, readme)
	// As pasted, but stopping at the first failure, and never leaving the
	// server behind.
	script := "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + block
	cmd := exec.Command(bash, "-c", script)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir(), "GOPROXY=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the Quickstart failed: %v\n%s", err, out)
	}
	for _, re := range []string{
		`(?m)^serving at http://127\.0\.0\.1:\d+$`,
		`(?m)^  active: +1\.1\.0$`,
		`"event":`,
	} {
		if !regexp.MustCompile(re).Match(out) {
			t.Errorf("no %s in the Quickstart's output:\n%s", re, out)
		}
	}
}

// quickstartBlock returns the first ```sh block after "## Quickstart".
func quickstartBlock(t *testing.T, readme []byte) string {
	t.Helper()
	_, after, ok := bytes.Cut(readme, []byte("\n## Quickstart\n"))
	if !ok {
		t.Fatal("README.md has no Quickstart section")
	}
	_, after, ok = bytes.Cut(after, []byte("\n```sh\n"))
	if !ok {
		t.Fatal("the Quickstart has no ```sh block")
	}
	block, _, ok := bytes.Cut(after, []byte("\n```\n"))
	if !ok {
		t.Fatal("the Quickstart's ```sh block does not end")
	}
	return string(block) + "\n"
}
