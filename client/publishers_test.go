package client_test

// Concurrent publishers as a device sees them (docs/threat-model.md, S3):
// a publisher that died after writing versioned metadata but before its
// timestamp leaves orphans above what timestamp.json names, and a device
// polling between publications sees snapshot and role versions jump. The
// device follows timestamp.json only.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// metaVersion is the version in a newestMeta path.
func metaVersion(t *testing.T, p string) int {
	t.Helper()
	v, err := strconv.Atoi(strings.SplitN(filepath.Base(p), ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDeviceAcrossConcurrentPublications: orphans (unsigned bytes under
// the next snapshot and bin names, never named by a timestamp) and a
// snapshot version the device never saw (the one between two polls,
// garbled here) change nothing: the device installs what the timestamp
// names, never requests an orphan, and follows the gap in versions.
func TestDeviceAcrossConcurrentPublications(t *testing.T) {
	t.Parallel()
	b, srv, d := onV1Binned(t)
	b.publish(t, "1.1.0")
	between := newestMeta(t, b.Dir, metadata.SNAPSHOT)
	b.putIndex(t, "1.0.0", "1.1.0")
	junk := []byte(`{"signed":{"_type":"snapshot","version":999},"signatures":[]}`)
	if err := os.WriteFile(filepath.Join(b.Dir, filepath.FromSlash(between)), junk, 0o644); err != nil {
		t.Fatal(err)
	}
	snap := newestMeta(t, b.Dir, metadata.SNAPSHOT)
	bin := b.binOf(targets.ManifestPath(model, "1.1.0"))
	orphans := []string{
		"/metadata/" + strconv.Itoa(metaVersion(t, snap)+1) + ".snapshot.json",
		"/metadata/" + strconv.Itoa(metaVersion(t, newestMeta(t, b.Dir, bin))+1) + "." + bin + ".json",
	}
	for _, o := range orphans {
		if err := os.WriteFile(filepath.Join(b.Dir, filepath.FromSlash(o)), junk, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv.reset()
	d.mustUpdate("1.1.0")
	for _, p := range append(orphans, between) {
		if n := len(srv.requests(p)); n != 0 {
			t.Errorf("%s requested %d times", p, n)
		}
	}
	// Once the orphans are gone (here: replaced by the next publication's
	// own files), the device follows on.
	for _, o := range orphans {
		os.Remove(filepath.Join(b.Dir, filepath.FromSlash(o)))
	}
	b.publish(t, "1.2.0")
	b.putIndex(t, "1.0.0", "1.1.0", "1.2.0")
	d.mustUpdate("1.2.0")
	d.wantActive("1.2.0")
}
