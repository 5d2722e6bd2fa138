package audit

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func TestVerifyOK(t *testing.T) {
	t.Parallel()
	f := published(t)
	// Verify needs neither mrepo.json nor keys.
	if err := f.fs.Remove(filepath.Join(f.dir, "mrepo.json")); err != nil {
		t.Fatal(err)
	}
	rep := requireVerifies(t, f, t0)
	st := current(t, f)
	want := []RoleReport{
		{Role: "root", Version: 1, Expires: st.root.Signed.Expires},
		{Role: "timestamp", Version: 3, Expires: st.timestamp.Signed.Expires},
		{Role: "snapshot", Version: 3, Expires: st.snapshot.Signed.Expires},
		{Role: "targets", Version: 3, Expires: st.targets.Signed.Expires},
	}
	if len(rep.Roles) != len(want) {
		t.Fatalf("roles %+v", rep.Roles)
	}
	for i := range want {
		if rep.Roles[i].Role != want[i].Role || rep.Roles[i].Version != want[i].Version || !rep.Roles[i].Expires.Equal(want[i].Expires) {
			t.Errorf("role %d: %+v, want %+v", i, rep.Roles[i], want[i])
		}
	}
	var total int64
	for _, tf := range st.targets.Signed.Targets {
		total += tf.Length
	}
	if rep.Targets != 6 || rep.TargetBytes != total {
		t.Errorf("%d targets, %d bytes; want 6, %d", rep.Targets, rep.TargetBytes, total)
	}
	// Orphan files that no metadata references (left by an interrupted
	// publication) are not problems.
	afero.WriteFile(f.fs, filepath.Join(f.dir, repofiles.TargetsDir, "models", "det", "9.0.0", sha([]byte("x"))+".x"), []byte("x"), 0o644)
	afero.WriteFile(f.fs, filepath.Join(f.dir, repofiles.MetadataDir, "4.targets.json"), []byte("partial"), 0o644)
	afero.WriteFile(f.fs, filepath.Join(f.dir, repofiles.MetadataDir, ".tmp-123"), []byte("partial"), 0o644)
	requireVerifies(t, f, t0)
}

// writeRoot signs a root with the given signers and writes it as name.
func writeRoot(t *testing.T, f *fixture, name string, root *metadata.Metadata[metadata.RootType], signers ...*keys.Key) {
	t.Helper()
	root.ClearSignatures()
	for _, k := range signers {
		s, err := k.Signer()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.Sign(s); err != nil {
			t.Fatal(err)
		}
	}
	data, err := root.ToBytes(true)
	if err != nil {
		t.Fatal(err)
	}
	if err := afero.WriteFile(f.fs, filepath.Join(f.dir, repofiles.MetadataDir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixtureRoot is the fixture's pinned root, to edit, and its root key.
func fixtureRoot(t *testing.T, f *fixture) (*metadata.Metadata[metadata.RootType], *keys.Key) {
	t.Helper()
	root, err := metadata.Root().FromBytes(f.rootJSON)
	if err != nil {
		t.Fatal(err)
	}
	return root, f.rootKey
}

func newKey(t *testing.T) *keys.Key {
	t.Helper()
	k, err := keys.Generate("extra", keys.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func flipByte(t *testing.T, fs afero.Fs, name string, at int) {
	t.Helper()
	data := readAll(t, fs, name)
	if at < 0 {
		at = len(data) + at
	}
	data[at] ^= 0x20
	afero.WriteFile(fs, name, data, 0o644)
}

// TestVerifyDetectsTampering: each way of damaging a published repository
// is reported with its own problem code, naming the role or target.
func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	base := published(t) // its pinned root and keys are every fixture's
	const (
		m1       = "models/det/1.0.0/model.onnx"
		m2       = "models/det/2.0.0/model.onnx"
		l2       = "models/det/2.0.0/labels.txt"
		man1     = "models/det/1.0.0/manifest.json"
		man2     = "models/det/2.0.0/manifest.json"
		rootRole = metadata.ROOT
	)
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, f *fixture)
		code   Code
		role   string // expected Problem.Role ("" = not checked)
		target string // expected Problem.Target ("" = not checked)
		msg    string // expected in the message
		trust  []byte // the trusted root, if not the pinned one
	}{
		// Target files.
		{name: "one byte of a target flipped", code: HashMismatch, target: m1, msg: "SHA-256",
			tamper: func(t *testing.T, f *fixture) { flipByte(t, f.fs, findTarget(t, f, m1), 100) }},
		{name: "target truncated", code: LengthMismatch, target: m1, msg: "signed length 14000, file has 13999",
			tamper: func(t *testing.T, f *fixture) {
				p := findTarget(t, f, m1)
				data := readAll(t, f.fs, p)
				afero.WriteFile(f.fs, p, data[:len(data)-1], 0o644)
			}},
		{name: "target extended", code: LengthMismatch, target: m1, msg: "file has more",
			tamper: func(t *testing.T, f *fixture) {
				p := findTarget(t, f, m1)
				afero.WriteFile(f.fs, p, append(readAll(t, f.fs, p), '\n'), 0o644)
			}},
		{name: "target swapped from another version", code: HashMismatch, target: m2,
			tamper: func(t *testing.T, f *fixture) {
				afero.WriteFile(f.fs, findTarget(t, f, m2), readAll(t, f.fs, findTarget(t, f, m1)), 0o644)
			}},
		{name: "target missing", code: TargetMissing, target: l2,
			tamper: func(t *testing.T, f *fixture) { f.fs.Remove(findTarget(t, f, l2)) }},
		{name: "manifest file edited", code: HashMismatch, target: man1,
			tamper: func(t *testing.T, f *fixture) { flipByte(t, f.fs, findTarget(t, f, man1), 20) }},

		// Signed metadata edited without re-signing.
		{name: "timestamp expiry extended", code: MetadataSignatureInvalid, role: metadata.TIMESTAMP, msg: "invalid signature from key",
			tamper: func(t *testing.T, f *fixture) {
				editJSON(t, f.fs, f.meta("timestamp.json"), func(m map[string]any) { signedOf(m)["expires"] = "2099-01-01T00:00:00Z" })
			}},
		{name: "snapshot field edited", code: MetadataSignatureInvalid, role: metadata.SNAPSHOT,
			tamper: func(t *testing.T, f *fixture) {
				editJSON(t, f.fs, f.meta("3.snapshot.json"), func(m map[string]any) { signedOf(m)["expires"] = "2099-01-01T00:00:00Z" })
			}},
		{name: "snapshot field edited: hash", code: MetadataHashMismatch, role: metadata.SNAPSHOT,
			tamper: func(t *testing.T, f *fixture) {
				editJSON(t, f.fs, f.meta("3.snapshot.json"), func(m map[string]any) { signedOf(m)["expires"] = "2099-01-01T00:00:00Z" })
			}},
		{name: "target length edited in targets metadata", code: MetadataSignatureInvalid, role: metadata.TARGETS,
			tamper: func(t *testing.T, f *fixture) {
				editJSON(t, f.fs, f.meta("3.targets.json"), func(m map[string]any) {
					signedOf(m)["targets"].(map[string]any)[m1].(map[string]any)["length"] = 13999
				})
			}},
		{name: "custom compatibility edited in targets metadata", code: MetadataSignatureInvalid, role: metadata.TARGETS,
			tamper: func(t *testing.T, f *fixture) {
				editJSON(t, f.fs, f.meta("3.targets.json"), func(m map[string]any) {
					signedOf(m)["targets"].(map[string]any)[man1].(map[string]any)["custom"].(map[string]any)["platforms"] = []string{"linux/*"}
				})
			}},
		{name: "targets signature removed", code: MetadataSignatureInvalid, role: metadata.TARGETS, msg: "no signature from key",
			tamper: func(t *testing.T, f *fixture) {
				editJSON(t, f.fs, f.meta("3.targets.json"), func(m map[string]any) { m["signatures"] = []any{} })
			}},
		{name: "timestamp signed by a foreign key under the right key ID", code: MetadataSignatureInvalid, role: metadata.TIMESTAMP, msg: "invalid signature",
			tamper: func(t *testing.T, f *fixture) {
				ts := current(t, f).timestamp
				s, _ := newKey(t).Signer()
				id := ts.Signatures[0].KeyID
				ts.ClearSignatures()
				sig, _ := ts.Sign(s)
				ts.Signatures[0] = metadata.Signature{KeyID: id, Signature: sig.Signature}
				data, _ := ts.ToBytes(true)
				afero.WriteFile(f.fs, f.meta("timestamp.json"), data, 0o644)
			}},
		{name: "timestamp signed by the targets key", code: MetadataSignatureInvalid, role: metadata.TIMESTAMP, msg: "no signature from key",
			tamper: func(t *testing.T, f *fixture) {
				ts := current(t, f).timestamp
				s, _ := f.kr.Signer(current(t, f).root.Signed.Roles[metadata.TARGETS].KeyIDs[0])
				ts.ClearSignatures()
				ts.Sign(s)
				data, _ := ts.ToBytes(true)
				afero.WriteFile(f.fs, f.meta("timestamp.json"), data, 0o644)
			}},

		// The root chain.
		{name: "2.root.json signed by the wrong key", code: RootChainBroken, role: rootRole, msg: "not signed by a threshold of version 1's root keys",
			tamper: func(t *testing.T, f *fixture) {
				root, _ := fixtureRoot(t, f)
				root.Signed.Version = 2
				writeRoot(t, f, "2.root.json", root, newKey(t))
			}},
		{name: "2.root.json rotates to a key that did not sign", code: RootChainBroken, role: rootRole, msg: "its own root keys",
			tamper: func(t *testing.T, f *fixture) {
				root, old := fixtureRoot(t, f)
				nk := newKey(t)
				root.Signed.Version = 2
				root.Signed.RevokeKey(old.ID(), metadata.ROOT)
				root.Signed.AddKey(nk.Public, metadata.ROOT)
				writeRoot(t, f, "2.root.json", root, old)
			}},
		{name: "3.root.json without 2.root.json", code: RootChainBroken, role: rootRole, msg: "3.root.json exists but 2.root.json is missing",
			tamper: func(t *testing.T, f *fixture) {
				root, old := fixtureRoot(t, f)
				root.Signed.Version = 3
				writeRoot(t, f, "3.root.json", root, old)
			}},
		{name: "2.root.json holding version 3", code: RootChainBroken, role: rootRole, msg: "2.root.json has version 3",
			tamper: func(t *testing.T, f *fixture) {
				root, old := fixtureRoot(t, f)
				root.Signed.Version = 3
				writeRoot(t, f, "2.root.json", root, old)
			}},
		{name: "2.root.json garbage", code: RootChainBroken, role: rootRole, msg: "does not parse",
			tamper: func(t *testing.T, f *fixture) {
				afero.WriteFile(f.fs, f.meta("2.root.json"), []byte("{"), 0o644)
			}},
		{name: "2.root.json with an unusable key", code: RootChainBroken, role: rootRole, msg: "unusable key",
			tamper: func(t *testing.T, f *fixture) {
				afero.WriteFile(f.fs, f.meta("2.root.json"), shortKeyRoot(t, f, 2), 0o644)
			}},
		{name: "trusted root with an unusable key", code: TrustedRootInvalid, role: rootRole, msg: "ed25519 public key is 2 bytes",
			trust: shortKeyRoot(t, base, 1), tamper: func(t *testing.T, f *fixture) {}},
		{name: "published 1.root.json differs from the trusted root", code: RootChainBroken, role: rootRole, msg: "differs from the trusted root",
			tamper: func(t *testing.T, f *fixture) {
				editJSON(t, f.fs, f.meta("1.root.json"), func(m map[string]any) { signedOf(m)["expires"] = "2099-01-01T00:00:00Z" })
			}},
		{name: "trusted root garbage", code: TrustedRootInvalid, role: rootRole, trust: []byte("not a root"),
			tamper: func(t *testing.T, f *fixture) {}},
		{name: "trusted root not signed by its keys", code: TrustedRootInvalid, role: rootRole, msg: "not signed by its own threshold",
			trust: func() []byte {
				var m map[string]any
				json.Unmarshal(base.rootJSON, &m)
				m["signatures"] = []any{}
				b, _ := json.Marshal(m)
				return b
			}(),
			tamper: func(t *testing.T, f *fixture) {}},

		// Consistency between roles.
		{name: "snapshot/timestamp version mismatch", code: VersionMismatch, role: metadata.SNAPSHOT, msg: "version 9, timestamp says 3",
			tamper: func(t *testing.T, f *fixture) {
				st := current(t, f)
				st.snapshot.Signed.Version = 9
				mf := signAndWrite(t, f, "3.snapshot.json", metadata.SNAPSHOT, st.snapshot, 3)
				st.timestamp.Signed.Meta["snapshot.json"] = mf
				st.timestamp.Signed.Version++
				signAndWrite(t, f, "timestamp.json", metadata.TIMESTAMP, st.timestamp, 0)
			}},
		{name: "targets/snapshot version mismatch", code: VersionMismatch, role: metadata.TARGETS, msg: "version 7, snapshot says 3",
			tamper: func(t *testing.T, f *fixture) {
				st := current(t, f)
				st.targets.Signed.Version = 7
				st.snapshot.Signed.Meta["targets.json"] = signAndWrite(t, f, "3.targets.json", metadata.TARGETS, st.targets, 3)
				st.snapshot.Signed.Version++
				st.timestamp.Signed.Meta["snapshot.json"] = signAndWrite(t, f, "4.snapshot.json", metadata.SNAPSHOT, st.snapshot, 4)
				st.timestamp.Signed.Version++
				signAndWrite(t, f, "timestamp.json", metadata.TIMESTAMP, st.timestamp, 0)
			}},
		{name: "snapshot bytes differ from the hash in timestamp", code: MetadataHashMismatch, role: metadata.SNAPSHOT,
			tamper: func(t *testing.T, f *fixture) {
				// Still validly signed: the signature covers the canonical form.
				p := f.meta("3.snapshot.json")
				afero.WriteFile(f.fs, p, append(readAll(t, f.fs, p), '\n'), 0o644)
			}},
		{name: "targets bytes differ from the hash in snapshot", code: MetadataHashMismatch, role: metadata.TARGETS,
			tamper: func(t *testing.T, f *fixture) {
				p := f.meta("3.targets.json")
				afero.WriteFile(f.fs, p, append([]byte(" "), readAll(t, f.fs, p)...), 0o644)
			}},
		{name: "timestamp without a snapshot entry", code: MetadataInvalid, role: metadata.TIMESTAMP, msg: "no snapshot.json entry",
			tamper: func(t *testing.T, f *fixture) {
				ts := current(t, f).timestamp
				ts.Signed.Meta = map[string]*metadata.MetaFiles{}
				signAndWrite(t, f, "timestamp.json", metadata.TIMESTAMP, ts, 0)
			}},
		{name: "timestamp over the client size limit", code: MetadataTooLarge, role: metadata.TIMESTAMP, msg: "16384",
			tamper: func(t *testing.T, f *fixture) {
				ts := current(t, f).timestamp
				ts.Signed.UnrecognizedFields = map[string]any{"padding": strings.Repeat("x", 17000)}
				signAndWrite(t, f, "timestamp.json", metadata.TIMESTAMP, ts, 0)
			}},

		// Missing metadata.
		{name: "timestamp.json missing", code: MetadataMissing, role: metadata.TIMESTAMP, msg: "timestamp.json does not exist",
			tamper: func(t *testing.T, f *fixture) { f.fs.Remove(f.meta("timestamp.json")) }},
		{name: "snapshot missing", code: MetadataMissing, role: metadata.SNAPSHOT, msg: "3.snapshot.json",
			tamper: func(t *testing.T, f *fixture) { f.fs.Remove(f.meta("3.snapshot.json")) }},
		{name: "targets metadata missing", code: MetadataMissing, role: metadata.TARGETS, msg: "3.targets.json",
			tamper: func(t *testing.T, f *fixture) { f.fs.Remove(f.meta("3.targets.json")) }},

		// The model structure, with metadata validly signed.
		{name: "manifest disagrees with custom metadata", code: ManifestMismatch, target: man1, msg: "compatibility fields differ",
			tamper: func(t *testing.T, f *fixture) {
				republish(t, f, func(st *state) {
					m, err := targets.ParsePublishedManifest(readAll(t, f.fs, findTarget(t, f, man1)))
					if err != nil {
						t.Fatal(err)
					}
					m.Compat.Platforms = []string{"linux/*"}
					data, _ := m.MarshalPublished()
					replaceTarget(t, f, st, man1, data)
				})
			}},
		{name: "manifest file list disagrees with its payload target", code: ManifestMismatch, target: man2, msg: "model.onnx: manifest says",
			tamper: func(t *testing.T, f *fixture) {
				republish(t, f, func(st *state) {
					replaceTarget(t, f, st, m2, []byte("other weights"))
				})
			}},
		{name: "manifest lists a file that is not signed", code: ManifestMismatch, target: man2, msg: "lists labels.txt",
			tamper: func(t *testing.T, f *fixture) {
				republish(t, f, func(st *state) { delete(st.targets.Signed.Targets, l2) })
			}},
		{name: "payload target not in the manifest", code: ManifestMismatch, target: "models/det/2.0.0/extra.bin", msg: "not listed by the manifest",
			tamper: func(t *testing.T, f *fixture) {
				republish(t, f, func(st *state) {
					p := "models/det/2.0.0/extra.bin"
					m := &targets.Manifest{ModelID: "det", Version: "2.0.0"}
					c, _ := targets.PayloadCustom(m, "extra.bin").Marshal()
					st.targets.Signed.Targets[p] = &metadata.TargetFiles{Path: p, Custom: c}
					replaceTarget(t, f, st, p, []byte("extra"))
				})
			}},
		{name: "payload without a manifest", code: ManifestMismatch, target: "models/det/2.0.0", msg: "without a manifest.json",
			tamper: func(t *testing.T, f *fixture) {
				republish(t, f, func(st *state) { delete(st.targets.Signed.Targets, man2) })
			}},
		{name: "custom metadata of an unknown kind", code: CustomInvalid, target: l2, msg: `unknown kind "model-bundle"`,
			tamper: func(t *testing.T, f *fixture) {
				republish(t, f, func(st *state) {
					c := json.RawMessage(bytes.Replace(*st.targets.Signed.Targets[l2].Custom, []byte("model-payload"), []byte("model-bundle"), 1))
					st.targets.Signed.Targets[l2].Custom = &c
				})
			}},
		{name: "custom metadata missing", code: CustomInvalid, target: l2, msg: "no custom metadata",
			tamper: func(t *testing.T, f *fixture) {
				republish(t, f, func(st *state) { st.targets.Signed.Targets[l2].Custom = nil })
			}},
		{name: "published manifest invalid", code: ManifestInvalid, target: man2, msg: "schema_version",
			tamper: func(t *testing.T, f *fixture) {
				republish(t, f, func(st *state) {
					replaceTarget(t, f, st, man2, []byte(`{"model_id":"det","version":"2.0.0"}`))
				})
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := published(t)
			c.tamper(t, f)
			trust := f.rootJSON
			if c.trust != nil {
				trust = c.trust
			}
			rep := Verify(f.fs, f.dir, trust, Options{Now: t0.Add(time.Hour)})
			if rep.OK() {
				t.Fatal("Verify passed a tampered repository")
			}
			var match *Problem
			for i, p := range rep.Problems {
				if p.Code == c.code && (c.role == "" || p.Role == c.role) && (c.target == "" || p.Target == c.target) &&
					strings.Contains(p.Message, c.msg) {
					match = &rep.Problems[i]
					break
				}
			}
			if match == nil {
				t.Fatalf("no %s problem for role %q target %q mentioning %q; got:\n%s", c.code, c.role, c.target, c.msg, problemList(rep))
			}
			// The problem names what is wrong in its one-line form.
			where := c.role
			if c.target != "" {
				where = c.target
			}
			if !strings.HasPrefix(match.String(), string(c.code)+": "+where+": ") {
				t.Errorf("problem line %q does not start with %q", match.String(), string(c.code)+": "+where+": ")
			}
			// A target-level problem does not mask as a metadata problem,
			// and vice versa.
			for _, p := range rep.Problems {
				if c.target != "" && p.Target == "" {
					t.Errorf("a target problem also produced a metadata problem: %s", p)
				}
			}
		})
	}
}

// TestVerifyRootRotation: a correctly rotated root (2.root.json signed by
// the old and the new root key) is followed and passes.
func TestVerifyRootRotation(t *testing.T) {
	t.Parallel()
	f := published(t)
	root, old := fixtureRoot(t, f)
	nk := newKey(t)
	root.Signed.Version = 2
	root.Signed.RevokeKey(old.ID(), metadata.ROOT)
	if err := root.Signed.AddKey(nk.Public, metadata.ROOT); err != nil {
		t.Fatal(err)
	}
	writeRoot(t, f, "2.root.json", root, old, nk)
	rep := requireVerifies(t, f, t0)
	if rep.Roles[0].Role != "root" || rep.Roles[0].Version != 2 {
		t.Errorf("root report %+v, want version 2", rep.Roles[0])
	}
	// And from 2.root.json as the trusted root too.
	data := readAll(t, f.fs, filepath.Join(f.dir, repofiles.MetadataDir, "2.root.json"))
	if rep := Verify(f.fs, f.dir, data, Options{Now: t0}); !rep.OK() {
		t.Errorf("from root 2: %v", rep.Problems)
	}
}

// TestVerifyExpiry: at each instant, exactly the roles past their expiry
// are reported (and within a ValidFor window, exactly those expiring in it).
func TestVerifyExpiry(t *testing.T) {
	t.Parallel()
	f := published(t)
	st := current(t, f)
	tsExp := st.timestamp.Signed.Expires
	for _, c := range []struct {
		name     string
		now      time.Time
		validFor time.Duration
		code     Code
		roles    []string
	}{
		{"fresh", t0, 0, "", nil},
		{"one second before the timestamp expires", tsExp.Add(-time.Second), 0, "", nil},
		{"the instant the timestamp expires", tsExp, 0, MetadataExpired, []string{"timestamp"}},
		{"a day later", t0.Add(25 * time.Hour), 0, MetadataExpired, []string{"timestamp"}},
		{"a week later", t0.Add(8 * 24 * time.Hour), 0, MetadataExpired, []string{"snapshot", "timestamp"}},
		{"a quarter later", t0.Add(91 * 24 * time.Hour), 0, MetadataExpired, []string{"snapshot", "targets", "timestamp"}},
		{"a year later", t0.Add(366 * 24 * time.Hour), 0, MetadataExpired, []string{"root", "snapshot", "targets", "timestamp"}},
		{"valid for 23h", t0, 23 * time.Hour, "", nil},
		{"valid for exactly the timestamp's remaining life", t0, tsExp.Sub(t0), "", nil},
		{"valid for 2 days", t0, 48 * time.Hour, ExpiresSoon, []string{"timestamp"}},
		{"valid for 30 days", t0, 30 * 24 * time.Hour, ExpiresSoon, []string{"snapshot", "timestamp"}},
		{"valid for 100 days", t0, 100 * 24 * time.Hour, ExpiresSoon, []string{"snapshot", "targets", "timestamp"}},
		{"valid for 400 days", t0, 400 * 24 * time.Hour, ExpiresSoon, []string{"root", "snapshot", "targets", "timestamp"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: c.now, ValidFor: c.validFor})
			var roles []string
			for _, p := range rep.Problems {
				if p.Code != c.code {
					t.Errorf("unexpected problem %s", p)
					continue
				}
				roles = append(roles, p.Role)
			}
			sort.Strings(roles)
			if strings.Join(roles, ",") != strings.Join(c.roles, ",") {
				t.Errorf("%s for %q, want %q", c.code, roles, c.roles)
			}
		})
	}
}

// shortKeyRoot returns the fixture root at version, signed by the root
// key, with an ed25519 key of the wrong length added to the root role
// (go-tuf accepts such a key, and panics verifying with it).
func shortKeyRoot(t *testing.T, f *fixture, version int64) []byte {
	t.Helper()
	root, old := fixtureRoot(t, f)
	root.Signed.Version = version
	bad := &metadata.Key{Type: metadata.KeyTypeEd25519, Scheme: metadata.KeySchemeEd25519, Value: metadata.KeyVal{PublicKey: "abcd"}}
	if err := root.Signed.AddKey(bad, metadata.ROOT); err != nil {
		t.Fatal(err)
	}
	s, _ := old.Signer()
	root.ClearSignatures()
	if _, err := root.Sign(s); err != nil {
		t.Fatal(err)
	}
	data, err := root.ToBytes(true)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestVerifyControlInvalid: a malformed rollout control, validly signed
// (a tool other than mrepo, or a key holder), is CONTROL_INVALID on its
// target: one case per field. A well-formed one passes.
func TestVerifyControlInvalid(t *testing.T) {
	t.Parallel()
	const (
		man2 = "models/det/2.0.0/manifest.json"
		l2   = "models/det/2.0.0/labels.txt"
	)
	edit := func(p string, f func(c map[string]any)) func(t *testing.T, fx *fixture) {
		return func(t *testing.T, fx *fixture) {
			republish(t, fx, func(st *state) {
				var c map[string]any
				if err := json.Unmarshal(*st.targets.Signed.Targets[p].Custom, &c); err != nil {
					t.Fatal(err)
				}
				f(c)
				data, err := json.Marshal(c)
				if err != nil {
					t.Fatal(err)
				}
				raw := json.RawMessage(data)
				st.targets.Signed.Targets[p].Custom = &raw
			})
		}
	}
	rollout := func(r map[string]any) func(c map[string]any) {
		return func(c map[string]any) { c["rollout"], c["critical"] = r, []string{"rollout"} }
	}
	for _, c := range []struct {
		name, target, msg string
		tamper            func(t *testing.T, f *fixture)
	}{
		{"bad basis points", man2, "basis_points 10001 is not within 0-10000", edit(man2, rollout(map[string]any{"basis_points": 10001, "salt": "s"}))},
		{"negative basis points", man2, "basis_points -5 is not within 0-10000", edit(man2, rollout(map[string]any{"basis_points": -5, "salt": "s"}))},
		{"missing salt", man2, "salt must be 1-64 printable ASCII characters", edit(man2, rollout(map[string]any{"basis_points": 500}))},
		{"control not in critical", man2, "rollout is present but not listed in critical", edit(man2, func(c map[string]any) {
			c["rollout"] = map[string]any{"basis_points": 500, "salt": "s"}
		})},
		{"revocation not in critical", man2, "revoked is present but not listed in critical", edit(man2, func(c map[string]any) {
			c["revoked"] = map[string]any{"reason": "r", "time": "2026-01-02T03:04:05Z"}
		})},
		{"critical without control", man2, "critical lists policy, which is not present", edit(man2, func(c map[string]any) { c["critical"] = []string{"policy"} })},
		{"control on a payload target", l2, "a payload target carries no manifest fields", edit(l2, func(c map[string]any) {
			c["revoked"], c["critical"] = map[string]any{"reason": "r", "time": "2026-01-02T03:04:05Z"}, []string{"revoked"}
		})},
		{"bad start time", man2, "start: \"next week\" is not an RFC 3339 UTC time", edit(man2, rollout(map[string]any{"basis_points": 500, "salt": "s", "start": "next week"}))},
		{"bad revocation time", man2, "revoked: time: \"2026-01-02 03:04:05\" is not an RFC 3339 UTC time", edit(man2, func(c map[string]any) {
			c["revoked"], c["critical"] = map[string]any{"reason": "r", "time": "2026-01-02 03:04:05"}, []string{"revoked"}
		})},
		{"halt reason with a percentage", man2, "a halted rollout admits no device", edit(man2, rollout(map[string]any{"basis_points": 500, "salt": "s", "halt_reason": "x"}))},
		{"bad policy network", man2, `network "5g" is not one of`, edit(man2, func(c map[string]any) {
			c["policy"], c["critical"] = map[string]any{"networks": []string{"5g"}}, []string{"policy"}
		})},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := published(t)
			c.tamper(t, f)
			rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0.Add(time.Hour)})
			var got []string
			found := false
			for _, p := range rep.Problems {
				got = append(got, p.String())
				if p.Code == ControlInvalid && p.Target == c.target && strings.Contains(p.Message, c.msg) {
					found = true
				}
				if p.Code == CustomInvalid {
					t.Errorf("also CUSTOM_INVALID: %s", p)
				}
			}
			if !found {
				t.Fatalf("no %s on %s mentioning %q; got:\n%s", ControlInvalid, c.target, c.msg, strings.Join(got, "\n"))
			}
		})
	}
	// Well-formed controls, signed the same way, pass.
	f := published(t)
	edit(man2, func(c map[string]any) {
		c["rollout"] = map[string]any{"basis_points": 0, "salt": "s", "halt_reason": "crash loop"}
		c["revoked"] = map[string]any{"reason": "r", "time": "2026-01-02T03:04:05Z"}
		c["policy"] = map[string]any{"min_battery_percent": 20}
		c["critical"] = []string{"rollout", "revoked", "policy"}
	})(t, f)
	rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0.Add(time.Hour)})
	if !rep.OK() {
		t.Fatalf("valid controls: %v", rep.Problems)
	}
	// The report shows them, for det 2.0.0 only (1.0.0 has none).
	if len(rep.Controls) != 1 || rep.Controls[0].ModelID != "det" || len(rep.Controls[0].Versions) != 1 {
		t.Fatalf("controls %+v", rep.Controls)
	}
	vc := rep.Controls[0].Versions[0]
	if vc.Version != "2.0.0" || vc.Rollout == nil || vc.Rollout.HaltReason != "crash loop" || vc.Revoked == nil || vc.Revoked.Reason != "r" || vc.Policy == nil || vc.Policy.MinBatteryPercent != 20 {
		t.Fatalf("controls of 2.0.0: %+v", vc)
	}
	// A repository without controls reports none.
	g := published(t)
	if rep := Verify(g.fs, g.dir, g.rootJSON, Options{Now: t0.Add(time.Hour)}); !rep.OK() || rep.Controls != nil {
		t.Fatalf("no controls: %v %+v", rep.Problems, rep.Controls)
	}
}
