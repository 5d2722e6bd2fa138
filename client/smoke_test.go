package client_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/client"
)

// TestSmokeUpdateTwice is the happy path end to end: install, up to date,
// update, verify, tamper, explicit rollback.
func TestSmokeUpdateTwice(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	const size = 3 << 20
	publish(t, r, size, "1.0.0")
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())

	res := d.mustUpdate("1.0.0")
	if res.Outcome != client.OutcomeUpdated || res.FromVersion != "" || res.ToVersion != "1.0.0" {
		t.Fatalf("%+v", res)
	}
	if res.BytesDownloaded < size || res.BytesDownloaded > size+8192 || res.BytesResumed != 0 {
		t.Fatalf("downloaded %d bytes (resumed %d) for a %d-byte model", res.BytesDownloaded, res.BytesResumed, size)
	}
	if want := d.path("models", model, "1.0.0"); res.Path != want {
		t.Fatalf("path %q, want %q", res.Path, want)
	}
	d.wantActive("1.0.0")

	srv.reset()
	res = d.mustUpdate("1.0.0")
	if res.Outcome != client.OutcomeUpToDate || res.BytesDownloaded != 0 || len(srv.requests("/targets/")) != 0 {
		t.Fatalf("second: %+v, target requests %v", res, srv.requests("/targets/"))
	}

	publish(t, r, size, "1.1.0")
	res = d.mustUpdate("1.1.0")
	if res.Outcome != client.OutcomeUpdated || res.FromVersion != "1.0.0" || res.ToVersion != "1.1.0" {
		t.Fatalf("third: %+v", res)
	}
	st, err := d.c.Verify(model)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if st.Version != "1.1.0" || st.Previous != "1.0.0" || st.Floor != "1.1.0" || len(st.Installed) != 2 {
		t.Fatalf("status %+v", st)
	}
	if len(d.stagedFiles()) != 0 {
		t.Fatalf("staging not cleaned: %v", d.stagedFiles())
	}

	if err := os.WriteFile(filepath.Join(st.Path, "model.bin"), []byte("evil"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.c.Verify(model); client.CodeOf(err) != client.HashMismatch {
		t.Fatalf("tampered: %v", err)
	}
	rb, err := d.c.Rollback(model)
	if err != nil || rb.Version != "1.0.0" || rb.Outcome != client.OutcomeRolledBack {
		t.Fatalf("rollback: %v %+v", err, rb)
	}
	d.wantActive("1.0.0")
}
