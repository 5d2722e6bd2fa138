package client_test

import (
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/targets"
)

// TestTimestampKeyAloneCannotChangeModels: an attacker who stole only the
// timestamp key (threat model T5) can re-sign timestamps over the
// genuine snapshot, which keeps a device where it is, but cannot make it
// take anything new: a snapshot that lists other targets metadata needs
// the snapshot key (METADATA_SIGNATURE_INVALID), and the device's model
// is unchanged throughout.
func TestTimestampKeyAloneCannotChangeModels(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, smallSize, "1.0.0")
	// 1.1.0 needs an app this device does not have.
	r.Publish(t, model, "1.1.0", bundle(seedOf("1.1.0"), smallSize), targets.Compat{MinAppVersion: "9.0"})
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	dev := client.UpdateRequest{Device: client.Device{AppVersion: "2.0"}}
	if res, err := d.update(dev); err != nil || res.Version != "1.0.0" {
		t.Fatalf("setup: %v %+v", err, res)
	}

	t.Run("fresh timestamps over the genuine snapshot: the device stays where it is", func(t *testing.T) {
		dir := snapshotRepo(t, r)
		f := forge(t, dir)
		f.publishTimestamp(trustedSigner(t, r, "timestamp"))
		srv.set(dirHandler(dir))
		res, err := d.update(dev)
		if err != nil || res.Outcome != client.OutcomeUpToDate || res.Version != "1.0.0" {
			t.Fatalf("%v %+v", err, res)
		}
		d.wantActive("1.0.0")
	})

	t.Run("a snapshot of the attacker's making is refused", func(t *testing.T) {
		dir := snapshotRepo(t, r)
		f := forge(t, dir)
		// 1.1.0 made compatible: new targets and snapshot signed by a key
		// the attacker holds, wrapped in a timestamp signed by the stolen
		// timestamp key.
		editCustom(t, f, targets.ManifestPath(model, "1.1.0"), func(c *targets.Custom) { c.MinAppVersion = "" })
		attacker := freshSigner(t)
		f.publishTargets(attacker)
		f.publishSnapshot(attacker)
		f.ts.Signed.Version += 10 // above the one the first case left on the device
		f.publishTimestamp(trustedSigner(t, r, "timestamp"))
		srv.set(dirHandler(dir))
		res, err := d.update(dev)
		if client.CodeOf(err) != client.MetadataSignatureInvalid || res.Version != "1.0.0" {
			t.Fatalf("%v %+v", err, res)
		}
		d.wantActive("1.0.0")
		d.wantNotInstalled("1.1.0")
	})
}
