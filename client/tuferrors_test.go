package client_test

// go-tuf's errors as the device maps them to codes. Each case drives
// go-tuf's real updater (through the client, against a repository served
// on 127.0.0.1 or the device's own metadata) into one fault, then asserts
// both the go-tuf error type that the client's error wraps and the
// client's code. The client maps go-tuf's errors by type and by the role
// it was processing (client/errors.go, tufCode): if a go-tuf upgrade
// changes the type it returns for a fault, or stops returning it where the
// client expects, a case here fails.

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// isErr reports whether err wraps an error of go-tuf's type E (the
// concrete type: errors.As ignores go-tuf's Is methods).
func isErr[E error](err error) bool {
	var e E
	return errors.As(err, &e)
}

type tufErrorCase struct {
	name string
	// run makes the fault and returns the error of the device's next
	// update (or offline check).
	run  func(t *testing.T) error
	is   func(error) bool // the go-tuf error type expected in the chain
	typ  string           // its name, for messages
	code client.Code
}

// attacked returns a device on which 1.0.0 is active, whose repository
// has published 1.1.0 since, and lets edit change a copy of the
// repository (f: its newest metadata, loaded) before the device updates
// from that copy. It returns the update's error, after checking that the
// device stayed on 1.0.0.
func attacked(t *testing.T, edit func(t *testing.T, r *testrepo.Repo, d *device, f *forged)) error {
	t.Helper()
	r, srv, d := onV1(t)
	publish(t, r, smallSize, "1.1.0")
	f := forge(t, snapshotRepo(t, r))
	edit(t, r, d, f)
	srv.set(dirHandler(f.dir))
	res, err := d.update(client.UpdateRequest{})
	if res.Version != "1.0.0" {
		t.Fatalf("active %q after a refused update, want 1.0.0", res.Version)
	}
	return err
}

// signedBy signs md with sign alone, replacing its signatures.
func signedBy[T metadata.Roles](t testing.TB, md *metadata.Metadata[T], sign ...signature.Signer) {
	t.Helper()
	md.ClearSignatures()
	for _, s := range sign {
		if _, err := md.Sign(s); err != nil {
			t.Fatal(err)
		}
	}
}

func past() time.Time { return time.Now().UTC().Add(-time.Hour).Truncate(time.Second) }

// trustedVersion is the version of a role's metadata the device trusts.
func (d *device) trustedVersion(role string) int64 {
	d.t.Helper()
	data, err := os.ReadFile(d.path("metadata", role+".json"))
	if err != nil {
		d.t.Fatal(err)
	}
	var m struct {
		Signed struct {
			Version int64 `json:"version"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		d.t.Fatal(err)
	}
	return m.Signed.Version
}

func TestGoTUFErrorMapping(t *testing.T) {
	t.Parallel()
	unsigned := isErr[*metadata.ErrUnsignedMetadata]
	expired := isErr[*metadata.ErrExpiredMetadata]
	badVersion := isErr[*metadata.ErrBadVersionNumber]
	lenHash := isErr[*metadata.ErrLengthOrHashMismatch]
	bareRepo := isErr[*metadata.ErrRepository]
	httpErr := isErr[*metadata.ErrDownloadHTTP]
	tooLong := isErr[*metadata.ErrDownloadLengthMismatch]
	valueErr := isErr[*metadata.ErrValue]
	syntax := isErr[*json.SyntaxError]
	untyped := func(err error) bool {
		return !unsigned(err) && !expired(err) && !badVersion(err) && !lenHash(err) && !bareRepo(err) &&
			!isErr[*metadata.ErrDownload](err) && !httpErr(err) && !tooLong(err) && !valueErr(err) &&
			!isErr[*metadata.ErrType](err) && !isErr[*metadata.ErrRuntime](err) && !isErr[*metadata.ErrEqualVersionNumber](err)
	}

	cases := []tufErrorCase{
		{"root signed by an untrusted key", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				evil := freshSigner(t)
				pub, err := evil.PublicKey()
				if err != nil {
					t.Fatal(err)
				}
				key, err := metadata.KeyFromPublicKey(pub)
				if err != nil {
					t.Fatal(err)
				}
				id, _ := key.ID()
				f.root.Signed.Version++
				f.root.Signed.Keys = map[string]*metadata.Key{id: key}
				for _, role := range f.root.Signed.Roles {
					role.KeyIDs, role.Threshold = []string{id}, 1
				}
				signedBy(t, f.root, evil)
				if err := f.root.ToFile(f.meta(fmt.Sprintf("%d.root.json", f.root.Signed.Version)), true); err != nil {
					t.Fatal(err)
				}
			})
		}, unsigned, "ErrUnsignedMetadata", client.MetadataSignatureInvalid},

		{"root version skips one, signed by the root keys", func(t *testing.T) error {
			r, rk := rotRepo(t)
			publish(t, r, smallSize, "1.0.0")
			srv := serveRepo(t, r)
			d := newDevice(t, r, srv.URL, fastOpts())
			d.mustUpdate("1.0.0")
			f := forge(t, snapshotRepo(t, r))
			f.root.Signed.Version += 2 // served as 2.root.json
			signedBy(t, f.root, signerOf(t, rk[0]), signerOf(t, rk[1]))
			if err := f.root.ToFile(f.meta("2.root.json"), true); err != nil {
				t.Fatal(err)
			}
			srv.set(dirHandler(f.dir))
			_, err := d.update(client.UpdateRequest{})
			return err
		}, badVersion, "ErrBadVersionNumber", client.RollbackRejected},

		{"timestamp signed by an untrusted key", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.publishTimestamp(freshSigner(t))
			})
		}, unsigned, "ErrUnsignedMetadata", client.MetadataSignatureInvalid},

		// The device's own snapshot is loaded, and outdated, when the new
		// one fails: the trusted set alone would point at targets.
		{"snapshot signed by an untrusted key", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.publishSnapshot(freshSigner(t))
				f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, unsigned, "ErrUnsignedMetadata", client.MetadataSignatureInvalid},

		{"targets signed by an untrusted key", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.publishAll(freshSigner(t), trustedSigner(t, r, metadata.SNAPSHOT), trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, unsigned, "ErrUnsignedMetadata", client.SignatureInvalid},

		{"delegated role signed by an untrusted key", func(t *testing.T) error {
			return delegatedAttack(t, func(t *testing.T, r *testrepo.Repo, f *forged, role string) {
				f.publishDelegated(role, freshSigner(t))
				f.publishSnapshot(trustedSigner(t, r, metadata.SNAPSHOT))
				f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, unsigned, "ErrUnsignedMetadata", client.SignatureInvalid},

		{"listed delegated role missing (404)", func(t *testing.T) error {
			return delegatedAttack(t, func(t *testing.T, r *testrepo.Repo, f *forged, role string) {
				f.publishDelegated(role, freshSigner(t))
				f.publishSnapshot(trustedSigner(t, r, metadata.SNAPSHOT))
				f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))
				mf := f.snap.Signed.Meta[role+".json"]
				if err := os.Remove(f.meta(fmt.Sprintf("%d.%s.json", mf.Version, role))); err != nil {
					t.Fatal(err)
				}
			})
		}, httpErr, "ErrDownloadHTTP", client.Network},

		{"expired timestamp", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.expires = map[string]time.Time{metadata.TIMESTAMP: past()}
				f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, expired, "ErrExpiredMetadata", client.MetadataExpired},

		{"expired snapshot", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.expires = map[string]time.Time{metadata.SNAPSHOT: past()}
				f.publishSnapshot(trustedSigner(t, r, metadata.SNAPSHOT))
				f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, expired, "ErrExpiredMetadata", client.MetadataExpired},

		{"expired targets", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.expires = map[string]time.Time{metadata.TARGETS: past()}
				f.publishAll(trustedSigner(t, r, metadata.TARGETS), trustedSigner(t, r, metadata.SNAPSHOT), trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, expired, "ErrExpiredMetadata", client.MetadataExpired},

		{"rolled-back timestamp", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.ts.Signed.Version = d.trustedVersion(metadata.TIMESTAMP) - 2 // published as trusted-1
				f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, badVersion, "ErrBadVersionNumber", client.RollbackRejected},

		{"snapshot rolls back the targets version", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.snap.Signed.Meta["targets.json"].Version = 1 // the device trusts 2 or later
				f.publishSnapshot(trustedSigner(t, r, metadata.SNAPSHOT))
				f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, badVersion, "ErrBadVersionNumber", client.RollbackRejected},

		{"snapshot drops a role", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				delete(f.snap.Signed.Meta, "targets.json")
				f.publishSnapshot(trustedSigner(t, r, metadata.SNAPSHOT))
				f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, bareRepo, "ErrRepository", client.RollbackRejected},

		// go-tuf returns an untyped error here (fmt.Errorf "role targets not
		// found in snapshot"): the client must not read "not found" as
		// TARGET_NOT_FOUND (a lookup skips such a model) or NETWORK.
		{"first refresh: the snapshot lists no targets", func(t *testing.T) error {
			r := newRepo(t)
			publish(t, r, smallSize, "1.0.0")
			f := forge(t, snapshotRepo(t, r))
			delete(f.snap.Signed.Meta, "targets.json")
			f.publishSnapshot(trustedSigner(t, r, metadata.SNAPSHOT))
			f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))
			srv := newServer(t, dirHandler(f.dir))
			d := newDevice(t, r, srv.URL, fastOpts())
			_, err := d.update(client.UpdateRequest{})
			return err
		}, untyped, "an error of no go-tuf type", client.MetadataInvalid},

		// Mix and match: a genuine snapshot served under the next version's
		// name, the timestamp naming that version.
		{"snapshot version other than the timestamp names", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.publishSnapshot(trustedSigner(t, r, metadata.SNAPSHOT))
				v := f.snap.Signed.Version
				data, err := os.ReadFile(f.meta(fmt.Sprintf("%d.snapshot.json", v)))
				if err != nil {
					t.Fatal(err)
				}
				mf := f.write(fmt.Sprintf("%d.snapshot.json", v+1), data)
				mf.Version = v + 1
				f.ts.Signed.Meta["snapshot.json"] = mf
				f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, badVersion, "ErrBadVersionNumber", client.RollbackRejected},

		{"targets metadata does not match the snapshot's hash", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.publishTargets(trustedSigner(t, r, metadata.TARGETS))
				f.snap.Signed.Meta["targets.json"].Hashes["sha256"][0] ^= 1
				f.publishSnapshot(trustedSigner(t, r, metadata.SNAPSHOT))
				f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, lenHash, "ErrLengthOrHashMismatch", client.MetadataInvalid},

		{"listed targets metadata missing (404)", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.publishAll(trustedSigner(t, r, metadata.TARGETS), trustedSigner(t, r, metadata.SNAPSHOT), trustedSigner(t, r, metadata.TIMESTAMP))
				if err := os.Remove(f.meta(fmt.Sprintf("%d.targets.json", f.tg.Signed.Version))); err != nil {
					t.Fatal(err)
				}
			})
		}, httpErr, "ErrDownloadHTTP", client.Network},

		{"snapshot longer than the timestamp says", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.publishSnapshot(trustedSigner(t, r, metadata.SNAPSHOT))
				f.ts.Signed.Meta["snapshot.json"].Length -= 10
				f.publishTimestamp(trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, tooLong, "ErrDownloadLengthMismatch", client.LengthExceeded},

		{"timestamp not JSON", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				f.write("timestamp.json", []byte(`{"signed": `))
			})
		}, syntax, "json.SyntaxError", client.MetadataInvalid},

		{"timestamp of another type", func(t *testing.T) error {
			return attacked(t, func(t *testing.T, r *testrepo.Repo, d *device, f *forged) {
				data, err := f.snap.ToBytes(true)
				if err != nil {
					t.Fatal(err)
				}
				f.write("timestamp.json", data)
			})
		}, valueErr, "ErrValue", client.MetadataInvalid},

		// Offline checks (verify, rollback, a pending trial) load the
		// device's own copy with nothing downloaded: the role comes from the
		// trusted set.
		{"offline: local timestamp re-signed by an untrusted key", func(t *testing.T) error {
			return localAttack(t, func(t *testing.T, r *testrepo.Repo, l *localMeta) {
				l.ts.Signed.Version++
				l.write(metadata.TIMESTAMP, l.ts, freshSigner(t))
			})
		}, unsigned, "ErrUnsignedMetadata", client.MetadataSignatureInvalid},

		{"offline: local snapshot re-signed by an untrusted key", func(t *testing.T) error {
			return localAttack(t, func(t *testing.T, r *testrepo.Repo, l *localMeta) {
				l.ts.Signed.Meta["snapshot.json"] = l.write(metadata.SNAPSHOT, l.snap, freshSigner(t))
				l.write(metadata.TIMESTAMP, l.ts, trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, unsigned, "ErrUnsignedMetadata", client.MetadataSignatureInvalid},

		{"offline: local targets re-signed by an untrusted key", func(t *testing.T) error {
			return localAttack(t, func(t *testing.T, r *testrepo.Repo, l *localMeta) {
				l.snap.Signed.Meta["targets.json"] = l.write(metadata.TARGETS, l.tg, freshSigner(t))
				l.ts.Signed.Meta["snapshot.json"] = l.write(metadata.SNAPSHOT, l.snap, trustedSigner(t, r, metadata.SNAPSHOT))
				l.write(metadata.TIMESTAMP, l.ts, trustedSigner(t, r, metadata.TIMESTAMP))
			})
		}, unsigned, "ErrUnsignedMetadata", client.SignatureInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := c.run(t)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if !c.is(err) {
				t.Errorf("go-tuf's error is no longer a %s: %v", c.typ, err)
			}
			if got := client.CodeOf(err); got != c.code {
				t.Errorf("code %s, want %s (%v)", got, c.code, err)
			}
		})
	}
}

// publishDelegated writes the next version of a delegated role's
// metadata, signed by sign, and records it in f.snap.
func (f *forged) publishDelegated(role string, sign signature.Signer) {
	f.t.Helper()
	mf := f.snap.Signed.Meta[role+".json"]
	if mf == nil {
		f.t.Fatalf("the snapshot does not list %s", role)
	}
	md, err := metadata.Targets().FromFile(f.meta(fmt.Sprintf("%d.%s.json", mf.Version, role)))
	if err != nil {
		f.t.Fatal(err)
	}
	md.Signed.Version = mf.Version + 1
	md.Signed.Expires = f.expiryOf(role)
	signedBy(f.t, md, sign)
	data, err := md.ToBytes(true)
	if err != nil {
		f.t.Fatal(err)
	}
	nf := f.write(fmt.Sprintf("%d.%s.json", md.Signed.Version, role), data)
	nf.Version = md.Signed.Version
	f.snap.Signed.Meta[role+".json"] = nf
}

// delegatedAttack is attacked for a model that a delegated role signs:
// edit gets the role's name.
func delegatedAttack(t *testing.T, edit func(t *testing.T, r *testrepo.Repo, f *forged, role string)) error {
	t.Helper()
	const role = "det-team"
	r := newRepo(t)
	team := delegateTeam(t, r, role, model)
	kr := r.OnlineKeyring(t, team)
	r.PublishAs(t, kr, model, "1.0.0", bundle(seedOf("1.0.0"), smallSize), targets.Compat{}, repo.AddOptions{Role: role})
	srv := serveRepo(t, r)
	d := newDevice(t, r, srv.URL, fastOpts())
	d.mustUpdate("1.0.0")
	f := forge(t, snapshotRepo(t, r))
	edit(t, r, f, role)
	srv.set(dirHandler(f.dir))
	res, err := d.update(client.UpdateRequest{})
	if res.Version != "1.0.0" {
		t.Fatalf("active %q after a refused update, want 1.0.0", res.Version)
	}
	return err
}

// localMeta is the device's verified copy of the top-level metadata, which
// offline checks read.
type localMeta struct {
	t    testing.TB
	dir  string
	ts   *metadata.Metadata[metadata.TimestampType]
	snap *metadata.Metadata[metadata.SnapshotType]
	tg   *metadata.Metadata[metadata.TargetsType]
}

// write signs md with sign alone, stores it as the device's copy of role,
// and returns the meta entry its parent must record.
func (l *localMeta) write(role string, md interface {
	ClearSignatures()
	Sign(signature.Signer) (*metadata.Signature, error)
	ToBytes(bool) ([]byte, error)
}, sign signature.Signer) *metadata.MetaFiles {
	l.t.Helper()
	md.ClearSignatures()
	if _, err := md.Sign(sign); err != nil {
		l.t.Fatal(err)
	}
	data, err := md.ToBytes(true)
	if err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.dir, role+".json"), data, 0o644); err != nil {
		l.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	var v struct {
		Signed struct {
			Version int64 `json:"version"`
		} `json:"signed"`
	}
	json.Unmarshal(data, &v)
	return &metadata.MetaFiles{Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}, Version: v.Signed.Version}
}

// localAttack edits the verified metadata copy of a device on which 1.0.0
// is active, then returns the error of an offline check (Verify).
func localAttack(t *testing.T, edit func(t *testing.T, r *testrepo.Repo, l *localMeta)) error {
	t.Helper()
	r, _, d := onV1(t)
	l := &localMeta{t: t, dir: d.path("metadata-verified")}
	var err error
	if l.ts, err = metadata.Timestamp().FromFile(filepath.Join(l.dir, "timestamp.json")); err != nil {
		t.Fatal(err)
	}
	if l.snap, err = metadata.Snapshot().FromFile(filepath.Join(l.dir, "snapshot.json")); err != nil {
		t.Fatal(err)
	}
	if l.tg, err = metadata.Targets().FromFile(filepath.Join(l.dir, "targets.json")); err != nil {
		t.Fatal(err)
	}
	edit(t, r, l)
	_, err = d.c.Verify(model)
	return err
}
