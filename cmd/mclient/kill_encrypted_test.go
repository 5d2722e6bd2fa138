package main

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/devicekey"
	"github.com/edgetuf/edgetuf/internal/killtest"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
)

// TestKillEncryptedUpdate kills `mclient update` (SIGKILL) part-way
// through updates to encrypted versions (per-device delivery to the
// device key `mclient device-key create` made): at every crash point of
// the decryption (client.decrypt.*) and at a sample of the others. After
// every kill the active version must verify, a device that had one must
// still have one, no file outside staging may hold any 64-byte window of
// the new version's plaintext unless its version directory is in place
// (complete and verified), and the next update must install the new
// version. MCLIENT_KILL_SEED and MCLIENT_KILL_ITERATIONS as for
// TestKillUpdate.
func TestKillEncryptedUpdate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	t.Parallel()
	seed := killtest.Seed(t, "MCLIENT_KILL_SEED", 20261204)
	maxPoints := killtest.Count(t, "MCLIENT_KILL_ITERATIONS", 8, 4)
	rng := killtest.RNG(seed)

	base := t.TempDir()
	k, url, root := newKillEnv(t, base)
	k.updateArgs = []string{"--model-id", killModel}
	k.state = filepath.Join(base, "device")
	k.mustRun("init", "--state", k.state, "--root", root, "--repo-url", url)
	k.mustRun("device-key", "create", "--state", k.state, "--backend", "file")
	pem, err := os.ReadFile(filepath.Join(k.state, "device-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := devicekey.ParseFileKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	recipient, err := modelcrypt.Recipient(priv.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	plains := map[string][]byte{}
	publish := func(n int) string {
		v := k.version(n)
		p := make([]byte, killPayloadSize)
		rand.NewChaCha8([32]byte{byte(n), byte(seed), 7}).Read(p)
		plains[v] = p
		k.repo.Publish(t, killModel, v, map[string][]byte{"model.bin": p, "labels.txt": []byte("cat\ndog\n")}, targets.Compat{})
		k.repo.EncryptVersion(t, killModel, v, testrepo.EncryptOptions{Delivery: targets.DeliveryDevice, Recipients: []string{recipient}})
		return v
	}
	update := func() *exec.Cmd { return k.command(append([]string{"update", "--state", k.state}, k.updateArgs...)...) }

	publish(0)
	k.mustRun(append([]string{"update", "--state", k.state}, k.updateArgs...)...)
	publish(1)
	trace := killtest.Trace(t, update())
	if st := k.status(); st.Version != k.version(1) {
		t.Fatalf("after the traced update: %+v", st)
	}
	var counts []int
	for i, name := range trace {
		if strings.HasPrefix(name, "client.decrypt.") {
			counts = append(counts, i+1)
		}
	}
	if len(counts) == 0 {
		t.Fatalf("an encrypted update passed no decryption crash point: %v", trace)
	}
	counts = append(counts, killtest.Sample(trace, maxPoints, rng)...)

	n := 2
	for _, c := range counts {
		v := publish(n)
		before := k.status()
		res := killtest.CrashAt(t, update(), c)
		st := k.status()
		t.Logf("crash at %d/%d (%s) updating to %s: finished %v; status names %q", c, len(trace), trace[c-1], v, res.Finished, st.Version)
		if before.Version != "" && st.Version == "" {
			t.Fatalf("%s was active before the kill, none is now", before.Version)
		}
		if st.Version != before.Version && st.Version != v {
			t.Fatalf("status names %s, neither %s nor %s", st.Version, before.Version, v)
		}
		if out, err := k.run("verify", "--state", k.state, "--model-id", killModel); err != nil {
			t.Fatalf("verify after the kill: %v\n%s", err, out)
		}
		wantNoPlaintextOutsideStaging(t, k.state, v, plains[v])
		k.mustRun(append([]string{"update", "--state", k.state}, k.updateArgs...)...)
		if after := k.status(); after.Version != v || after.Trial {
			t.Fatalf("the update after the kill: %+v, want %s confirmed", after, v)
		}
		os.RemoveAll(filepath.Join(k.repo.Dir, "targets", "models", killModel, k.version(n-2)))
		n++
	}
	if staged, _ := os.ReadDir(filepath.Join(k.state, "staging", killModel)); len(staged) > 0 {
		t.Errorf("staging is not empty after the final update: %d entries", len(staged))
	}
}

// wantNoPlaintextOutsideStaging fails if a file of the state directory
// outside staging/, other than in v's version directory once it is in
// place, holds a 64-byte window of plain (any such window holds one of
// plain's 32-byte blocks at a multiple of 32 whole).
func wantNoPlaintextOutsideStaging(t *testing.T, state, v string, plain []byte) {
	t.Helper()
	idx := map[string]bool{}
	for i := 0; i+32 <= len(plain); i += 32 {
		idx[string(plain[i:i+32])] = true
	}
	installed := filepath.Join(state, "models", killModel, v)
	filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (p == filepath.Join(state, "staging") || p == installed) {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for i := 0; i+32 <= len(data); i++ {
			if idx[string(data[i:i+32])] {
				t.Errorf("%s holds plaintext of %s outside staging", strings.TrimPrefix(p, state+"/"), v)
				return nil
			}
		}
		return nil
	})
}
