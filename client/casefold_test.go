package client_test

import (
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestCaseCollidingNamesRefusedBeforeDownload: signed metadata (the
// targets key: a buggy tool or a compromised publisher) listing payload
// files Model.bin and model.bin, which would overwrite each other on a
// device's case-insensitive SD card, or versions 1.1.0-RC.1 and
// 1.1.0-rc.1, whose directories would: the device acts on none of it,
// downloads nothing of it, and stays on its version.
func TestCaseCollidingNamesRefusedBeforeDownload(t *testing.T) {
	t.Parallel()
	t.Run("payload names", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t)
		r.Publish(t, model, "1.0.0", bundle(1, 4096), targets.Compat{})
		srv := serveRepo(t, r)
		d := newDevice(t, r, srv.URL, fastOpts())
		d.mustUpdate("1.0.0")
		r.Publish(t, model, "1.1.0", bundle(2, 4096), targets.Compat{})
		f := forge(t, r.Dir)
		mp := targets.ManifestPath(model, "1.1.0")
		c, err := targets.ParseCustom(mp, f.tg.Signed.Targets[mp].Custom)
		if err != nil {
			t.Fatal(err)
		}
		c.Files = append(c.Files, "Model.bin")
		raw, _ := c.Marshal()
		f.tg.Signed.Targets[mp].Custom = raw
		src := f.tg.Signed.Targets[targets.TargetPath(model, "1.1.0", "model.bin")]
		pc := targets.PayloadCustom(&targets.Manifest{ModelID: model, Version: "1.1.0"}, "Model.bin")
		praw, _ := pc.Marshal()
		np := targets.TargetPath(model, "1.1.0", "Model.bin")
		f.tg.Signed.Targets[np] = &metadata.TargetFiles{Length: src.Length, Hashes: src.Hashes, Custom: praw, Path: np}
		f.publishTrusted(r)
		srv.reset()
		pollStays(t, d, "1.0.0", 2)
		if got := srv.requests("/targets/models/" + model + "/1.1.0/"); len(got) != 0 {
			t.Fatalf("requested %v", got)
		}
	})
	t.Run("versions", func(t *testing.T) {
		t.Parallel()
		r := newRepo(t)
		r.Publish(t, model, "1.0.0", bundle(1, 4096), targets.Compat{})
		srv := serveRepo(t, r)
		d := newDevice(t, r, srv.URL, fastOpts())
		d.mustUpdate("1.0.0")
		r.Publish(t, model, "1.1.0-RC.1", bundle(2, 4096), targets.Compat{})
		f := forge(t, r.Dir)
		f.copyVersion(model, "1.1.0-RC.1", "1.1.0-rc.1")
		f.publishTrusted(r)
		srv.reset()
		pollStays(t, d, "1.0.0", 2)
		for _, v := range []string{"1.1.0-RC.1", "1.1.0-rc.1"} {
			if got := srv.requests("/targets/models/" + model + "/" + v + "/"); len(got) != 0 {
				t.Fatalf("requested %v", got)
			}
		}
		// A fresh device installs 1.0.0, the newest version it can act on.
		fresh := newDevice(t, r, srv.URL, fastOpts())
		if res := fresh.mustUpdate("1.0.0"); res.Outcome != client.OutcomeUpdated {
			t.Fatalf("%+v", res)
		}
	})
}
