package keyserver

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// forgerKey is a signer no root and no delegation trusts.
func forgerKey(t testing.TB) signature.Signer {
	t.Helper()
	k, _ := testrepo.TeamKey(t, "forger")
	s, err := k.Signer()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tryRelease runs the whole protocol for dev and returns the status and
// refusal code of the step that stopped it (200 and "" for a release).
// It moves the clock a minute on first, so that the per-device rate
// never decides.
func (f *fixture) tryRelease(t testing.TB, dev device, modelID, version string) (int, string) {
	t.Helper()
	f.clock.Advance(time.Minute)
	st, _, code := f.post(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: modelID, Version: version, Device: dev.Recipient})
	if st != http.StatusOK {
		return st, code
	}
	st, _, code = f.post(t, "/v1/key", prove(t, f.challenge(t, dev, modelID, version), dev, dev, modelID, version))
	return st, code
}

func wantRefused(t testing.TB, f *fixture, modelID, version string, status int, code string) {
	t.Helper()
	if st, got := f.tryRelease(t, f.cam1, modelID, version); st != status || got != code {
		t.Fatalf("%s %s: %d %s, want %d %s", modelID, version, st, got, status, code)
	}
}

// keyServer is an edit of a targets role that publishes modelID@version
// with delivery keyserver and the content key recipient r.
func keyServer(modelID, version, r string) func(map[string]*metadata.TargetFiles) error {
	return func(tg map[string]*metadata.TargetFiles) error {
		mp := targets.ManifestPath(modelID, version)
		if tg[mp] == nil {
			return fmt.Errorf("%s is not listed", mp)
		}
		c, err := targets.ParseCustom(mp, tg[mp].Custom)
		if err != nil {
			return err
		}
		e := &targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: r, Delivery: targets.DeliveryKeyServer}
		if c.Encrypted == nil {
			c.Critical = append(c.Critical, targets.FieldEncrypted)
		}
		c.Encrypted = e
		if tg[mp].Custom, err = c.Marshal(); err != nil {
			return err
		}
		_, err = targets.ParseCustom(mp, tg[mp].Custom)
		return err
	}
}

// TestForgedRelabelToKeyServer: det 2.0.0 is published with delivery
// device; targets metadata relabelling it keyserver, signed by a key the
// root does not trust, releases no key, whether the snapshot and timestamp
// are forged too or signed by the real online keys; and while the
// repository does not verify, no key is released for any version (503
// METADATA_INVALID). The same edit signed by the real targets key (a
// publication) is served.
func TestForgedRelabelToKeyServer(t *testing.T) {
	for _, c := range []struct {
		name          string
		signers       func(real testrepo.ControlSigners, forger signature.Signer) testrepo.ControlSigners
		status        int
		code          string
		legitimateToo bool // det 1.0.0 still released afterwards
	}{
		{"all forged", func(_ testrepo.ControlSigners, x signature.Signer) testrepo.ControlSigners {
			return testrepo.ControlSigners{Targets: x, Snapshot: x, Timestamp: x}
		}, http.StatusServiceUnavailable, RefusalMetadataInvalid, false},
		{"targets forged", func(s testrepo.ControlSigners, x signature.Signer) testrepo.ControlSigners {
			s.Targets = x
			return s
		}, http.StatusServiceUnavailable, RefusalMetadataInvalid, false},
		{"signed", func(s testrepo.ControlSigners, _ signature.Signer) testrepo.ControlSigners { return s },
			http.StatusOK, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil)
			wantRefused(t, f, "det", "2.0.0", http.StatusNotFound, modelcrypt.RefusalVersionUnknown)
			edit := keyServer("det", "2.0.0", f.keys["det@2.0.0"].Recipient())
			if err := testrepo.ForgeTargetsDir(f.repo.Dir, edit, c.signers(f.repo.Signers(t), forgerKey(t))); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, f, "det", "2.0.0", c.status, c.code)
			if c.legitimateToo {
				wantRefused(t, f, "det", "1.0.0", http.StatusOK, "")
			} else {
				wantRefused(t, f, "det", "1.0.0", http.StatusServiceUnavailable, RefusalMetadataInvalid)
			}
		})
	}
}

// TestForgedRevocationRemoval: det 1.0.0 revoked (the kill switch) gets
// no key; targets metadata that drops the revocation, signed by a key the
// root does not trust (snapshot and timestamp by the real online keys),
// does not bring it back.
func TestForgedRevocationRemoval(t *testing.T) {
	f := newFixture(t, nil)
	wantRefused(t, f, "det", "1.0.0", http.StatusOK, "")
	f.repo.SetControls(t, "det", "1.0.0", nil, &targets.Revocation{Reason: "leaked", Time: "2026-01-01T00:00:00Z"}, nil)
	wantRefused(t, f, "det", "1.0.0", http.StatusNotFound, modelcrypt.RefusalVersionUnknown)
	s := f.repo.Signers(t)
	s.Targets = forgerKey(t)
	if err := testrepo.ForgeControlsDir(f.repo.Dir, "det", "1.0.0", nil, nil, nil, s); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, f, "det", "1.0.0", http.StatusServiceUnavailable, RefusalMetadataInvalid)
}

// TestForgedDelegatedRole: cam 1.0.0 is published by the delegated role
// "cams". Its metadata relabelled keyserver and signed by a key the
// delegation does not name (snapshot and timestamp by the real online
// keys) releases nothing; signed by the role's own key, it is served.
func TestForgedDelegatedRole(t *testing.T) {
	for _, forged := range []bool{true, false} {
		t.Run(fmt.Sprint("forged=", forged), func(t *testing.T) {
			f := newFixture(t, nil)
			team, pub := testrepo.TeamKey(t, "cams")
			f.repo.Delegate(t, delegation.Options{Name: "cams", Paths: []string{"models/cam/*/*"}, Keys: []*metadata.Key{pub}}, team)
			f.repo.PublishAs(t, f.repo.Keyring(team), "cam", "1.0.0", map[string][]byte{"model.bin": []byte("cam")}, targets.Compat{}, repo.AddOptions{Role: "cams"})
			ck, err := modelcrypt.NewContentKey()
			if err != nil {
				t.Fatal(err)
			}
			f.keys["cam@1.0.0"] = ck
			wantRefused(t, f, "cam", "1.0.0", http.StatusNotFound, modelcrypt.RefusalVersionUnknown)
			wantRefused(t, f, "det", "1.0.0", http.StatusOK, "")
			s := f.repo.Signers(t)
			if s.Targets, err = team.Signer(); err != nil {
				t.Fatal(err)
			}
			if forged {
				s.Targets = forgerKey(t)
			}
			if err := testrepo.ForgeRoleDir(f.repo.Dir, "cams", keyServer("cam", "1.0.0", ck.Recipient()), s); err != nil {
				t.Fatal(err)
			}
			if forged {
				wantRefused(t, f, "cam", "1.0.0", http.StatusServiceUnavailable, RefusalMetadataInvalid)
			} else {
				wantRefused(t, f, "cam", "1.0.0", http.StatusOK, "")
			}
		})
	}
}

// TestExpiredMetadata: once the timestamp has expired no key is released
// (a device would refuse the metadata); re-signing it serves again.
func TestExpiredMetadata(t *testing.T) {
	f := newFixture(t, nil)
	wantRefused(t, f, "det", "1.0.0", http.StatusOK, "")
	f.clock.Advance(time.Now().Add(30 * 24 * time.Hour).Sub(f.clock.Now())) // past the timestamp's day and the snapshot's week
	wantRefused(t, f, "det", "1.0.0", http.StatusServiceUnavailable, RefusalMetadataInvalid)
	f.repo.SetNow(f.clock.Now)
	f.repo.Timestamp(t)
	// The snapshot has expired too.
	wantRefused(t, f, "det", "1.0.0", http.StatusServiceUnavailable, RefusalMetadataInvalid)
	// A publication re-signs targets, snapshot and timestamp.
	f.repo.Publish(t, "other", "1.0.0", map[string][]byte{"model.bin": []byte("other")}, targets.Compat{})
	wantRefused(t, f, "det", "1.0.0", http.StatusOK, "")
}

// TestRolledBackTimestamp: putting back the timestamp from before a
// revocation (validly signed, not expired) does not bring the revoked
// version's key back.
func TestRolledBackTimestamp(t *testing.T) {
	f := newFixture(t, nil)
	wantRefused(t, f, "det", "1.0.0", http.StatusOK, "")
	tsFile := filepath.Join(f.repo.Dir, "metadata", "timestamp.json")
	old, err := os.ReadFile(tsFile)
	if err != nil {
		t.Fatal(err)
	}
	f.repo.SetControls(t, "det", "1.0.0", nil, &targets.Revocation{Reason: "leaked", Time: "2026-01-01T00:00:00Z"}, nil)
	wantRefused(t, f, "det", "1.0.0", http.StatusNotFound, modelcrypt.RefusalVersionUnknown)
	writeFile(t, tsFile, string(old))
	wantRefused(t, f, "det", "1.0.0", http.StatusServiceUnavailable, RefusalMetadataInvalid)
}

// TestForgedRoot: a 2.root.json that the version 1 root keys did not sign
// (it names the forger's key for every role) breaks the chain: nothing is
// released.
func TestForgedRoot(t *testing.T) {
	f := newFixture(t, nil)
	wantRefused(t, f, "det", "1.0.0", http.StatusOK, "")
	root, err := metadata.Root().FromBytes(f.repo.Root)
	if err != nil {
		t.Fatal(err)
	}
	k, pub := testrepo.TeamKey(t, "forger")
	s, err := k.Signer()
	if err != nil {
		t.Fatal(err)
	}
	root.Signed.Version = 2
	root.Signed.Keys = map[string]*metadata.Key{k.ID(): pub}
	for _, r := range root.Signed.Roles {
		r.KeyIDs, r.Threshold = []string{k.ID()}, 1
	}
	data, err := testrepo.Resign(root, s)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(f.repo.Dir, "metadata", "2.root.json"), string(data))
	if err := testrepo.ForgeControlsDir(f.repo.Dir, "det", "2.0.0", nil, nil, nil, testrepo.ControlSigners{Targets: s, Snapshot: s, Timestamp: s}); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, f, "det", "1.0.0", http.StatusServiceUnavailable, RefusalMetadataInvalid)
}

// TestInvalidMetadataRetried: a state that did not verify is verified
// again, with the same timestamp.json, only once the retry interval has
// passed (a flood costs a read and a hash per request), and then served.
func TestInvalidMetadataRetried(t *testing.T) {
	f := newFixture(t, nil)
	wantRefused(t, f, "det", "1.0.0", http.StatusOK, "")
	f.repo.Timestamp(t) // a new timestamp.json, so that the service verifies again
	ts, err := metadata.Timestamp().FromFile(filepath.Join(f.repo.Dir, "metadata", "timestamp.json"))
	if err != nil {
		t.Fatal(err)
	}
	newest := filepath.Join(f.repo.Dir, "metadata", fmt.Sprintf("%d.snapshot.json", ts.Signed.Meta["snapshot.json"].Version))
	hidden := filepath.Join(t.TempDir(), "snapshot.json")
	if err := os.Rename(newest, hidden); err != nil {
		t.Fatal(err)
	}
	challenge := func() int {
		st, _, _ := f.post(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: f.cam2.Recipient})
		return st
	}
	if st := challenge(); st != http.StatusServiceUnavailable {
		t.Fatalf("snapshot missing: %d", st)
	}
	if err := os.Rename(hidden, newest); err != nil {
		t.Fatal(err)
	}
	if st := challenge(); st != http.StatusServiceUnavailable {
		t.Fatalf("within the retry interval: %d, want the remembered refusal", st)
	}
	f.clock.Advance(retryInvalid)
	if st := challenge(); st != http.StatusOK {
		t.Fatalf("after the retry interval: %d", st)
	}
}
