package client_test

import (
	"os"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
)

// localEvents returns the local_copy and local_copy_failed events logged
// since n events.
func localEvents(d *device, since int) []client.Event {
	return eventsSince(d, since, client.EventLocalCopy, client.EventLocalCopyFailed)
}

// onLocalV1 returns a repository with 1.0.0 (model.bin weights) published,
// its server, and a device on which 1.0.0 is active; then 1.1.0 with the
// same model.bin and other labels is published.
func onLocalV1(t *testing.T, weights []byte) (*testrepo.Repo, *server, *device) {
	t.Helper()
	r := newRepo(t)
	r.Publish(t, model, "1.0.0", map[string][]byte{"model.bin": weights, "labels.txt": []byte("cat\n")}, targets.Compat{})
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	d.mustUpdate("1.0.0")
	r.Publish(t, model, "1.1.0", map[string][]byte{"model.bin": weights, "labels.txt": []byte("cat\ndog\n")}, targets.Compat{})
	return r, srv, d
}

// TestLocalCopyUnchangedFile: 1.1.0's model.bin has the signed SHA-256 and
// length of the installed 1.0.0's; it is copied on the device, checked,
// and never requested from the server, and the result says so.
func TestLocalCopyUnchangedFile(t *testing.T) {
	t.Parallel()
	r, srv, d := onLocalV1(t, payload(1, bigSize))
	srv.reset()
	since := len(d.events())

	res := d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
	if n := srv.requested(fileURL(t, r, "1.1.0")); n != 0 {
		t.Fatalf("model.bin of 1.1.0 requested %d times", n)
	}
	ff := fileFetch(t, res, "model.bin")
	if ff.Method != client.MethodLocal || ff.SourceModel != model || ff.SourceVersion != "1.0.0" || ff.Bytes != 0 || ff.Length != bigSize || ff.Code != "" {
		t.Fatalf("model.bin: %+v, want copied from the installed %s 1.0.0", ff, model)
	}
	if lf := fileFetch(t, res, "labels.txt"); lf.Method != client.MethodFull || lf.Bytes != 8 {
		t.Fatalf("labels.txt: %+v, want downloaded", lf)
	}
	if res.BytesDownloaded >= 4096 {
		t.Fatalf("%d bytes downloaded: only the manifest and labels.txt should be", res.BytesDownloaded)
	}
	evs := localEvents(d, since)
	if len(evs) != 1 || evs[0].Event != client.EventLocalCopy || evs[0].FromVersion != "1.0.0" || evs[0].ToVersion != "1.1.0" || evs[0].Reason != "from "+model+" 1.0.0" {
		t.Fatalf("local events %+v", evs)
	}
	if staged := d.stagedFiles(); len(staged) != 0 {
		t.Fatalf("staging holds %v", staged)
	}
	// Two copies: the installed files are not links to each other, so
	// nothing done to one version's files reaches the other's.
	a, _ := os.Stat(d.path("models", model, "1.0.0", "model.bin"))
	b, _ := os.Stat(d.path("models", model, "1.1.0", "model.bin"))
	if os.SameFile(a, b) {
		t.Fatal("1.0.0 and 1.1.0 share one model.bin")
	}
}

// TestLocalCopyDamagedSource: the installed file with the wanted hash was
// changed on disk (one byte, same size): the copy does not verify, is
// reported, and the file is downloaded in the same run; the new version
// is intact.
func TestLocalCopyDamagedSource(t *testing.T) {
	t.Parallel()
	weights := payload(2, bigSize)
	r, srv, d := onLocalV1(t, weights)
	src := d.path("models", model, "1.0.0", "model.bin")
	damaged := append([]byte(nil), weights...)
	damaged[bigSize/2] ^= 1
	if err := os.WriteFile(src, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	srv.reset()
	since := len(d.events())

	res := d.mustUpdate("1.1.0")
	d.wantActive("1.1.0")
	ff := fileFetch(t, res, "model.bin")
	if ff.Method != client.MethodLocalFallback || ff.Code != client.HashMismatch || ff.SourceVersion != "1.0.0" || ff.Bytes != bigSize {
		t.Fatalf("model.bin: %+v, want a failed local copy, then a download", ff)
	}
	if n := srv.requested(fileURL(t, r, "1.1.0")); n != 1 {
		t.Fatalf("model.bin of 1.1.0 requested %d times, want 1", n)
	}
	evs := localEvents(d, since)
	if len(evs) != 1 || evs[0].Event != client.EventLocalCopyFailed || evs[0].Code != client.HashMismatch {
		t.Fatalf("local events %+v", evs)
	}
}

// TestLocalCopyFromAnotherModel: the first install of a model copies a
// file that another model installed on the device has, with the same
// signed SHA-256 and length, whatever its name.
func TestLocalCopyFromAnotherModel(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	shared := payload(3, bigSize)
	r.Publish(t, "cls", "2.0.0", map[string][]byte{"backbone.bin": shared}, targets.Compat{})
	r.Publish(t, model, "1.0.0", map[string][]byte{"model.bin": shared, "labels.txt": []byte("cat\n")}, targets.Compat{})
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	if res, err := d.update(client.UpdateRequest{ModelID: "cls"}); err != nil || res.Version != "2.0.0" {
		t.Fatalf("update cls: %v (%+v)", err, res)
	}
	srv.reset()
	res := d.mustUpdate("1.0.0")
	d.wantActive("1.0.0")
	ff := fileFetch(t, res, "model.bin")
	if ff.Method != client.MethodLocal || ff.SourceModel != "cls" || ff.SourceVersion != "2.0.0" || ff.Bytes != 0 {
		t.Fatalf("model.bin: %+v, want copied from the installed cls 2.0.0", ff)
	}
	if n := srv.requested(fileURL(t, r, "1.0.0")); n != 0 {
		t.Fatalf("model.bin requested %d times", n)
	}
}

// TestLocalCopyIgnoresUnlistedFiles: a file with the wanted bytes that no
// installed manifest lists (dropped into an installed version's
// directory) is never a source: sources are found through the installed
// manifests by signed hash, not by name or existence.
func TestLocalCopyIgnoresUnlistedFiles(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	weights := payload(4, bigSize)
	r.Publish(t, model, "1.0.0", map[string][]byte{"model.bin": payload(5, bigSize), "labels.txt": []byte("cat\n")}, targets.Compat{})
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	d.mustUpdate("1.0.0")
	if err := os.WriteFile(d.path("models", model, "1.0.0", "extra.bin"), weights, 0o600); err != nil {
		t.Fatal(err)
	}
	r.Publish(t, model, "1.1.0", map[string][]byte{"model.bin": weights, "labels.txt": []byte("cat\n")}, targets.Compat{})
	res := d.mustUpdate("1.1.0")
	if ff := fileFetch(t, res, "model.bin"); ff.Method != client.MethodFull || ff.Bytes != bigSize {
		t.Fatalf("model.bin: %+v, want downloaded", ff)
	}
	if ff := fileFetch(t, res, "labels.txt"); ff.Method != client.MethodLocal || ff.SourceVersion != "1.0.0" {
		t.Fatalf("labels.txt: %+v, want copied from 1.0.0", ff)
	}
}
