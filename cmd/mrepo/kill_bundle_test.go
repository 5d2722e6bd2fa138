package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/killtest"
)

// killBundleFiles is how many payload files the many-file bundle has:
// enough that add-target stores them several at once and commits them
// as one batch (targetstore.putPlainFiles, atomicfs.Batch).
const killBundleFiles = 200

// metadataPoints is how many crash points at the end of the traced run
// TestKillAddTargetManyFiles kills at, one by one: the directory fsync of
// the batch and the metadata writes.
const metadataPoints = 8

// TestKillAddTargetManyFiles kills `mrepo add-target` of a bundle of 200
// small files (SIGKILL) part-way, as TestKillAddTarget does a bundle of
// two: at crash points (every copy, fsync and rename of a target file,
// every metadata write) and at random times. Each version has new bytes
// in every file, so each file is copied, none linked. After every kill
// `mrepo verify` passes, the version is complete or absent, and every
// file that has its hash-addressed name in the version's directory holds
// the bytes that name says (the batch names a file only after its bytes
// are complete); then the next add-target publishes the version.
func TestKillAddTargetManyFiles(t *testing.T) {
	_, maxPoints, timed, rng := killtest.Begin(t, "MREPO", 20261205, [2]int{10, 5}, [2]int{3, 1})

	k := newKillEnv(t)
	k.entries = killBundleFiles + 1 // and manifest.json
	bundleFor := func(v string) {
		for i := range killBundleFiles {
			data := make([]byte, 1024+rng.IntN(3072))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			if err := os.WriteFile(filepath.Join(k.bundle, fmt.Sprintf("shard-%03d.bin", i)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		k.writeManifest(v)
	}
	bundleFor("1.0.0")
	began := time.Now()
	trace := killtest.Trace(t, k.command("add-target", "--repo", k.repo, "--keys", k.keys, k.bundle))
	total := time.Since(began)
	t.Logf("uninterrupted add-target of %d files: %v, %d crash points", killBundleFiles, total.Round(time.Millisecond), len(trace))
	k.verify("after the traced run")

	next := 1
	check := k.afterKill(t, &next, bundleFor, k.checkNamedFiles)
	start := func() (string, *exec.Cmd) {
		v := fmt.Sprintf("1.0.%d", next)
		bundleFor(v)
		return v, k.command("add-target", "--repo", k.repo, "--keys", k.keys, k.bundle)
	}
	landed := k.kills(t, trace, total, maxPoints, timed, rng, start, check)
	// Nearly every crash point is a file's copy, fsync or rename: the
	// sample above seldom lands on the metadata writes, the last few.
	var last []int
	for n := len(trace) - metadataPoints + 1; n <= len(trace); n++ {
		last = append(last, n)
	}
	k.killAt(t, trace, last, 100, landed, start, check)
	k.finish(t, landed, next, true, whereCopying, whereCommitted, whereTargets, whereSnapshot)
}

// checkNamedFiles fails unless every hash-addressed file
// (<sha256>.<name>) in the target directory of version holds bytes with
// that SHA-256: published or not, a name is only ever given to complete
// bytes.
func (k *killEnv) checkNamedFiles(version string) {
	k.t.Helper()
	dir := filepath.Join(k.repo, "targets", "models", "killtest", version)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		sum, _, ok := strings.Cut(e.Name(), ".")
		if !ok || len(sum) != 64 || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			k.t.Fatal(err)
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			k.t.Fatalf("%s/%s holds bytes with SHA-256 %x", version, e.Name(), got)
		}
	}
}
