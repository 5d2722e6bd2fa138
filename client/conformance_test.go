package client_test

// What the TUF conformance suite found (issue 10, items 16 and 17), as
// the project's own tests: targets signed with hash algorithms other than
// SHA-256 alone, and a delegated role reached through two delegators.

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func digest(alg string, data []byte) []byte {
	switch alg {
	case "sha256":
		s := sha256.Sum256(data)
		return s[:]
	case "sha384":
		s := sha512.Sum384(data)
		return s[:]
	case "sha512":
		s := sha512.Sum512(data)
		return s[:]
	}
	s := sha512.Sum512(append([]byte(alg), data...)) // some digest of an unknown algorithm
	return s[:]
}

// addRawTarget lists path in the forged top-level targets with content's
// length and the given hashes, and stores content as a repository does
// with consistent snapshots: one copy named by each digest listed (also a
// wrong one: the test then shows which digest the client checks).
func (f *forged) addRawTarget(path string, content []byte, hashes metadata.Hashes) {
	f.t.Helper()
	f.tg.Signed.Targets[path] = &metadata.TargetFiles{Length: int64(len(content)), Hashes: hashes, Path: path}
	dir, base := filepath.Split(filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Join(f.dir, "targets", dir), 0o755); err != nil {
		f.t.Fatal(err)
	}
	for _, d := range hashes {
		if err := os.WriteFile(filepath.Join(f.dir, "targets", dir, hex.EncodeToString(d)+"."+base), content, 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
}

// tufClient is `mclient tuf` on a fresh metadata directory that trusts
// r's root.
func tufClient(t *testing.T, r *testrepo.Repo, srv *server) (*client.TUFClient, string) {
	t.Helper()
	base := t.TempDir()
	rootFile := filepath.Join(base, "root.json")
	if err := os.WriteFile(rootFile, r.Root, 0o644); err != nil {
		t.Fatal(err)
	}
	md := filepath.Join(base, "metadata")
	if err := client.TUFInit(md, rootFile); err != nil {
		t.Fatal(err)
	}
	return client.NewTUFClient(md, srv.URL+"/metadata", time.Time{}, fastOpts()), filepath.Join(base, "targets")
}

func tufDownload(tc *client.TUFClient, srv *server, dir string, paths ...string) error {
	return tc.Download(context.Background(), srv.URL+"/targets", dir, paths)
}

// TestTargetHashAlgorithms: a target is verified with every hash algorithm
// it lists that the client supports (SHA-256, SHA-384, SHA-512), all of
// them when it lists several, and refused only when it lists none the
// client supports. The conformance suite's
// test_download_with_hash_algorithms (SHA-512 alone) failed before.
func TestTargetHashAlgorithms(t *testing.T) {
	t.Parallel()
	content := []byte("target file contents")
	other := []byte("other file contents!")
	const path = "files/target_file.txt"
	cases := []struct {
		name   string
		hashes metadata.Hashes
		code   client.Code // "" for success
		// the digest whose hex names the file the client fetches ("" when
		// it must fetch nothing)
		fetchedBy string
	}{
		{"sha256 only", metadata.Hashes{"sha256": digest("sha256", content)}, "", "sha256"},
		{"sha512 only", metadata.Hashes{"sha512": digest("sha512", content)}, "", "sha512"},
		{"sha384 only", metadata.Hashes{"sha384": digest("sha384", content)}, "", "sha384"},
		{"sha256 and sha512", metadata.Hashes{"sha256": digest("sha256", content), "sha512": digest("sha512", content)}, "", "sha256"},
		{"sha384 and sha512", metadata.Hashes{"sha384": digest("sha384", content), "sha512": digest("sha512", content)}, "", "sha512"},
		{"sha256 right, sha512 wrong", metadata.Hashes{"sha256": digest("sha256", content), "sha512": digest("sha512", other)}, client.HashMismatch, "sha256"},
		{"sha256 wrong, sha512 right", metadata.Hashes{"sha256": digest("sha256", other), "sha512": digest("sha512", content)}, client.HashMismatch, "sha256"},
		{"sha384 wrong, sha512 right", metadata.Hashes{"sha384": digest("sha384", other), "sha512": digest("sha512", content)}, client.HashMismatch, "sha512"},
		{"unsupported only", metadata.Hashes{"blake3": digest("blake3", content)}, client.MetadataInvalid, ""},
		{"md5 only", metadata.Hashes{"md5": digest("sha256", content)[:16]}, client.MetadataInvalid, ""},
		{"unsupported and sha512", metadata.Hashes{"unknown-hash": digest("x", content), "sha512": digest("sha512", content)}, "", "sha512"},
		{"unsupported and sha512 wrong", metadata.Hashes{"unknown-hash": digest("x", content), "sha512": digest("sha512", other)}, client.HashMismatch, "sha512"},
		{"sha256 of the wrong size", metadata.Hashes{"sha256": digest("sha256", content)[:31], "sha512": digest("sha512", content)}, client.MetadataInvalid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			f := forge(t, r.Dir)
			f.addRawTarget(path, content, c.hashes)
			f.publishAll(trustedSigner(t, r, metadata.TARGETS), trustedSigner(t, r, metadata.SNAPSHOT), trustedSigner(t, r, metadata.TIMESTAMP))
			srv := serveRepo(t, r)
			tc, dir := tufClient(t, r, srv)
			err := tufDownload(tc, srv, dir, path)
			if got := client.CodeOf(err); got != c.code {
				t.Fatalf("download: code %q (%v), want %q", got, err, c.code)
			}
			stored := filepath.Join(dir, url.PathEscape(path))
			data, rerr := os.ReadFile(stored)
			if c.code == "" && (rerr != nil || string(data) != string(content)) {
				t.Fatalf("stored %q, %v", data, rerr)
			}
			if c.code != "" && rerr == nil {
				t.Fatalf("a refused target was stored: %q", data)
			}
			var want []string
			if c.fetchedBy != "" {
				want = []string{"/targets/files/" + hex.EncodeToString(c.hashes[c.fetchedBy]) + ".target_file.txt"}
			}
			var got []string
			for _, q := range srv.requests("/targets/") {
				got = append(got, q.Path)
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("requests %v, want %v", got, want)
			}
		})
	}
}

// TestTargetHashAlgorithmsLocalCopies: a copy already in the target
// directory (the conformance client's cache) and a complete copy left in
// staging by an interrupted run are re-hashed with every listed algorithm
// before they are trusted: with SHA-256 right and SHA-512 wrong in the
// metadata, neither is taken.
func TestTargetHashAlgorithmsLocalCopies(t *testing.T) {
	t.Parallel()
	content := []byte("target file contents")
	const path = "files/cached.bin"
	for _, where := range []string{"target directory", "staging"} {
		t.Run(where, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			f := forge(t, r.Dir)
			f.addRawTarget(path, content, metadata.Hashes{"sha256": digest("sha256", content), "sha512": digest("sha512", []byte("not the content"))})
			f.publishAll(trustedSigner(t, r, metadata.TARGETS), trustedSigner(t, r, metadata.SNAPSHOT), trustedSigner(t, r, metadata.TIMESTAMP))
			srv := serveRepo(t, r)
			tc, dir := tufClient(t, r, srv)
			stored := filepath.Join(dir, url.PathEscape(path))
			name := stored
			if where == "staging" {
				name += ".part"
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, content, 0o600); err != nil {
				t.Fatal(err)
			}
			err := tufDownload(tc, srv, dir, path)
			if client.CodeOf(err) != client.HashMismatch {
				t.Fatalf("download: %v, want HASH_MISMATCH", err)
			}
			if where == "staging" {
				if _, err := os.Stat(stored); err == nil {
					t.Fatal("the staged copy was installed")
				}
			}
		})
	}
}

// TestTargetHashAlgorithmsResume: half a target left in staging by an
// interrupted run is re-hashed with the algorithm the target lists
// (SHA-512 alone here) and the rest fetched with a Range request.
func TestTargetHashAlgorithmsResume(t *testing.T) {
	t.Parallel()
	content := payload(7, 64<<10)
	const path = "files/resumed.bin"
	r := newRepo(t)
	f := forge(t, r.Dir)
	f.addRawTarget(path, content, metadata.Hashes{"sha512": digest("sha512", content)})
	f.publishAll(trustedSigner(t, r, metadata.TARGETS), trustedSigner(t, r, metadata.SNAPSHOT), trustedSigner(t, r, metadata.TIMESTAMP))
	srv := serveRepo(t, r)
	tc, dir := tufClient(t, r, srv)
	stored := filepath.Join(dir, url.PathEscape(path))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	half := len(content) / 2
	if err := os.WriteFile(stored+".part", content[:half], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tufDownload(tc, srv, dir, path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(stored)
	if err != nil || string(data) != string(content) {
		t.Fatalf("stored %d bytes, %v", len(data), err)
	}
	reqs := srv.requests("/targets/")
	if len(reqs) != 1 || reqs[0].Range != fmt.Sprintf("bytes=%d-", half) {
		t.Errorf("requests %+v, want one for bytes=%d-", reqs, half)
	}
}

// TestModelTargetAllHashesChecked: a model file signed with SHA-256 and
// SHA-512 (a repository tool other than mrepo may list both) must match
// both: with the SHA-512 wrong, the update fails HASH_MISMATCH and nothing
// is installed; with both right, it installs.
func TestModelTargetAllHashesChecked(t *testing.T) {
	t.Parallel()
	for _, good := range []bool{false, true} {
		t.Run(fmt.Sprintf("sha512 right=%v", good), func(t *testing.T) {
			t.Parallel()
			r := newRepo(t)
			publish(t, r, 4096, "1.0.0")
			f := forge(t, r.Dir)
			p := "models/" + model + "/1.0.0/model.bin"
			data, err := os.ReadFile(r.TargetFile(t, p))
			if err != nil {
				t.Fatal(err)
			}
			sum := digest("sha512", data)
			if !good {
				sum = digest("sha512", append(data, 0))
			}
			f.tg.Signed.Targets[p].Hashes["sha512"] = sum
			f.publishAll(trustedSigner(t, r, metadata.TARGETS), trustedSigner(t, r, metadata.SNAPSHOT), trustedSigner(t, r, metadata.TIMESTAMP))
			d := newDevice(t, r, serveRepo(t, r).URL, fastOpts())
			if good {
				d.mustUpdate("1.0.0")
				d.wantActive("1.0.0")
				return
			}
			res, err := d.update(client.UpdateRequest{})
			if client.CodeOf(err) != client.HashMismatch || !strings.Contains(err.Error(), "SHA-512") {
				t.Fatalf("update: %v (%+v), want HASH_MISMATCH on the SHA-512", err, res)
			}
			d.wantActive("")
		})
	}
}

// diamond builds the repository shape of the conformance suite's
// test_cached_role_is_verified_against_current_delegator, with model
// versions: top-level targets delegates det 1.x to role "a" and det 2.x to
// role "b"; each delegates the same paths to one role "release", each with
// its own key for it. release lists det 1.0.0 and det 2.0.0 (published by
// mrepo, then moved there) and is signed by a's release key only, or by
// both when signedByBoth: 2.0.0 is then legitimately delegated through b.
func diamond(t *testing.T, signedByBoth bool) *testrepo.Repo {
	t.Helper()
	r := newRepo(t)
	publish(t, r, 4096, "1.0.0", "2.0.0")
	f := forge(t, r.Dir)

	key := func(name string) (signature.Signer, *metadata.Key) {
		k, pub := testrepo.TeamKey(t, name)
		s, err := k.Signer()
		if err != nil {
			t.Fatal(err)
		}
		return s, pub
	}
	aSigner, aPub := key("a")
	bSigner, bPub := key("b")
	relA, relAPub := key("release-via-a")
	relB, relBPub := key("release-via-b")
	id := func(k *metadata.Key) string {
		i, err := k.ID()
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	delegate := func(name string, pub *metadata.Key, paths ...string) *metadata.Delegations {
		return &metadata.Delegations{
			Keys:  map[string]*metadata.Key{id(pub): pub},
			Roles: []metadata.DelegatedRole{{Name: name, KeyIDs: []string{id(pub)}, Threshold: 1, Paths: paths}},
		}
	}
	dets := func(major string) string { return "models/" + model + "/" + major + ".*/*" }

	release := metadata.Targets(expiry())
	for p, tf := range f.tg.Signed.Targets {
		if strings.HasPrefix(p, "models/"+model+"/") {
			release.Signed.Targets[p] = tf
			delete(f.tg.Signed.Targets, p)
		}
	}
	a := metadata.Targets(expiry())
	a.Signed.Delegations = delegate("release", relAPub, dets("1"))
	b := metadata.Targets(expiry())
	b.Signed.Delegations = delegate("release", relBPub, dets("2"))
	top := delegate("a", aPub, dets("1"))
	top.Keys[id(bPub)] = bPub
	top.Roles = append(top.Roles, metadata.DelegatedRole{Name: "b", KeyIDs: []string{id(bPub)}, Threshold: 1, Paths: []string{dets("2")}})
	f.tg.Signed.Delegations = top

	put := func(name string, md *metadata.Metadata[metadata.TargetsType], signers ...signature.Signer) {
		for _, s := range signers {
			if _, err := md.Sign(s); err != nil {
				t.Fatal(err)
			}
		}
		data, err := md.ToBytes(true)
		if err != nil {
			t.Fatal(err)
		}
		mf := f.write(fmt.Sprintf("%d.%s.json", md.Signed.Version, name), data)
		mf.Version = md.Signed.Version
		f.snap.Signed.Meta[name+".json"] = mf
	}
	put("a", a, aSigner)
	put("b", b, bSigner)
	if signedByBoth {
		put("release", release, relA, relB)
	} else {
		put("release", release, relA)
	}
	f.publishAll(trustedSigner(t, r, metadata.TARGETS), trustedSigner(t, r, metadata.SNAPSHOT), trustedSigner(t, r, metadata.TIMESTAMP))
	return r
}

// TestDiamondDelegationVerifiedPerDelegator: a role loaded through one
// delegator is verified again when a lookup reaches it through another
// (go-tuf v2.4.2 reuses it unverified: theupdateframework/go-tuf#759).
// With release signed only by the key a delegates to it, det 2.0.0, which
// only b delegates, is refused: by the device's update (SIGNATURE_INVALID,
// nothing installed, no byte of 2.0.0 fetched) and by `mclient tuf`
// downloading 1.0.0 then 2.0.0 in one run (1.0.0 stored, 2.0.0 refused).
// Signed by both keys, 2.0.0 is taken: the refusal is for the signature
// alone.
func TestDiamondDelegationVerifiedPerDelegator(t *testing.T) {
	t.Parallel()
	m1 := "models/" + model + "/1.0.0/model.bin"
	m2 := "models/" + model + "/2.0.0/model.bin"

	t.Run("update", func(t *testing.T) {
		t.Parallel()
		r := diamond(t, false)
		srv := serveRepo(t, r)
		d := newDevice(t, r, srv.URL, fastOpts())
		res, err := d.update(client.UpdateRequest{})
		if client.CodeOf(err) != client.SignatureInvalid {
			t.Fatalf("update: %v (%+v), want SIGNATURE_INVALID", err, res)
		}
		if !strings.Contains(err.Error(), "release") {
			t.Errorf("the error does not name the role: %v", err)
		}
		d.wantActive("")
		if got := srv.requests("/targets/models/" + model + "/2.0.0/"); len(got) != 0 {
			t.Errorf("the device fetched %v", got)
		}
	})
	t.Run("update, signed by both", func(t *testing.T) {
		t.Parallel()
		r := diamond(t, true)
		d := newDevice(t, r, serveRepo(t, r).URL, fastOpts())
		d.mustUpdate("2.0.0")
		d.wantActive("2.0.0")
	})
	t.Run("mclient tuf", func(t *testing.T) {
		t.Parallel()
		r := diamond(t, false)
		srv := serveRepo(t, r)
		tc, dir := tufClient(t, r, srv)
		err := tufDownload(tc, srv, dir, m1, m2)
		if client.CodeOf(err) != client.SignatureInvalid {
			t.Fatalf("download: %v, want SIGNATURE_INVALID", err)
		}
		if _, err := os.Stat(filepath.Join(dir, url.PathEscape(m1))); err != nil {
			t.Errorf("1.0.0, delegated through a, was not stored: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, url.PathEscape(m2))); err == nil {
			t.Error("2.0.0 was stored")
		}
		if got := srv.requests("/targets/models/" + model + "/2.0.0/"); len(got) != 0 {
			t.Errorf("the client fetched %v", got)
		}
	})
	t.Run("mclient tuf, signed by both", func(t *testing.T) {
		t.Parallel()
		r := diamond(t, true)
		srv := serveRepo(t, r)
		tc, dir := tufClient(t, r, srv)
		if err := tufDownload(tc, srv, dir, m1, m2); err != nil {
			t.Fatal(err)
		}
	})
}
