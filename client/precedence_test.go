package client_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// copyVersion publishes a copy of version from of a model as version to:
// the same payload files, a manifest and custom metadata naming to. mrepo
// refuses to publish two versions of equal precedence; a repository
// written by another tool, or by hand, can still hold them.
func (f *forged) copyVersion(modelID, from, to string) {
	f.t.Helper()
	prefix := targets.TargetDir(modelID, from) + "/"
	var paths []string
	for p := range f.tg.Signed.Targets {
		if strings.HasPrefix(p, prefix) {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		f.t.Fatalf("no targets under %s", prefix)
	}
	for _, p := range paths {
		tf := f.tg.Signed.Targets[p]
		name := strings.TrimPrefix(p, prefix)
		if strings.Contains(name, "/") {
			continue // patches
		}
		data, err := os.ReadFile(filepath.Join(f.dir, "targets", filepath.FromSlash(targets.TargetDir(modelID, from)), hex.EncodeToString(tf.Hashes["sha256"])+"."+name))
		if err != nil {
			f.t.Fatal(err)
		}
		if name == targets.ManifestName {
			m, err := targets.ParsePublishedManifest(data)
			if err != nil {
				f.t.Fatal(err)
			}
			m.Version = to
			if data, err = m.MarshalPublished(); err != nil {
				f.t.Fatal(err)
			}
		}
		c, err := targets.ParseCustom(p, tf.Custom)
		if err != nil {
			f.t.Fatal(err)
		}
		c.Version = to
		raw, err := c.Marshal()
		if err != nil {
			f.t.Fatal(err)
		}
		np := targets.TargetPath(modelID, to, name)
		sum := sha256.Sum256(data)
		dir := filepath.Join(f.dir, "targets", filepath.FromSlash(targets.TargetDir(modelID, to)))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%x.%s", sum, name)), data, 0o644); err != nil {
			f.t.Fatal(err)
		}
		f.tg.Signed.Targets[np] = &metadata.TargetFiles{Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}, Custom: raw, Path: np}
	}
}

// pollStays polls n times and requires each run to be up to date on v.
func pollStays(t *testing.T, d *device, v string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		res := d.mustUpdate(v)
		if res.Outcome != client.OutcomeUpToDate || res.BytesDownloaded != 0 {
			t.Fatalf("poll %d: %+v, want up to date on %s", i, res, v)
		}
	}
	d.wantActive(v)
}

// TestEqualPrecedenceVersionsNoSwitching: with 2.0.0 and 2.0.0+build.7
// both published (semver: build metadata does not count, so neither is
// newer), a device never switches between them: it stays on whichever it
// runs, and a fresh device picks the same one every time (the total
// order: precedence, then the version string).
func TestEqualPrecedenceVersionsNoSwitching(t *testing.T) {
	t.Parallel()
	const plain, build = "2.0.0", "2.0.0+build.7"
	for _, c := range []struct {
		name        string
		first, then string // published first (and installed), then copied
	}{
		{"active without build metadata", plain, build},
		{"active with build metadata", build, plain},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			r.Publish(t, model, c.first, bundle(1, 4096), targets.Compat{})
			srv := serveRepo(t, r)
			d := newDevice(t, r, srv.URL, fastOpts())
			d.mustUpdate(c.first)
			f := forge(t, r.Dir)
			f.copyVersion(model, c.first, c.then)
			f.publishTrusted(r)
			pollStays(t, d, c.first, 6)

			// A device that runs neither picks "2.0.0" (the smaller string
			// of equal precedence), and then stays.
			fresh := newDevice(t, r, srv.URL, fastOpts())
			res := fresh.mustUpdate(plain)
			if res.Outcome != client.OutcomeUpdated {
				t.Fatalf("fresh device: %+v", res)
			}
			pollStays(t, fresh, plain, 4)
		})
	}
}
