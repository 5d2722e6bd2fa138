package client_test

import (
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/rollout"
)

// TestIndexEpochStepDown: a device with a hardware rollback epoch lists
// through the version index. Its active 1.5.0 (epoch 2) is revoked; the
// installed 1.3.0 (epoch 1) is not admitted by the epoch while 1.4.0
// (epoch 2) is published and not revoked, so the device steps down to
// 1.4.0, downloaded, never to the installed 1.3.0 (an installed version
// is looked up by its own manifest, and that lookup must not bypass the
// epoch's filter).
func TestIndexEpochStepDown(t *testing.T) {
	t.Parallel()
	sw := backendtest.StartSWTPM(t)
	b := newBinnedRepo(t, 256)
	epoch := func(v string, e uint64) {
		t.Helper()
		b.publish(t, v)
		if _, err := b.R.ChangeControls(model, v, b.Keyring(b.bk), func(rv *rollout.Version) error { rv.Custom.Epoch = e; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	epoch("1.3.0", 1)
	b.putIndex(t, "1.3.0")
	d := newDeviceInit(t, b.Repo, client.InitOptions{RepoURL: serveRepo(t, b.Repo).URL, AntiRollback: "tpm:" + sw.Socket}, fastOpts())
	d.mustUpdate("1.3.0")
	epoch("1.4.0", 2)
	epoch("1.5.0", 2)
	b.putIndex(t, "1.3.0", "1.4.0", "1.5.0")
	d.mustUpdate("1.5.0")
	d.wantEpoch(sw, 2)
	b.revoke(t, "1.5.0")
	b.putIndex(t, "1.3.0", "1.4.0", "1.5.0")
	res, err := d.update(client.UpdateRequest{})
	if err != nil || res.Version != "1.4.0" {
		t.Fatalf("update after the revocation: %v %+v", err, res)
	}
	d.wantActive("1.4.0")
}
