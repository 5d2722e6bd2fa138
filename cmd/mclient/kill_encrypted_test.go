package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/killtest"
	"github.com/edgetuf/edgetuf/server"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// TestKillEncryptedUpdate kills `mclient update` (SIGKILL) part-way
// through updates to encrypted versions, published as a release team
// does, with the real mrepo (add-target --encrypt --delivery device, then
// grant to the device key `mclient device-key create` made): at every
// crash point of the decryption (client.decrypt.*) and at a sample of the
// others. After every kill the active version must verify, a device that
// had one must still have one, no file outside staging may hold any
// 64-byte window of the new version's plaintext unless its version
// directory is in place (complete and verified), and the next update must
// install the new version. MCLIENT_KILL_SEED and MCLIENT_KILL_ITERATIONS
// as for TestKillUpdate.
func TestKillEncryptedUpdate(t *testing.T) {
	seed, maxPoints, _, rng := killtest.Begin(t, "MCLIENT", 20261204, [2]int{8, 4}, [2]int{0, 0})

	base := t.TempDir()
	k := &killEnv{t: t, mclient: killtest.Build(t, "github.com/edgetuf/edgetuf/cmd/mclient")}
	pub := newMrepoPublisher(t, base)
	url := pub.serve(t, throttle(killRate))
	k.updateArgs = []string{"--model-id", killModel}
	k.state = filepath.Join(base, "device")
	k.mustRun("init", "--state", k.state, "--root", pub.root(), "--repo-url", url)
	k.mustRun("device-key", "create", "--state", k.state, "--backend", "file")
	var shown struct{ Recipient string }
	if err := json.Unmarshal(k.mustRun("device-key", "show", "--state", k.state, "--json"), &shown); err != nil {
		t.Fatal(err)
	}
	devices := filepath.Join(base, "devices.txt")
	if err := os.WriteFile(devices, []byte(shown.Recipient+" kill-test device\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plains := map[string][]byte{}
	publish := func(n int) string {
		v := k.version(n)
		p := make([]byte, killPayloadSize)
		rand.NewChaCha8([32]byte{byte(n), byte(seed), 7}).Read(p)
		plains[v] = p
		pub.publish(t, killModel, v, map[string][]byte{"model.bin": p, "labels.txt": []byte("cat\ndog\n")},
			"--encrypt", "--delivery", targets.DeliveryDevice)
		pub.run(t, "grant", "--devices", devices, killModel+"@"+v)
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
		os.RemoveAll(filepath.Join(pub.dir, "targets", "models", killModel, k.version(n-2)))
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

// mrepoPublisher publishes with the real mrepo (on PATH: TestMain builds
// it) into a repository directory, test-only passphrases in the
// environment.
type mrepoPublisher struct {
	dir, keys, bundles string
	env                []string
}

func newMrepoPublisher(t *testing.T, base string) *mrepoPublisher {
	t.Helper()
	p := &mrepoPublisher{
		dir: filepath.Join(base, "repo"), keys: filepath.Join(base, "keys"), bundles: filepath.Join(base, "bundles"),
		env: append(os.Environ(), "MREPO_PASSPHRASE=test-only-passphrase", "MREPO_CONTENT_PASSPHRASE=test-only-content-passphrase"),
	}
	p.run(t, "init")
	return p
}

// run runs mrepo CMD --repo DIR --keys DIR ARGS...
func (p *mrepoPublisher) run(t *testing.T, cmd string, args ...string) {
	t.Helper()
	c := exec.Command("mrepo", append([]string{cmd, "--repo", p.dir, "--keys", p.keys}, args...)...)
	c.Env = p.env
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("mrepo %s %s: %v\n%s", cmd, strings.Join(args, " "), err, out)
	}
}

// publish writes a bundle of files and publishes it with mrepo add-target
// ARGS.
func (p *mrepoPublisher) publish(t *testing.T, modelID, version string, files map[string][]byte, args ...string) {
	t.Helper()
	dir := filepath.Join(p.bundles, modelID+"-"+version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files["manifest.json"] = fmt.Appendf(nil, `{"model_id": %q, "version": %q}`, modelID, version)
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.run(t, "add-target", append(args, dir)...)
	os.RemoveAll(dir)
}

// root is the repository's first root, for mclient init.
func (p *mrepoPublisher) root() string { return filepath.Join(p.dir, "metadata", "1.root.json") }

// serve serves the repository directory on loopback, behind wrap.
func (p *mrepoPublisher) serve(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(wrap(server.Handler(afero.NewOsFs(), p.dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}
