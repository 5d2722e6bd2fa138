package client_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

func TestSmokeUpdateTwice(t *testing.T) {
	r := testrepo.New(t)
	r.Publish(t, "det", "1.0.0", map[string][]byte{"model.bin": bytes.Repeat([]byte{1}, 3<<20), "labels.txt": []byte("a\n")}, targets.Compat{})
	url := r.Serve(t, nil)
	state := filepath.Join(t.TempDir(), "state")
	if err := client.Init(state, r.Root, client.InitOptions{RepoURL: url}); err != nil {
		t.Fatal(err)
	}
	c, err := client.Open(state, client.Options{RetryBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Update(context.Background(), client.UpdateRequest{ModelID: "det"})
	if err != nil {
		t.Fatalf("update: %v (%+v)", err, res)
	}
	t.Logf("%+v", res)
	if res.Version != "1.0.0" || res.Outcome != client.OutcomeUpdated {
		t.Fatalf("%+v", res)
	}
	res, err = c.Update(context.Background(), client.UpdateRequest{ModelID: "det"})
	if err != nil || res.Outcome != client.OutcomeUpToDate || res.BytesDownloaded != 0 {
		t.Fatalf("second: %v %+v", err, res)
	}
	r.Publish(t, "det", "1.1.0", map[string][]byte{"model.bin": bytes.Repeat([]byte{2}, 3<<20), "labels.txt": []byte("a\n")}, targets.Compat{})
	res, err = c.Update(context.Background(), client.UpdateRequest{ModelID: "det"})
	if err != nil || res.Version != "1.1.0" {
		t.Fatalf("third: %v %+v", err, res)
	}
	st, err := c.Verify("det")
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	t.Logf("%+v", st)
	os.WriteFile(filepath.Join(st.Path, "model.bin"), []byte("evil"), 0o600)
	if _, err := c.Verify("det"); client.CodeOf(err) != client.HashMismatch {
		t.Fatalf("tampered: %v", err)
	}
	rb, err := c.Rollback("det")
	if err != nil || rb.Version != "1.0.0" {
		t.Fatalf("rollback: %v %+v", err, rb)
	}
	ev, _ := os.ReadFile(filepath.Join(state, "events.jsonl"))
	t.Logf("%s", ev)
}
