package client_test

// Forging metadata as an attacker, or a holder of some of the keys, would:
// load a copy of a repository's newest top-level metadata, change it, and
// publish new versions signed with whatever keys the scenario allows.

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

type forged struct {
	t    testing.TB
	dir  string // the repository directory (a copy: forging changes it)
	root *metadata.Metadata[metadata.RootType]
	ts   *metadata.Metadata[metadata.TimestampType]
	snap *metadata.Metadata[metadata.SnapshotType]
	tg   *metadata.Metadata[metadata.TargetsType]
	// expires overrides the expiry of what publish* writes, by role
	// (default: a day from now).
	expires map[string]time.Time
}

// expiryOf is the expiry publish* gives a role's metadata.
func (f *forged) expiryOf(role string) time.Time {
	if e, ok := f.expires[role]; ok {
		return e
	}
	return expiry()
}

var rootName = regexp.MustCompile(`^([0-9]+)\.root\.json$`)

func (f *forged) meta(name string) string { return filepath.Join(f.dir, "metadata", name) }

// forge loads the newest metadata of the repository in dir.
func forge(t testing.TB, dir string) *forged {
	t.Helper()
	f := &forged{t: t, dir: dir}
	entries, err := os.ReadDir(filepath.Join(dir, "metadata"))
	if err != nil {
		t.Fatal(err)
	}
	best := 0
	for _, e := range entries {
		if m := rootName.FindStringSubmatch(e.Name()); m != nil {
			if n, _ := strconv.Atoi(m[1]); n > best {
				best = n
			}
		}
	}
	if f.root, err = metadata.Root().FromFile(f.meta(fmt.Sprintf("%d.root.json", best))); err != nil {
		t.Fatal(err)
	}
	if f.ts, err = metadata.Timestamp().FromFile(f.meta("timestamp.json")); err != nil {
		t.Fatal(err)
	}
	sv := f.ts.Signed.Meta["snapshot.json"].Version
	if f.snap, err = metadata.Snapshot().FromFile(f.meta(fmt.Sprintf("%d.snapshot.json", sv))); err != nil {
		t.Fatal(err)
	}
	tv := f.snap.Signed.Meta["targets.json"].Version
	if f.tg, err = metadata.Targets().FromFile(f.meta(fmt.Sprintf("%d.targets.json", tv))); err != nil {
		t.Fatal(err)
	}
	return f
}

// trustedSigner returns the repository's own (trusted) key for an online role.
func trustedSigner(t testing.TB, r *testrepo.Repo, role string) signature.Signer {
	t.Helper()
	root, err := metadata.Root().FromBytes(r.Root)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Keys.Signer(root.Signed.Roles[role].KeyIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// freshSigner returns a key nobody trusts.
func freshSigner(t testing.TB) signature.Signer {
	t.Helper()
	k, err := keys.Generate("attacker", keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.Signer()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func expiry() time.Time { return time.Now().UTC().Add(24 * time.Hour).Truncate(time.Second) }

func (f *forged) write(name string, data []byte) *metadata.MetaFiles {
	f.t.Helper()
	if err := os.WriteFile(f.meta(name), data, 0o644); err != nil {
		f.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return &metadata.MetaFiles{Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
}

// publishTargets writes f.tg as the next targets version. sign signs it
// (nil: keep the signatures it carries, now over different content).
func (f *forged) publishTargets(sign signature.Signer) {
	f.t.Helper()
	f.tg.Signed.Version++
	f.tg.Signed.Expires = f.expiryOf(metadata.TARGETS)
	if sign != nil {
		f.tg.ClearSignatures()
		if _, err := f.tg.Sign(sign); err != nil {
			f.t.Fatal(err)
		}
	}
	data, err := f.tg.ToBytes(true)
	if err != nil {
		f.t.Fatal(err)
	}
	mf := f.write(fmt.Sprintf("%d.targets.json", f.tg.Signed.Version), data)
	mf.Version = f.tg.Signed.Version
	f.snap.Signed.Meta["targets.json"] = mf
}

// publishSnapshot writes the next snapshot version signed by sign.
func (f *forged) publishSnapshot(sign signature.Signer) {
	f.t.Helper()
	f.snap.Signed.Version++
	f.snap.Signed.Expires = f.expiryOf(metadata.SNAPSHOT)
	f.snap.ClearSignatures()
	if _, err := f.snap.Sign(sign); err != nil {
		f.t.Fatal(err)
	}
	data, err := f.snap.ToBytes(true)
	if err != nil {
		f.t.Fatal(err)
	}
	mf := f.write(fmt.Sprintf("%d.snapshot.json", f.snap.Signed.Version), data)
	mf.Version = f.snap.Signed.Version
	f.ts.Signed.Meta["snapshot.json"] = mf
}

// publishTimestamp writes the next timestamp signed by sign.
func (f *forged) publishTimestamp(sign signature.Signer) {
	f.t.Helper()
	f.ts.Signed.Version++
	f.ts.Signed.Expires = f.expiryOf(metadata.TIMESTAMP)
	f.ts.ClearSignatures()
	if _, err := f.ts.Sign(sign); err != nil {
		f.t.Fatal(err)
	}
	data, err := f.ts.ToBytes(true)
	if err != nil {
		f.t.Fatal(err)
	}
	f.write("timestamp.json", data)
}

// publishAll publishes targets, snapshot and timestamp.
func (f *forged) publishAll(tgt, snap, ts signature.Signer) {
	f.t.Helper()
	f.publishTargets(tgt)
	f.publishSnapshot(snap)
	f.publishTimestamp(ts)
}

// dropVersion removes every target of a model version from targets.
func (f *forged) dropVersion(modelID, version string) {
	f.t.Helper()
	prefix := "models/" + modelID + "/" + version + "/"
	n := 0
	for p := range f.tg.Signed.Targets {
		if len(p) > len(prefix) && p[:len(prefix)] == prefix {
			delete(f.tg.Signed.Targets, p)
			n++
		}
	}
	if n == 0 {
		f.t.Fatalf("no targets under %s", prefix)
	}
}
