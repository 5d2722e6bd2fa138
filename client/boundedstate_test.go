package client_test

// Issue 10, item 7: the state a device stores stays bounded whatever the
// repository publishes, and a damaged or oversized state file never stops
// a model for ever.

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

// publishIncompatible publishes n versions (2.0.0, 2.0.1, ...) that no
// test device can take (they need app version 99), quickly: one real
// publication, then n-1 copies of its signed manifest target under other
// versions, signed with the repository's own keys in one metadata
// update. The copies' payload files do not exist: an incompatible version
// is never downloaded. Publish nothing with r after this.
func publishIncompatible(t *testing.T, r *testrepo.Repo, n int) {
	t.Helper()
	r.Publish(t, model, "2.0.0", bundle(1, 1024), targets.Compat{MinAppVersion: "99.0.0"})
	f := forge(t, r.Dir)
	tmpl := f.tg.Signed.Targets[targets.ManifestPath(model, "2.0.0")]
	if tmpl == nil || tmpl.Custom == nil {
		t.Fatal("no template manifest target")
	}
	for i := 1; i < n; i++ {
		v := fmt.Sprintf("2.0.%d", i)
		var c map[string]any
		if err := json.Unmarshal(*tmpl.Custom, &c); err != nil {
			t.Fatal(err)
		}
		c["version"] = v
		raw, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		msg := json.RawMessage(raw)
		tf := *tmpl
		tf.Path = targets.ManifestPath(model, v)
		tf.Custom = &msg
		f.tg.Signed.Targets[tf.Path] = &tf
	}
	f.publishAll(trustedSigner(t, r, "targets"), trustedSigner(t, r, "snapshot"), trustedSigner(t, r, "timestamp"))
}

func stateSize(t *testing.T, d *device) int64 {
	t.Helper()
	fi, err := os.Stat(d.path("models", model, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestManyIncompatibleVersionsStateBounded: thousands of versions this
// device cannot take are listed in each run's Result, but state.json
// keeps only the first 20 with their count, and stays small over many
// runs; status and verify keep working.
func TestManyIncompatibleVersionsStateBounded(t *testing.T) {
	t.Parallel()
	const n = 4000 // the issue saw 3,500 push the old state.json past 1 MiB
	r, _, d := onV1(t)
	publishIncompatible(t, r, n)
	var sizes []int64
	for i := 0; i < 8; i++ {
		res, err := d.update(client.UpdateRequest{})
		if err != nil || res.Outcome != client.OutcomeUpToDate || res.Version != "1.0.0" {
			t.Fatalf("update %d: %v %+v", i, err, res.Outcome)
		}
		if len(res.Skipped) != n {
			t.Fatalf("update %d: the returned result lists %d skipped versions, want %d", i, len(res.Skipped), n)
		}
		sizes = append(sizes, stateSize(t, d))
	}
	for _, s := range sizes {
		if s > 16<<10 || s != sizes[0] {
			t.Fatalf("state.json sizes over the runs: %v; want the same size, at most 16 KiB", sizes)
		}
	}
	t.Logf("%d incompatible versions: state.json is %d bytes after each of %d updates", n, sizes[0], len(sizes))
	st := d.status()
	if st.LastResult == nil || len(st.LastResult.Skipped) != 20 || st.LastResult.SkippedTotal != n {
		t.Fatalf("stored result: %d skipped listed, total %d", len(st.LastResult.Skipped), st.LastResult.SkippedTotal)
	}
	d.wantActive("1.0.0") // status and verify
}

// oldStateJSON is a state.json as the client before issue 10 wrote it:
// the marks, then a last result listing every skipped version.
func oldStateJSON(t *testing.T, bad []string, skipped int) []byte {
	t.Helper()
	res := client.Result{Time: "2026-11-01T00:00:00Z", ModelID: model, Outcome: client.OutcomeUpToDate, Version: "1.0.0"}
	for i := 0; i < skipped; i++ {
		res.Skipped = append(res.Skipped, client.Skipped{Version: fmt.Sprintf("2.0.%d", i), Code: client.Incompatible,
			Reason: fmt.Sprintf("det 2.0.%d: needs app version 99.0.0 or later, the device did not say which it runs", i)})
	}
	data, err := json.MarshalIndent(map[string]any{"bad_versions": bad, "last_result": res}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeState(t *testing.T, d *device, data []byte) {
	t.Helper()
	if err := os.WriteFile(d.path("models", model, "state.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedStateJSON: an oversized state.json (left by an older client),
// one cut short, or garbage no longer stops update, status and verify.
// The damaged file is set aside and the reset logged; the last result is
// dropped; the bad-version marks are kept when they can be read, and
// otherwise every version published at the next update counts as bad
// (fail closed), while a later version is still taken.
func TestDamagedStateJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		data func(t *testing.T) []byte
		// kept: the mark of 1.1.0 survives; otherwise the marks are lost.
		kept bool
	}{
		{"oversized by an older client", func(t *testing.T) []byte {
			data := oldStateJSON(t, []string{"1.1.0"}, 6000)
			if len(data) <= 1<<20 {
				t.Fatalf("the old state is only %d bytes", len(data))
			}
			return data
		}, true},
		{"cut short in the last result", func(t *testing.T) []byte {
			data := oldStateJSON(t, []string{"1.1.0"}, 10)
			return data[:len(data)*2/3]
		}, true},
		{"unknown field", func(t *testing.T) []byte {
			return []byte(`{"bad_versions":["1.1.0"],"last_result":{"surprise":1}}`)
		}, true},
		{"cut short in the marks", func(t *testing.T) []byte {
			return []byte(`{"bad_versions":["1.1.0", "1.0`)
		}, false},
		{"garbage", func(t *testing.T) []byte { return []byte("\x00\x17garbage{") }, false},
		{"empty", func(t *testing.T) []byte { return nil }, false},
		{"a mark that is not a version", func(t *testing.T) []byte {
			return []byte(`{"bad_versions":["1.1.0","../../x"]}`)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _, d := onV1(t)
			publish(t, r, smallSize, "1.1.0")
			data := tc.data(t)
			writeState(t, d, data)

			// Status reads it (read only: nothing is changed yet).
			st := d.status()
			if st.LastResult != nil || st.Version != "1.0.0" {
				t.Fatalf("status of a damaged state: %+v", st)
			}
			if tc.kept != (fmt.Sprint(st.BadVersions) == "[1.1.0]") || tc.kept == st.BadMarksLost {
				t.Fatalf("status: bad %v, marks lost %v", st.BadVersions, st.BadMarksLost)
			}
			if _, err := d.c.Verify(model); err != nil {
				t.Fatalf("verify: %v", err)
			}

			res, err := d.update(client.UpdateRequest{})
			if err != nil || res.Outcome != client.OutcomeUpToDate || res.Version != "1.0.0" {
				t.Fatalf("update: %v %+v (1.1.0 is marked bad, or its mark lost: not taken)", err, res)
			}
			if len(res.Skipped) != 1 || res.Skipped[0].Version != "1.1.0" || res.Skipped[0].Code != client.PolicyRejected {
				t.Fatalf("skipped %+v", res.Skipped)
			}
			if got, err := os.ReadFile(d.path("models", model, "state.json.damaged")); err != nil || string(got) != string(data) {
				t.Fatalf("the damaged file was not set aside as it was: %v", err)
			}
			var reset *client.Event
			for _, e := range d.events() {
				if e.Event == client.EventStateReset {
					reset = &e
				}
			}
			if reset == nil || reset.Code != client.StateInvalid || reset.ModelID != model {
				t.Fatalf("state_reset event %+v", reset)
			}
			st = d.status()
			if tc.kept && (fmt.Sprint(st.BadVersions) != "[1.1.0]" || st.BadThrough != "") {
				t.Fatalf("status after: %+v", st)
			}
			if !tc.kept && (st.BadThrough != "1.1.0" || st.BadMarksLost) {
				t.Fatalf("status after: bad through %q, lost %v: want every version published now (1.1.0) counted bad", st.BadThrough, st.BadMarksLost)
			}
			if stateSize(t, d) > 16<<10 {
				t.Fatalf("state.json is %d bytes", stateSize(t, d))
			}
			// The way forward: a new version is taken.
			publish(t, r, smallSize, "1.2.0")
			d.mustUpdate("1.2.0")
			d.wantActive("1.2.0")
		})
	}
}

// TestBadMarksBounded: a repository that publishes version after version
// that fails the health check grows the marks only to maxBadVersions:
// older marks fold into bad_through, so that none is retried; marks below
// the anti-rollback floor are dropped once the floor passes them.
func TestBadMarksBounded(t *testing.T) {
	t.Parallel()
	r, _, d := onV1(t)
	// 300 marks as a long-lived device would have collected them (one per
	// failed health check), written in the current format.
	var bad []string
	for i := 1; i <= 300; i++ {
		bad = append(bad, fmt.Sprintf("1.0.%d", i))
	}
	data, _ := json.Marshal(map[string]any{"bad_versions": bad})
	writeState(t, d, data)
	publish(t, r, smallSize, "1.0.5", "1.0.299", "1.0.300", "1.0.301")
	failing, _ := healthScript(t, "exit 1")
	res, err := d.update(client.UpdateRequest{HealthCheck: failing})
	// 1.0.301 is new: tried, fails, marked bad; 1.0.300, 1.0.299 (listed)
	// and 1.0.5 (folded) are never tried.
	if client.CodeOf(err) != client.HealthcheckFailed || res.ToVersion != "1.0.301" || res.Version != "1.0.0" {
		t.Fatalf("%v %+v", err, res)
	}
	st := d.status()
	if len(st.BadVersions) != 256 || st.BadThrough != "1.0.45" || st.BadVersions[len(st.BadVersions)-1] != "1.0.301" {
		t.Fatalf("%d marks, bad through %q, last %q", len(st.BadVersions), st.BadThrough, st.BadVersions[len(st.BadVersions)-1])
	}
	res, err = d.update(client.UpdateRequest{HealthCheck: failing})
	if err != nil || res.Outcome != client.OutcomeUpToDate {
		t.Fatalf("%v %+v", err, res)
	}
	for _, sk := range res.Skipped {
		if sk.Code != client.PolicyRejected {
			t.Fatalf("skipped %+v", sk)
		}
	}
	// A good version above them all: confirmed; bad_through, now below
	// the floor it raises, goes (the listed marks stay, for people to see,
	// while there are no more than 256).
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0")
	if st := d.status(); len(st.BadVersions) != 256 || st.BadThrough != "" || st.Floor != "1.1.0" {
		t.Fatalf("after 1.1.0: %d marks, bad through %q, floor %s", len(st.BadVersions), st.BadThrough, st.Floor)
	}
	// One more mark: the marks below the floor are dropped, not folded.
	publish(t, r, smallSize, "1.2.0")
	if _, err := d.update(client.UpdateRequest{HealthCheck: failing}); client.CodeOf(err) != client.HealthcheckFailed {
		t.Fatal(err)
	}
	if st := d.status(); strings.Join(st.BadVersions, " ") != "1.2.0" || st.BadThrough != "" || st.Version != "1.1.0" {
		t.Fatalf("after 1.2.0 failed: marks %v, bad through %q, active %s", st.BadVersions, st.BadThrough, st.Version)
	}
}

// TestDamagedActiveJSON: an active.json that cannot be read never stops
// the model for ever and never loses the active model: update sets it
// aside, restores the newest confirmed version (the anti-rollback floor)
// on trial, re-hashes it, runs the health check and confirms it, then
// carries on. Status and verify report STATE_INVALID until then (they
// change nothing).
func TestDamagedActiveJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, d *device, path string)
	}{
		{"garbage", func(t *testing.T, d *device, path string) { os.WriteFile(path, []byte("\x00garbage"), 0o600) }},
		{"cut short", func(t *testing.T, d *device, path string) {
			data, _ := os.ReadFile(path)
			os.WriteFile(path, data[:len(data)/2], 0o600)
		}},
		{"empty", func(t *testing.T, d *device, path string) { os.WriteFile(path, nil, 0o600) }},
		{"another model", func(t *testing.T, d *device, path string) {
			os.WriteFile(path, []byte(`{"model_id":"other","version":"1.1.0","activated_at":"x"}`), 0o600)
		}},
		{"a version that is not one", func(t *testing.T, d *device, path string) {
			os.WriteFile(path, []byte(`{"model_id":"det","version":"../1.1.0","activated_at":"x"}`), 0o600)
		}},
		{"oversized", func(t *testing.T, d *device, path string) {
			os.WriteFile(path, []byte(`{"model_id":"det","version":"1.1.0","activated_at":"`+strings.Repeat("x", 2<<20)+`"}`), 0o600)
		}},
		{"a FIFO", func(t *testing.T, d *device, path string) { mkfifo(t, path) }},
		{"a link", func(t *testing.T, d *device, path string) {
			o := newOutside(t)
			symlink(t, o.path("victim"), path)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// 1.1.0 confirmed (the floor), 1.0.0 installed as previous, a
			// newer 1.2.0 published after the damage.
			r, _, d := onV1(t)
			publish(t, r, smallSize, "1.1.0")
			d.mustUpdate("1.1.0")
			path := d.path("models", model, "active.json")
			tc.plant(t, d, path)
			if _, err := d.c.Status(model); client.CodeOf(err) != client.StateInvalid {
				t.Fatalf("status: %v, want STATE_INVALID", err)
			}
			passing, calls := healthScript(t, "exit 0")
			res := within(t, "update", func() *client.Result {
				res, err := d.update(client.UpdateRequest{HealthCheck: passing})
				if err != nil {
					t.Errorf("update: %v", err)
				}
				return res
			})
			if res.Version != "1.1.0" || res.Outcome != client.OutcomeUpToDate {
				t.Fatalf("%+v", res)
			}
			if got := readLines(t, calls); len(got) != 1 || got[0] != d.path("models", model, "1.1.0") {
				t.Fatalf("health check calls %q: the restored version must be checked", got)
			}
			if _, err := os.Lstat(path + ".damaged"); err != nil {
				t.Fatalf("not set aside: %v", err)
			}
			if e := d.events(); !contains(eventNames(e), client.EventStateReset) || !contains(eventNames(e), client.EventConfirmed) {
				t.Fatalf("events %v", eventNames(e))
			}
			d.wantActive("1.1.0")
			publish(t, r, smallSize, "1.2.0")
			d.mustUpdate("1.2.0")
		})
	}
}

// TestBothStateFilesDamaged: with active.json and state.json both
// unreadable, the confirmed version (the floor) is still restored and
// confirmed (the lost marks count every published version as bad, but
// not the version the device runs).
func TestBothStateFilesDamaged(t *testing.T) {
	t.Parallel()
	r, _, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	d.mustUpdate("1.1.0")
	writeState(t, d, []byte("garbage"))
	if err := os.WriteFile(d.path("models", model, "active.json"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := d.update(client.UpdateRequest{})
	if err != nil || res.Version != "1.1.0" {
		t.Fatalf("%v %+v", err, res)
	}
	d.wantActive("1.1.0")
	// Every version published at that update counts as bad, the active
	// one excepted (it is not a candidate); a new version is taken.
	if st := d.status(); st.BadMarksLost || st.BadThrough != "1.1.0" {
		t.Fatalf("status %+v", st)
	}
	publish(t, r, smallSize, "1.2.0")
	d.mustUpdate("1.2.0")
}
