package client_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/targets"
)

// TestLeftoverInstallReHashed: a version directory already on the device
// (left by an earlier run, or planted) is used only after every file
// re-verifies against signed metadata: a damaged one is replaced by a
// fresh download, an intact one is reused without downloading.
func TestLeftoverInstallReHashed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		damage   bool
		download bool
	}{
		{"damaged: downloaded again", true, true},
		{"intact: reused", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, srv, d := onV1(t)
			publish(t, r, smallSize, "1.1.0")
			// 1.1.0's genuine files, as a finished install would hold them.
			dir := d.path("models", model, "1.1.0")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{targets.ManifestName, "model.bin", "labels.txt"} {
				data, err := os.ReadFile(r.TargetFile(t, targets.TargetPath(model, "1.1.0", f)))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.damage {
				flipByte(t, filepath.Join(dir, "model.bin"), 5) // same size: only the hash tells
			}
			srv.reset()
			res, err := d.update(client.UpdateRequest{})
			if err != nil || res.Version != "1.1.0" {
				t.Fatalf("%v %+v", err, res)
			}
			d.wantActive("1.1.0") // re-hashes every file against the genuine repository
			got := len(srv.requests("/targets/models/det/1.1.0/")) > 0
			if got != tc.download {
				t.Fatalf("downloaded %v, want %v (requests %v)", got, tc.download, srv.requests("/targets/"))
			}
		})
	}
}

// TestUnknownCriticalFieldInvisible: a version whose signed custom
// metadata requires a field this client does not know ("critical") is
// not a candidate: the device neither installs it nor fails on it, and
// downloads none of its files.
func TestUnknownCriticalFieldInvisible(t *testing.T) {
	t.Parallel()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	dir := snapshotRepo(t, r)
	f := forge(t, dir)
	mp := targets.ManifestPath(model, "1.1.0")
	tf := f.tg.Signed.Targets[mp]
	var fields map[string]any
	if err := json.Unmarshal(*tf.Custom, &fields); err != nil {
		t.Fatal(err)
	}
	fields["max_memory_mb"] = 512
	fields["critical"] = []string{"max_memory_mb"}
	raw, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	msg := json.RawMessage(raw)
	tf.Custom = &msg
	// Published by the genuine repository keys: a newer publisher, not an attacker.
	f.publishAll(trustedSigner(t, r, "targets"), trustedSigner(t, r, "snapshot"), trustedSigner(t, r, "timestamp"))
	srv.set(dirHandler(dir))
	srv.reset()
	res, err := d.update(client.UpdateRequest{})
	if err != nil || res.Outcome != client.OutcomeUpToDate || res.Version != "1.0.0" {
		t.Fatalf("%v %+v", err, res)
	}
	if got := srv.requests("/targets/"); len(got) != 0 {
		t.Fatalf("requested %v", got)
	}
	d.wantActive("1.0.0")
	d.wantNotInstalled("1.1.0")
}
