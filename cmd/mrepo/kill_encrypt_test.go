package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/killtest"
)

// killFleetRecipient is a fleet key's recipient (test-only; its private
// key is not kept).
const killFleetRecipient = "age1tag1qwyma6qs55zuyavv6k5d3zk8urjdggu59yf6pk2qeqxyllvnmds4xa4uk7q"

// TestKillAddTargetEncrypted kills `mrepo add-target --encrypt --delivery
// fleet --delta-from PREVIOUS` (SIGKILL) part-way, as TestKillAddTarget
// does an unencrypted one: at crash points (every MiB encrypted, every
// MiB of the previous version decrypted into tmp/ for the patch, every
// fsync and rename of a target, the envelope and the metadata), then at random
// times. After every kill `mrepo verify` passes, the version is complete
// or absent, any plaintext left in the private tmp/ directory is 0600 in
// a 0700 directory, and the next add-target (reusing the content key the
// killed run stored) publishes it and leaves no plaintext behind.
func TestKillAddTargetEncrypted(t *testing.T) {
	seed, maxPoints, timed, rng := killtest.Begin(t, "MREPO", 20261204, [2]int{16, 8}, [2]int{4, 2})

	k := newKillEnv(t)
	k.env = append(k.env, "MREPO_CONTENT_PASSPHRASE=test-only-content-passphrase")
	k.entries = 5 // manifest.json, weights.bin, labels.txt, deltas/, keys/
	payload := make([]byte, killPayloadSize)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 7}).Read(payload)
	if err := os.WriteFile(filepath.Join(k.bundle, "labels.txt"), []byte("cat\ndog\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Each version's weights differ from the previous one's in one byte,
	// so the patch from it is published.
	bundleFor := func(i int) string {
		payload[i*4099%len(payload)] ^= byte(i) | 1
		if err := os.WriteFile(filepath.Join(k.bundle, "weights.bin"), payload, 0o644); err != nil {
			t.Fatal(err)
		}
		v := fmt.Sprintf("1.0.%d", i)
		k.writeManifest(v)
		return v
	}
	addArgs := func(prev string) []string {
		args := []string{"add-target", "--repo", k.repo, "--keys", k.keys, "--encrypt", "--delivery", "fleet", "--fleet-recipient", killFleetRecipient}
		if prev != "" {
			args = append(args, "--delta-from", prev)
		}
		return append(args, k.bundle)
	}
	prev := bundleFor(0)
	if out, err := k.run(addArgs("")...); err != nil {
		t.Fatalf("first version: %v\n%s", err, out)
	}
	next := 1
	v := bundleFor(next)
	start := time.Now()
	trace := killtest.Trace(t, k.command(addArgs(prev)...))
	total := time.Since(start)
	t.Logf("uninterrupted add-target --encrypt with a patch: %v, %d crash points", total.Round(time.Millisecond), len(trace))
	k.verify("after the traced run")
	prev, next = v, next+1

	tmpDir := filepath.Join(k.repo, "tmp")
	// check runs after every kill: the repository verifies, the version is
	// all there (4 targets) or absent, plaintext left is private, and the
	// next add-target succeeds and removes it.
	check := func(i int, v, where string) {
		t.Helper()
		k.verify(fmt.Sprintf("after kill #%d (%s)", i, where))
		if entries, err := os.ReadDir(tmpDir); err == nil {
			if fi, _ := os.Stat(tmpDir); fi.Mode().Perm() != 0o700 {
				t.Errorf("kill #%d: tmp/ has mode %v", i, fi.Mode().Perm())
			}
			for _, e := range entries {
				if fi, _ := e.Info(); fi != nil && fi.Mode().Perm() != 0o600 {
					t.Errorf("kill #%d: tmp/%s has mode %v", i, e.Name(), fi.Mode().Perm())
				}
			}
		}
		switch n := k.publishedTargets(v); n {
		case 4:
			prev, next = v, next+1
			v = bundleFor(next)
		case 0:
		default:
			t.Fatalf("kill #%d (%s): version %s is partly published: %d targets", i, where, v, n)
		}
		if out, err := k.run(addArgs(prev)...); err != nil {
			t.Fatalf("add-target %s after kill #%d (%s): %v\n%s", v, i, where, err, out)
		}
		if n := k.visibleTargets(v); n != 4 {
			t.Fatalf("add-target %s after kill #%d: %d targets published", v, i, n)
		}
		if entries, _ := os.ReadDir(tmpDir); len(entries) != 0 {
			t.Fatalf("after add-target %s: %d files left in tmp/", v, len(entries))
		}
		prev, next = v, next+1
	}

	k.kills(t, trace, total, maxPoints, timed, rng, func() (string, *exec.Cmd) {
		return bundleFor(next), k.command(addArgs(prev)...)
	}, check)
	k.verify("at the end")
	if tmp := k.tempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left after a successful add-target: %v", tmp)
	}
}
