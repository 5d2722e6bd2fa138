package grant_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/grant"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/killtest"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

// The environment of the grant process TestKillGrant kills: the
// repository, the devices file and the content key (a test-only key,
// made by the test).
const (
	envKillRepo    = "GRANT_KILL_REPO"
	envKillDevices = "GRANT_KILL_DEVICES"
	envKillKey     = "GRANT_KILL_KEY"
)

// TestKillGrantHelper is the grant that TestKillGrant runs in a child
// process and kills; run directly, it does nothing.
func TestKillGrantHelper(t *testing.T) {
	dir := os.Getenv(envKillRepo)
	if dir == "" {
		t.Skip("the child process of TestKillGrant")
	}
	f, err := os.Open(os.Getenv(envKillDevices))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := modelcrypt.ParseDevices(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	ck, err := modelcrypt.ParseContentKey(os.Getenv(envKillKey))
	if err != nil {
		t.Fatal(err)
	}
	grant.SetBatchSize(250)
	r, err := repo.Open(afero.NewOsFs(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := grant.Grant(r, memKeys{"det@1.0.0": ck}, "det", "1.0.0", grant.Options{Devices: ds}); err != nil {
		t.Fatal(err)
	}
}

// TestKillGrant kills mrepo grant's engine (SIGKILL, in a child process)
// at random moments while it writes 3,000 envelopes in batches of 250,
// and checks after
// each kill that every file under an envelope's name is a complete
// envelope that opens with its device's key and gives the content key
// (the rest are temporary files), and that the next grant removes the
// temporary files and completes the set. It asserts nothing about when
// a kill lands. The kill times are drawn from a seed
// (GRANT_KILL_SEED), so that a failing run can be repeated.
func TestKillGrant(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process several times")
	}
	rng := killtest.RNG(killtest.Seed(t, "GRANT_KILL_SEED", 20261205))
	p := publish(t, targets.DeliveryDevice)
	ds := newDevices(t, 3000)
	byName := map[string]device{}
	var lines strings.Builder
	for _, d := range ds {
		byName[modelcrypt.EnvelopeName(d.Recipient)] = d
		lines.WriteString(d.Recipient.String() + "\n")
	}
	devicesFile := filepath.Join(t.TempDir(), "devices.txt")
	if err := os.WriteFile(devicesFile, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillGrantHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), envKillRepo+"="+p.tr.Dir, envKillDevices+"="+devicesFile, envKillKey+"="+p.ck.String())
		return cmd
	}
	check := func(when string) (envelopes int) {
		t.Helper()
		entries, err := os.ReadDir(p.envelopeDir())
		if errors.Is(err, os.ErrNotExist) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if atomicfs.IsTemp(e.Name()) {
				continue
			}
			d, ok := byName[e.Name()]
			if !ok {
				t.Fatalf("%s: %s is neither a temporary file nor a device's envelope", when, e.Name())
			}
			env, err := os.ReadFile(filepath.Join(p.envelopeDir(), e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			ck, err := modelcrypt.OpenEnvelope(env, d, "det", "1.0.0", p.ck.Recipient(), now)
			if err != nil || ck.String() != p.ck.String() {
				t.Fatalf("%s: envelope %s (%d bytes) does not open: %v", when, e.Name(), len(env), err)
			}
			envelopes++
		}
		return envelopes
	}
	for i := range 5 {
		cmd := child()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill when the grant has begun writing (its first temporary
		// file), a random while later.
		for range 2000 {
			if entries, _ := os.ReadDir(p.envelopeDir()); len(entries) > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		t.Logf("kill %d: %d envelopes complete", i, check("after a kill"))
	}
	if out, err := child().CombinedOutput(); err != nil {
		t.Fatalf("the grant after the kills: %v\n%s", err, out)
	}
	if n := check("after the last grant"); n != len(ds) {
		t.Fatalf("%d envelopes after the last grant, want %d", n, len(ds))
	}
	entries, _ := os.ReadDir(p.envelopeDir())
	if len(entries) != len(ds) {
		t.Fatalf("%d files left in the envelope directory, want %d envelopes only", len(entries), len(ds))
	}
}
