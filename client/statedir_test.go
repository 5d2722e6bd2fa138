package client_test

// Attacks and mishaps inside the device's state directory: symbolic links
// (issue 10, item 10) and FIFOs (item 11). Each plants the link or file,
// runs an ordinary command, and checks that nothing outside the state
// directory changed, that the command failed with the documented code or
// repaired the state safely, and that the active model is what it was.
// Hard links are out of scope: they cannot be told from ordinary files,
// and whoever can make them in the state directory can rewrite it anyway.

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/targets"
)

// outside is a directory outside the state directory that links point
// into: a file, a directory with a file, and a copy of whatever the
// attack needs.
type outside struct {
	t   *testing.T
	dir string
}

func newOutside(t *testing.T) *outside {
	t.Helper()
	o := &outside{t: t, dir: filepath.Join(t.TempDir(), "outside")}
	for name, data := range map[string]string{"victim": "precious\n", "victimdir/inner": "also precious\n"} {
		o.write(name, []byte(data))
	}
	return o
}

func (o *outside) path(name string) string { return filepath.Join(o.dir, name) }

func (o *outside) write(name string, data []byte) {
	o.t.Helper()
	if err := os.MkdirAll(filepath.Dir(o.path(name)), 0o700); err != nil {
		o.t.Fatal(err)
	}
	if err := os.WriteFile(o.path(name), data, 0o600); err != nil {
		o.t.Fatal(err)
	}
}

// snapshot fingerprints everything under the directory, links included.
func (o *outside) snapshot() map[string]string {
	o.t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(o.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(o.dir, p)
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "link " + target
		case e.IsDir():
			out[rel] = "dir"
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("%x", sha256.Sum256(data))
		}
		return nil
	})
	if err != nil {
		o.t.Fatal(err)
	}
	return out
}

func (o *outside) wantUnchanged(before map[string]string) {
	o.t.Helper()
	after := o.snapshot()
	if fmt.Sprint(after) != fmt.Sprint(before) {
		o.t.Fatalf("the directory outside the state directory changed:\nbefore %v\nafter  %v", before, after)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// copyInto copies a file or directory of the state directory to the
// outside one (what an attacker swaps in behind a link).
func copyInto(t *testing.T, src, dst string) {
	t.Helper()
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if fi.IsDir() {
		copyTree(t, src, dst)
		return
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestStateDirSymlinks plants a link in each place of the state directory
// that the client reads, writes or removes, then runs a command. The
// target outside must be unchanged; the command either fails with
// STATE_INVALID (HASH_MISMATCH for verify of an installed version),
// leaving the active model as it was, or repairs the state (staging is
// scratch; a damaged installed version is re-installed; a damaged
// state.json is set aside) and completes.
func TestStateDirSymlinks(t *testing.T) {
	t.Parallel()
	type attack struct {
		name string
		// plant makes the link; o is the outside directory.
		plant func(t *testing.T, d *device, o *outside)
		op    string // update (default), verify, status, rollback
		want  client.Code
		// active is the version active afterwards (1.0.0 unless the run
		// repaired the state and updated to 1.1.0).
		active string
		// deltas: 1.1.0 is published with patches from 1.0.0; fallback:
		// the patch must not be used (the file is downloaded whole).
		deltas, fallback bool
	}
	staged := func(d *device) string { return d.path("staging", model, "1.1.0") }
	attacks := []attack{
		// Staging is scratch: a link there is removed, the run goes on.
		{name: "staging/<model> to a directory outside", active: "1.1.0", plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("victimdir"), d.path("staging", model))
		}},
		{name: "staging/<model> to a directory outside, up to date", op: "update-uptodate", active: "1.0.0", plant: func(t *testing.T, d *device, o *outside) {
			o.write("stagingcopy/1.0.0/model.bin.part", []byte("partial"))
			o.write("stagingcopy/0.9.0/x", []byte("x"))
			symlink(t, o.path("stagingcopy"), d.path("staging", model))
		}},
		{name: "staging/ to a directory outside", active: "1.1.0", plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("victimdir"), d.path("staging"))
		}},
		{name: "staging version directory", active: "1.1.0", plant: func(t *testing.T, d *device, o *outside) {
			// What the client would resume, truncate or remove there.
			o.write("victimdir/model.bin.part", []byte("precious\n"))
			o.write("victimdir/manifest.json.part", []byte("precious\n"))
			symlink(t, o.path("victimdir"), staged(d))
		}},
		{name: "staged .part file", active: "1.1.0", plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("victim"), filepath.Join(staged(d), "model.bin.part"))
		}},
		{name: "staged manifest .part file", active: "1.1.0", plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("victim"), filepath.Join(staged(d), targets.ManifestName+".part"))
		}},
		{name: "staged deltas directory", deltas: true, active: "1.1.0", plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("victimdir"), filepath.Join(staged(d), targets.DeltasDir))
		}},
		{name: "staged FIFO", active: "1.1.0", plant: func(t *testing.T, d *device, o *outside) {
			mkfifo(t, filepath.Join(staged(d), "model.bin.part"))
		}},
		{name: "delta base file", deltas: true, fallback: true, active: "1.1.0", plant: func(t *testing.T, d *device, o *outside) {
			f := d.path("models", model, "1.0.0", "model.bin")
			copyInto(t, f, o.path("model.bin")) // the same bytes: only the link is wrong
			symlink(t, o.path("model.bin"), f)
		}},
		// A damaged installed version: verify says so, update re-installs.
		{name: "installed file of the active version, verify", op: "verify", want: client.HashMismatch, active: "1.0.0", plant: func(t *testing.T, d *device, o *outside) {
			f := d.path("models", model, "1.0.0", "model.bin")
			copyInto(t, f, o.path("model.bin")) // the same bytes: only the link is wrong
			symlink(t, o.path("model.bin"), f)
		}},
		{name: "installed file of the active version, update repairs", active: "1.0.0", op: "update-uptodate", plant: func(t *testing.T, d *device, o *outside) {
			f := d.path("models", model, "1.0.0", "model.bin")
			copyInto(t, f, o.path("model.bin"))
			symlink(t, o.path("model.bin"), f)
		}},
		{name: "installed manifest to a file outside, update repairs", op: "update-uptodate", active: "1.0.0", plant: func(t *testing.T, d *device, o *outside) {
			f := d.path("models", model, "1.0.0", targets.ManifestName)
			copyInto(t, f, o.path("manifest.json"))
			symlink(t, o.path("manifest.json"), f)
		}},
		{name: "old version's files and directory, removed by retention", op: "update-keep1", active: "1.1.0", plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("victim"), d.path("models", model, "1.0.0", "model.bin"))
			symlink(t, o.path("victimdir"), d.path("models", model, "1.0.0", "labels.txt"))
			symlink(t, o.path("victimdir"), d.path("models", model, "0.9.0"))
		}},
		{name: "active version directory, verify", op: "verify", want: client.HashMismatch, active: "1.0.0", plant: func(t *testing.T, d *device, o *outside) {
			v := d.path("models", model, "1.0.0")
			copyInto(t, v, o.path("v1"))
			symlink(t, o.path("v1"), v)
		}},
		{name: "active version directory, update repairs", op: "update-uptodate", active: "1.0.0", plant: func(t *testing.T, d *device, o *outside) {
			v := d.path("models", model, "1.0.0")
			copyInto(t, v, o.path("v1"))
			symlink(t, o.path("v1"), v)
		}},
		{name: "leftover install directory", active: "1.1.0", plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("victimdir"), d.path("models", model, ".install-1.1.0-x"))
			symlink(t, o.path("victim"), d.path("models", model, ".tmp-123"))
			symlink(t, o.path("victimdir"), d.path("anti-rollback", ".tmp-456"))
		}},
		// Damaged state: set aside, the marks counted as lost (fail
		// closed: 1.1.0, published now, is not taken; see
		// TestDamagedStateJSON for the way forward).
		{name: "state.json to a file outside", active: "1.0.0", plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("models", model, "state.json"), o.path("state.json"))
			symlink(t, o.path("state.json"), d.path("models", model, "state.json"))
		}},
		{name: "rotated event log", active: "1.1.0", plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("victim"), d.path("events.jsonl.1"))
			// A full log: the next event rotates it over the link.
			big := strings.Repeat(`{"time":"x","event":"checked","model_id":"det","device_class":"x"}`+"\n", (1<<20)/60)
			if err := os.WriteFile(d.path("events.jsonl"), []byte(big), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		// The rest holds trust, the active model or history: refused.
		{name: "models/<model>", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("models", model), o.path("det"))
			symlink(t, o.path("det"), d.path("models", model))
		}},
		{name: "models/<model>, status", op: "status", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("models", model), o.path("det"))
			symlink(t, o.path("det"), d.path("models", model))
		}},
		{name: "models/<model>, rollback", op: "rollback", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("models", model), o.path("det"))
			symlink(t, o.path("det"), d.path("models", model))
		}},
		{name: "models/", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("models"), o.path("models"))
			symlink(t, o.path("models"), d.path("models"))
		}},
		// A damaged pointer is set aside and the confirmed version
		// restored (see TestDamagedActiveJSON); the update goes on.
		{name: "active.json", active: "1.1.0", plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("models", model, "active.json"), o.path("active.json"))
			symlink(t, o.path("active.json"), d.path("models", model, "active.json"))
		}},
		{name: "event log", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("victim"), d.path("events.jsonl"))
		}},
		{name: "event log to a file not yet there", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("created-by-the-client"), d.path("events.jsonl"))
		}},
		{name: "lock", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("victim"), d.path("lock"))
		}},
		{name: "lock to a file not yet there", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("created-by-the-client"), d.path("lock"))
		}},
		{name: "anti-rollback copy", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("anti-rollback", model+".json"), o.path("floor.json"))
			symlink(t, o.path("floor.json"), d.path("anti-rollback", model+".json"))
		}},
		{name: "anti-rollback backup copy", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("anti-rollback", model+".json.bak"), o.path("floor.json.bak"))
			symlink(t, o.path("floor.json.bak"), d.path("anti-rollback", model+".json.bak"))
		}},
		{name: "anti-rollback/", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("anti-rollback"), o.path("ar"))
			symlink(t, o.path("ar"), d.path("anti-rollback"))
		}},
		{name: "metadata/", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("metadata"), o.path("metadata"))
			symlink(t, o.path("metadata"), d.path("metadata"))
		}},
		{name: "metadata/timestamp.json", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("metadata", "timestamp.json"), o.path("timestamp.json"))
			symlink(t, o.path("timestamp.json"), d.path("metadata", "timestamp.json"))
		}},
		{name: "metadata/snapshot.json a FIFO", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			mkfifo(t, d.path("metadata", "snapshot.json"))
		}},
		{name: "metadata-verified/, verify", op: "verify", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("metadata-verified"), o.path("mv"))
			symlink(t, o.path("mv"), d.path("metadata-verified"))
		}},
		{name: "metadata-verified.new/", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			symlink(t, o.path("victimdir"), d.path("metadata-verified.new"))
		}},
		{name: "trusted-root.json", want: client.StateInvalid, plant: func(t *testing.T, d *device, o *outside) {
			copyInto(t, d.path("trusted-root.json"), o.path("root.json"))
			symlink(t, o.path("root.json"), d.path("trusted-root.json"))
		}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			r, _, d := onV1(t)
			switch {
			case a.deltas:
				b := bundle(seedOf("1.0.0"), smallSize)
				copy(b["model.bin"][100:], []byte("a small change"))
				r.PublishWithDeltas(t, model, "1.1.0", b, targets.Compat{}, []string{"1.0.0"})
			case a.op == "" || a.op == "update-keep1":
				publish(t, r, smallSize, "1.1.0")
			}
			// A complete update leaves a previous version to roll back to.
			if a.op == "rollback" {
				publish(t, r, smallSize, "1.1.0")
				d.mustUpdate("1.1.0")
			}
			o := newOutside(t)
			a.plant(t, d, o)
			before := o.snapshot()
			activeBefore := readActive(t, d)

			var err error
			switch a.op {
			case "", "update-uptodate", "update-keep1":
				keep := 0
				if a.op == "update-keep1" {
					keep = 1
				}
				var res *client.Result
				res, err = d.update(client.UpdateRequest{Keep: keep})
				if err == nil && res.Version != a.active {
					t.Fatalf("update: active %s, want %s (%+v)", res.Version, a.active, res)
				}
				if a.deltas {
					want := client.MethodDelta
					if a.fallback {
						want = client.MethodDeltaFallback
					}
					if len(res.Files) == 0 || res.Files[len(res.Files)-1].Method != want {
						t.Fatalf("model.bin: want method %s: %+v", want, res.Files)
					}
				}
			case "verify":
				_, err = d.c.Verify(model)
			case "status":
				_, err = d.c.Status(model)
			case "rollback":
				_, err = d.c.Rollback(model)
			}
			if got := client.CodeOf(err); got != a.want {
				t.Fatalf("%s: code %q (%v), want %q", a.op, got, err, a.want)
			}
			o.wantUnchanged(before)
			if a.want != "" {
				// Refused: the active pointer is as it was.
				if got := readActive(t, d); got != activeBefore {
					t.Fatalf("active.json changed:\n%s\n->\n%s", activeBefore, got)
				}
				return
			}
			if a.op == "verify" || a.op == "status" || a.op == "rollback" {
				return
			}
			// Repaired: the device is on the version it should be, every
			// file a regular file that verifies, and staging holds no link.
			d.wantActive(a.active)
			d.wantNoLinks()
		})
	}
}

// readActive returns active.json's bytes as the application would read them.
func readActive(t *testing.T, d *device) string {
	t.Helper()
	data, _ := os.ReadFile(d.path("models", model, "active.json"))
	return string(data)
}

// wantNoLinks checks that no link or special file is left in staging/ or
// in the active version. (Elsewhere a link that was set aside or left
// alone, never followed, is evidence for a person to look at.)
func (d *device) wantNoLinks() {
	d.t.Helper()
	st := d.status()
	for _, top := range []string{d.path("staging"), st.Path} {
		filepath.WalkDir(top, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && !e.Type().IsRegular() {
				d.t.Fatalf("%s is left: %s", p, e.Type())
			}
			return nil
		})
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

// within runs fn and fails the test if it has not returned after a
// generous bound: the calls it runs must return promptly (a FIFO must not
// be opened), and the outcome is checked by the caller whatever the time.
func within[T any](t *testing.T, what string, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s did not return: it blocks (on a FIFO?)", what)
	}
	panic("unreachable")
}

// TestFIFOInInstalledVersion: a FIFO (or device file) in place of an
// installed file is refused before it is opened: verify, update (the up
// to date path, which then repairs), rollback (re-verifying the version it
// goes back to) and a trial's resolution (re-hashing it) all return
// promptly with the right outcome.
func TestFIFOInInstalledVersion(t *testing.T) {
	t.Parallel()
	fifoIn := func(t *testing.T, d *device, v, name string) {
		mkfifo(t, d.path("models", model, v, name))
	}
	t.Run("verify", func(t *testing.T) {
		t.Parallel()
		_, _, d := onV1(t)
		fifoIn(t, d, "1.0.0", "model.bin")
		err := within(t, "verify", func() error { _, err := d.c.Verify(model); return err })
		if client.CodeOf(err) != client.HashMismatch {
			t.Fatalf("verify: %v, want HASH_MISMATCH", err)
		}
	})
	t.Run("verify, a socket", func(t *testing.T) {
		t.Parallel()
		_, _, d := onV1(t)
		path := d.path("models", model, "1.0.0", "model.bin")
		os.Remove(path)
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Skipf("no unix socket here: %v", err)
		}
		defer l.Close()
		err = within(t, "verify", func() error { _, err := d.c.Verify(model); return err })
		if client.CodeOf(err) != client.HashMismatch {
			t.Fatalf("verify: %v, want HASH_MISMATCH", err)
		}
	})
	t.Run("verify, FIFO as an extra file", func(t *testing.T) {
		t.Parallel()
		_, _, d := onV1(t)
		fifoIn(t, d, "1.0.0", "extra")
		err := within(t, "verify", func() error { _, err := d.c.Verify(model); return err })
		if client.CodeOf(err) != client.HashMismatch {
			t.Fatalf("verify: %v, want HASH_MISMATCH", err)
		}
	})
	for _, name := range []string{"model.bin", targets.ManifestName} {
		t.Run("update up to date repairs "+name, func(t *testing.T) {
			t.Parallel()
			_, _, d := onV1(t)
			fifoIn(t, d, "1.0.0", name)
			res := within(t, "update", func() *client.Result {
				res, err := d.update(client.UpdateRequest{})
				if err != nil {
					t.Errorf("update: %v", err)
				}
				return res
			})
			if res.Outcome != client.OutcomeRepaired {
				t.Fatalf("%+v, want repaired", res)
			}
			d.wantActive("1.0.0")
			d.wantNoLinks()
		})
	}
	t.Run("update installing over a planted version", func(t *testing.T) {
		t.Parallel()
		r, _, d := onV1(t)
		publish(t, r, smallSize, "1.1.0")
		// A version directory already there is re-hashed before use; its
		// files are read in name order, labels.txt first.
		copyTree(t, d.path("models", model, "1.0.0"), d.path("models", model, "1.1.0"))
		fifoIn(t, d, "1.1.0", "labels.txt")
		within(t, "update", func() error { d.mustUpdate("1.1.0"); return nil })
		d.wantNoLinks()
	})
	t.Run("rollback", func(t *testing.T) {
		t.Parallel()
		r, _, d := onV1(t)
		publish(t, r, smallSize, "1.1.0")
		d.mustUpdate("1.1.0")
		fifoIn(t, d, "1.0.0", "labels.txt")
		err := within(t, "rollback", func() error { _, err := d.c.Rollback(model); return err })
		if client.CodeOf(err) != client.HashMismatch {
			t.Fatalf("rollback: %v, want HASH_MISMATCH", err)
		}
		d.wantActive("1.1.0")
	})
	t.Run("trial resolution", func(t *testing.T) {
		t.Parallel()
		d := onTrial(t)
		fifoIn(t, d, "1.1.0", "model.bin")
		passing, calls := healthScript(t, "exit 0")
		res := within(t, "update", func() *client.Result {
			res, _ := d.update(client.UpdateRequest{HealthCheck: passing})
			return res
		})
		// The trial version fails its re-hash: rolled back, marked bad,
		// and its health check never ran.
		if res.Outcome != client.OutcomeRolledBack || res.Version != "1.0.0" || res.Code != client.HealthcheckFailed {
			t.Fatalf("%+v", res)
		}
		if got := readLines(t, calls); len(got) != 0 {
			t.Fatalf("health check ran: %q", got)
		}
		d.wantActive("1.0.0")
	})
	t.Run("status and verify, FIFO as the manifest", func(t *testing.T) {
		t.Parallel()
		_, _, d := onV1(t)
		fifoIn(t, d, "1.0.0", targets.ManifestName)
		err := within(t, "verify", func() error { _, err := d.c.Verify(model); return err })
		if client.CodeOf(err) != client.HashMismatch {
			t.Fatalf("verify: %v", err)
		}
		// Status reads the state only: the version is still named.
		st := within(t, "status", func() *client.ModelStatus { return d.status() })
		if st.Version != "1.0.0" {
			t.Fatalf("status %+v", st)
		}
	})
}
