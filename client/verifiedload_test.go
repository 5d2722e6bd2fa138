package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/fsverity"
	"github.com/edgetuf/edgetuf/targets"
)

// readChunks reads r with a 4 KiB buffer and returns the bytes read, the
// number of reads that returned an error and the final error.
func readChunks(r io.Reader) (data []byte, errReads int, last error) {
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		data = append(data, buf[:n]...)
		if err != nil {
			errReads++
			if err == io.EOF {
				return data, errReads, err
			}
			if last != nil {
				return data, errReads, err // asked again: the same error
			}
			last = err
		}
	}
}

// TestOpenActiveIntact: the active version's files read back as published,
// listed with their signed lengths and hashes; io.Copy (WriteTo) and Read
// end with EOF; an unsigned name and a model without an active version are
// refused.
func TestOpenActiveIntact(t *testing.T) {
	t.Parallel()
	r, _, d := onV1(t)
	m, err := d.c.OpenActive(model)
	if err != nil {
		t.Fatal(err)
	}
	if m.ModelID != model || m.Version != "1.0.0" || m.Path != d.path("models", model, "1.0.0") || len(m.Files) != 3 {
		t.Fatalf("%+v", m)
	}
	want := bundle(seedOf("1.0.0"), smallSize)["model.bin"]
	for _, f := range m.Files {
		if f.Name == "model.bin" && (f.Length != int64(len(want)) || len(f.SHA256) != 64) {
			t.Fatalf("model.bin listed as %+v", f)
		}
	}
	rc, err := m.Open("model.bin")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if n, err := io.Copy(&out, rc); err != nil || n != int64(len(want)) || !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("io.Copy: %d bytes, %v", n, err)
	}
	rc.Close()
	rc, _ = m.Open("labels.txt")
	if got, _, err := readChunks(rc); err != io.EOF || !bytes.Equal(got, labels(seedOf("1.0.0"))) {
		t.Fatalf("labels.txt: %q, %v", got, err)
	}
	rc.Close()
	if _, err := m.Open("other.bin"); client.CodeOf(err) != client.TargetNotFound {
		t.Fatalf("unsigned name: %v", err)
	}
	if err := m.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.c.OpenActive("other-model"); client.CodeOf(err) != client.NoActiveModel {
		t.Fatalf("no active version: %v", err)
	}
	_ = r
}

// TestOpenActiveByteFlip: a same-size byte flip in the active model.bin
// is caught by the reader on the read that reaches the end (earlier reads
// returned data without error), with HASH_MISMATCH, whether the flipped
// byte comes first or last; Verify agrees.
func TestOpenActiveByteFlip(t *testing.T) {
	t.Parallel()
	for _, off := range []int64{0, smallSize / 2, smallSize - 1} {
		_, _, d := onV1(t)
		flipByte(t, d.path("models", model, "1.0.0", "model.bin"), off)
		m, err := d.c.OpenActive(model)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := m.Open("model.bin")
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		data, errReads, err := readChunks(rc)
		rc.Close()
		if client.CodeOf(err) != client.HashMismatch || !strings.Contains(err.Error(), "does not match its signed SHA-256") {
			t.Fatalf("offset %d: %v", off, err)
		}
		if len(data) != smallSize || errReads != 2 {
			t.Fatalf("offset %d: %d bytes, %d reads with an error: want all %d bytes and the error once (and again when asked)", off, len(data), errReads, smallSize)
		}
		if err := m.Verify(context.Background()); client.CodeOf(err) != client.HashMismatch {
			t.Fatalf("Verify: %v", err)
		}
	}
}

// TestOpenActiveSizeAndLinks: a truncated or grown file and a file
// replaced by a symbolic link (to a genuine copy) fail at Open; a file
// that grows or shrinks after Open fails on the read that finds it, and
// no read ever returns more than the signed length.
func TestOpenActiveSizeAndLinks(t *testing.T) {
	t.Parallel()
	genuine := bundle(seedOf("1.0.0"), smallSize)["model.bin"]
	for _, tc := range []struct {
		name        string
		before      func(path string) error
		after       func(path string) error
		wantMessage string
	}{
		{"truncated", func(p string) error { return os.Truncate(p, smallSize-1) }, nil, "is 65535 bytes, signed 65536"},
		{"grown", func(p string) error { return appendTo(p, "x") }, nil, "is 65537 bytes, signed 65536"},
		{"symlink", func(p string) error {
			out := filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(p))))), "genuine.bin")
			if err := os.WriteFile(out, genuine, 0o600); err != nil {
				return err
			}
			os.Remove(p)
			return os.Symlink(out, p)
		}, nil, "is not a regular file"},
		{"removed", os.Remove, nil, "is missing"},
		{"grown while read", nil, func(p string) error { return appendTo(p, "extra bytes") }, "is longer than its signed 65536 bytes"},
		{"truncated while read", nil, func(p string) error { return os.Truncate(p, smallSize-100) }, "is 65436 bytes, signed 65536"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, d := onV1(t)
			path := d.path("models", model, "1.0.0", "model.bin")
			m, err := d.c.OpenActive(model)
			if err != nil {
				t.Fatal(err)
			}
			if tc.before != nil {
				if err := tc.before(path); err != nil {
					t.Fatal(err)
				}
				_, err := m.Open("model.bin")
				if client.CodeOf(err) != client.HashMismatch || !strings.Contains(err.Error(), tc.wantMessage) {
					t.Fatalf("open: %v, want HASH_MISMATCH ... %s", err, tc.wantMessage)
				}
				return
			}
			rc, err := m.Open("model.bin")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			first := make([]byte, 100)
			if n, err := io.ReadFull(rc, first); err != nil || n != 100 {
				t.Fatal(n, err)
			}
			if err := tc.after(path); err != nil {
				t.Fatal(err)
			}
			data, _, err := readChunks(rc)
			if client.CodeOf(err) != client.HashMismatch || !strings.Contains(err.Error(), tc.wantMessage) {
				t.Fatalf("read: %v, want HASH_MISMATCH ... %s", err, tc.wantMessage)
			}
			if got := 100 + len(data); got > smallSize {
				t.Fatalf("read %d bytes, more than the signed %d", got, smallSize)
			}
		})
	}
}

func appendTo(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(s)
	return err
}

// TestOpenActiveIgnoresLocalManifest: the expected hash comes from the
// signed metadata, not from the installed manifest: replacing model.bin
// and rewriting manifest.json to describe the replacement is caught.
func TestOpenActiveIgnoresLocalManifest(t *testing.T) {
	t.Parallel()
	_, _, d := onV1(t)
	dir := d.path("models", model, "1.0.0")
	forged := payload(99, smallSize)
	if err := os.WriteFile(filepath.Join(dir, "model.bin"), forged, 0o600); err != nil {
		t.Fatal(err)
	}
	man, _ := os.ReadFile(filepath.Join(dir, targets.ManifestName))
	sum := sha256Hex(forged)
	orig := sha256Hex(bundle(seedOf("1.0.0"), smallSize)["model.bin"])
	os.WriteFile(filepath.Join(dir, targets.ManifestName), bytes.ReplaceAll(man, []byte(orig), []byte(sum)), 0o600)
	m, err := d.c.OpenActive(model)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		if f.Name == "model.bin" && f.SHA256 != orig {
			t.Fatalf("listed SHA-256 %s, signed %s", f.SHA256, orig)
		}
	}
	rc, _ := m.Open("model.bin")
	defer rc.Close()
	if _, err := io.ReadAll(rc); client.CodeOf(err) != client.HashMismatch {
		t.Fatalf("forged model.bin read: %v", err)
	}
}

// TestVerifyActiveRepairs: a same-size byte flip in the active model.bin
// is not seen by the cheap up-to-date check, is caught by VerifyActive,
// and the device repairs itself from the repository: model.bin is
// downloaded again, the intact labels.txt copied from the damaged copy,
// the version directory replaced, the event logged, the active model
// correct afterwards.
func TestVerifyActiveRepairs(t *testing.T) {
	t.Parallel()
	_, srv, d := onV1(t)
	flipByte(t, d.path("models", model, "1.0.0", "model.bin"), 1234)
	if res := d.mustUpdate("1.0.0"); res.Outcome != client.OutcomeUpToDate {
		t.Fatalf("without a re-hash: %+v", res)
	}
	srv.reset()
	res, err := d.update(client.UpdateRequest{VerifyActive: true})
	if err != nil || res.Outcome != client.OutcomeRepaired || res.Version != "1.0.0" {
		t.Fatalf("verify-active: %v %+v", err, res)
	}
	methods := map[string]string{}
	for _, f := range res.Files {
		methods[f.File] = f.Method
	}
	if methods["model.bin"] != client.MethodLocalFallback || methods["labels.txt"] != client.MethodLocal || methods[targets.ManifestName] != client.MethodFull {
		t.Fatalf("files: %+v", res.Files)
	}
	if res.BytesDownloaded < smallSize || res.BytesDownloaded > smallSize+4096 {
		t.Fatalf("downloaded %d bytes: want model.bin (%d) and the manifest", res.BytesDownloaded, smallSize)
	}
	d.wantActive("1.0.0")
	es := d.events()
	var failed, repaired bool
	for _, e := range es {
		failed = failed || e.Event == client.EventFailed && e.Code == client.HashMismatch
		repaired = repaired || e.Event == client.EventRepaired
	}
	if !failed || !repaired {
		t.Fatalf("events %v", eventNames(es))
	}
	// Intact now: another full re-hash finds nothing to do.
	srv.reset()
	if res, err := d.update(client.UpdateRequest{VerifyActive: true}); err != nil || res.Outcome != client.OutcomeUpToDate || len(srv.requests("/targets/")) != 0 {
		t.Fatalf("after repair: %v %+v", err, res)
	}
}

// TestRehashEvery: with an injected clock, an up-to-date update re-hashes
// the active version only when the last good full re-hash is older than
// RehashEvery: not due, a byte flip goes unseen; due, it is repaired. A
// record from the future or of another version counts as due.
func TestRehashEvery(t *testing.T) {
	t.Parallel()
	r, _, d := onV1(t)
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	opts := fastOpts()
	opts.Now = func() time.Time { return clock() }
	d.reopen(opts)
	every := client.UpdateRequest{RehashEvery: time.Hour}
	update := func(want string) {
		t.Helper()
		res, err := d.update(every)
		if err != nil || res.Outcome != want {
			t.Fatalf("at %v: %v %+v, want %s", now, err, res, want)
		}
	}
	record := d.path("models", model, "rehash.json")
	update(client.OutcomeUpToDate) // never re-hashed: due, intact, recorded
	if data, err := os.ReadFile(record); err != nil || !strings.Contains(string(data), `"version": "1.0.0"`) {
		t.Fatalf("record: %s %v", data, err)
	}
	flipByte(t, d.path("models", model, "1.0.0", "model.bin"), 7)
	now = now.Add(59 * time.Minute)
	update(client.OutcomeUpToDate) // not due: the flip goes unseen
	now = now.Add(time.Minute)
	update(client.OutcomeRepaired) // due
	d.wantActive("1.0.0")

	// A record in the future (edited, or the clock went back) is due.
	flipByte(t, d.path("models", model, "1.0.0", "model.bin"), 7)
	future := `{"version": "1.0.0", "time": "` + now.Add(24*time.Hour).UTC().Format(time.RFC3339) + `"}`
	os.WriteFile(record, []byte(future), 0o600)
	update(client.OutcomeRepaired)
	// A record of another version, or one that does not parse, is due.
	for _, rec := range []string{`{"version": "0.9.0", "time": "` + now.UTC().Format(time.RFC3339) + `"}`, `garbage`} {
		flipByte(t, d.path("models", model, "1.0.0", "model.bin"), 7)
		os.WriteFile(record, []byte(rec), 0o600)
		update(client.OutcomeRepaired)
	}
	_ = r
}

// TestInstalledFilesVerity: where the state directory's filesystem
// supports fs-verity, installed files have it (read-only for good, every
// page checked by the kernel); elsewhere the test skips with the reason
// and the install works without it (every other test).
func TestInstalledFilesVerity(t *testing.T) {
	t.Parallel()
	_, _, d := onV1(t)
	probe := filepath.Join(filepath.Dir(d.dir), "probe")
	os.WriteFile(probe, []byte("x"), 0o600)
	f, err := os.Open(probe)
	if err != nil {
		t.Fatal(err)
	}
	err = fsverity.Enable(f)
	f.Close()
	if errors.Is(err, fsverity.ErrNotSupported) {
		t.Skipf("the test's filesystem has no fs-verity: %v", err)
	}
	for _, name := range []string{"model.bin", "labels.txt", targets.ManifestName} {
		f, err := os.Open(d.path("models", model, "1.0.0", name))
		if err != nil {
			t.Fatal(err)
		}
		on, err := fsverity.Enabled(f)
		f.Close()
		if err != nil || !on {
			t.Fatalf("%s: fs-verity %v (%v)", name, on, err)
		}
	}
	if err := os.WriteFile(d.path("models", model, "1.0.0", "model.bin"), []byte("x"), 0o600); err == nil {
		t.Fatal("an installed verity file was rewritten")
	}
}

func sha256Hex(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }
