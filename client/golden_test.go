package client_test

// Issue 15, golden test vectors: a model whose outputs are wrong but
// whose files verify is rolled back and marked bad. The model is the
// test-only fixture fixtures/models/tinymlp (a trained perceptron) and
// the health check its pure-Go evaluator, tinyeval, built for the test.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/repo"
)

const tinyModel = "tinymlp"

// buildTinyeval builds the fixture's evaluator into a test directory.
func buildTinyeval(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tinyeval")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/edgetuf/edgetuf/fixtures/tinymlp/cmd/tinyeval").CombinedOutput()
	if err != nil {
		t.Fatalf("building tinyeval: %v\n%s", err, out)
	}
	return bin
}

// publishTiny publishes the fixture bundle fixtures/models/tinymlp/VERSION
// as mrepo add-target does.
func publishTiny(t *testing.T, r *testrepo.Repo, version string) {
	t.Helper()
	if _, err := r.R.AddTarget(filepath.Join("..", "fixtures", "models", tinyModel, version), r.Keys, repo.AddOptions{}); err != nil {
		t.Fatalf("publishing tinymlp %s: %v", version, err)
	}
}

func tinyStatus(t *testing.T, d *device) *client.ModelStatus {
	t.Helper()
	st, err := d.c.Status(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// wantTinyRolledBack: 1.1.0 failed the probe vector, 1.0.0 is active and
// confirmed, 1.1.0 is marked bad and removed, the events say so, and the
// next update (health check eval) does not try 1.1.0 again.
func wantTinyRolledBack(t *testing.T, d *device, eval string, res *client.Result, err error) {
	t.Helper()
	if client.CodeOf(err) != client.HealthcheckFailed || res.Outcome != client.OutcomeRolledBack || res.Version != "1.0.0" {
		t.Fatalf("update: %v (%+v), want HEALTHCHECK_FAILED, rolled back to 1.0.0", err, res)
	}
	t.Logf("%s", res.Message)
	// The probe's first element: the flipped output layer turns the
	// probabilities around.
	if want := `tinymlp 1.1.0 failed its health check; back on 1.0.0: test vector "probe" (1 of 2): output element 0 is `; !strings.HasPrefix(res.Message, want) || !strings.Contains(res.Message, "(tolerance abs 1e-05, rel 0.0001)") {
		t.Fatalf("message %q, want %q... naming the element, got, expected and tolerance", res.Message, want)
	}
	st := tinyStatus(t, d)
	if st.Version != "1.0.0" || st.Trial || st.Floor != "1.0.0" || !slices.Equal(st.BadVersions, []string{"1.1.0"}) || slices.Contains(st.Installed, "1.1.0") {
		t.Fatalf("status %+v: want 1.0.0 confirmed, floor 1.0.0, 1.1.0 marked bad and removed", st)
	}
	var rolled bool
	for _, e := range d.events() {
		if e.Event == client.EventRolledBack && e.ModelID == tinyModel && e.FromVersion == "1.1.0" && e.ToVersion == "1.0.0" && e.Code == client.RollbackTriggered {
			rolled = true
		}
	}
	if !rolled {
		t.Fatalf("no rolled_back event: %+v", d.events())
	}
	if vs, err := d.c.Verify(tinyModel); err != nil || vs.Version != "1.0.0" {
		t.Fatalf("verify: %v", err)
	}
	// Not retried: up to date on 1.0.0, nothing downloaded.
	res, err = d.update(client.UpdateRequest{ModelID: tinyModel, HealthCheck: eval})
	if err != nil || res.Outcome != client.OutcomeUpToDate || res.BytesDownloaded != 0 || len(res.Skipped) != 1 || res.Skipped[0].Version != "1.1.0" {
		t.Fatalf("next update: %v %+v, want up to date, 1.1.0 skipped as bad", err, res)
	}
}

// tinyOnV1 serves a repository with tinymlp 1.0.0 and returns a device
// that installed it with the evaluator eval as its health check: 1.0.0
// passes its vectors and is confirmed.
func tinyOnV1(t *testing.T) (r *testrepo.Repo, d *device, eval string) {
	t.Helper()
	r = newRepo(t)
	publishTiny(t, r, "1.0.0")
	d = newDevice(t, r, serveRepo(t, r).URL, fastOpts())
	eval = buildTinyeval(t)
	res, err := d.update(client.UpdateRequest{ModelID: tinyModel, HealthCheck: eval})
	if err != nil || res.Outcome != client.OutcomeUpdated || res.Version != "1.0.0" {
		t.Fatalf("first update: %v %+v", err, res)
	}
	if st := tinyStatus(t, d); st.Trial || st.Floor != "1.0.0" {
		t.Fatalf("1.0.0 not confirmed: %+v", st)
	}
	return r, d, eval
}

// TestGoldenVectorsRollBackWrongModel: 1.0.0 passes its vectors and is
// confirmed; 1.1.0, whose files verify (they are signed and published
// like any) but whose output layer has the wrong sign, fails the probe
// vector: rolled back, marked bad, not retried.
func TestGoldenVectorsRollBackWrongModel(t *testing.T) {
	t.Parallel()
	r, d, eval := tinyOnV1(t)
	// What a run killed during a vector leaves: removed by the next run.
	killed := d.path("models", tinyModel, ".install-vectors-killed")
	if err := os.MkdirAll(killed, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(killed, "output-0"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	publishTiny(t, r, "1.1.0")
	res, err := d.update(client.UpdateRequest{ModelID: tinyModel, HealthCheck: eval})
	wantTinyRolledBack(t, d, eval, res, err)
	// The vectors' outputs were removed with their directory, and so
	// was the killed run's.
	entries, _ := os.ReadDir(d.path("models", tinyModel))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left in the model directory: %s", e.Name())
		}
	}
}

// TestGoldenVectorsJudgeTrial: a version left on trial (its check was
// stopped) is judged by its vectors at the next update, and rolled back.
func TestGoldenVectorsJudgeTrial(t *testing.T) {
	t.Parallel()
	r, d, eval := tinyOnV1(t)
	publishTiny(t, r, "1.1.0")
	check, started := blockingCheck(t)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := d.c.Update(ctx, client.UpdateRequest{ModelID: tinyModel, HealthCheck: check, HealthTimeout: time.Hour, Force: true})
		done <- err
	}()
	started()
	stop()
	if err := <-done; client.CodeOf(err) != client.Cancelled {
		t.Fatalf("stopped update: %v, want CANCELLED", err)
	}
	if st := tinyStatus(t, d); st.Version != "1.1.0" || !st.Trial {
		t.Fatalf("status %+v: want 1.1.0 on trial", st)
	}
	res, err := d.update(client.UpdateRequest{ModelID: tinyModel, HealthCheck: eval})
	wantTinyRolledBack(t, d, eval, res, err)
}

// TestGoldenVectorsNeedCommand: a version with vectors on a device that
// has no health check command fails closed: it is not confirmed.
func TestGoldenVectorsNeedCommand(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publishTiny(t, r, "1.0.0")
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	res, err := d.update(client.UpdateRequest{ModelID: tinyModel})
	if client.CodeOf(err) != client.HealthcheckFailed || res.Outcome != client.OutcomeRolledBack ||
		res.Message != "tinymlp 1.0.0 failed its health check; back on no version: the manifest declares 2 test vectors and no health check command is configured to run them" {
		t.Fatalf("update: %v %+v", err, res)
	}
	if st := tinyStatus(t, d); st.Version != "" || !slices.Equal(st.BadVersions, []string{"1.0.0"}) {
		t.Fatalf("status %+v: want nothing active, 1.0.0 bad", st)
	}
}
