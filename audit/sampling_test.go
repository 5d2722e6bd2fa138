package audit

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestVerifySampling: a valid telemetry sampling config in top-level
// targets passes (go-tuf's client resolves it too: ClientRejected would
// say otherwise); an invalid one, an oversized one and one that its file
// contradicts are each reported with their code.
func TestVerifySampling(t *testing.T) {
	t.Parallel()
	withSampling := func(data []byte) func(t *testing.T, f *fixture) {
		return func(t *testing.T, f *fixture) {
			republish(t, f, func(st *state) {
				st.targets.Signed.Targets[telemetry.SamplingTarget] = &metadata.TargetFiles{}
				if err := f.fs.MkdirAll(filepath.Join(f.dir, repofiles.TargetsDir, "edgetuf"), 0o755); err != nil {
					t.Fatal(err)
				}
				replaceTarget(t, f, st, telemetry.SamplingTarget, data)
			})
		}
	}
	valid := []byte(`{"format":"edgetuf-telemetry-v1","default":1000,"rates":{"failure":10000}}`)
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, f *fixture)
		code   Code
		msg    string
	}{
		{"valid", withSampling(valid), "", ""},
		{"unknown field", withSampling([]byte(`{"format":"edgetuf-telemetry-v1","default":1000,"extra":1}`)), SamplingInvalid, "unknown field"},
		{"rate out of range", withSampling([]byte(`{"format":"edgetuf-telemetry-v1","default":0}`)), SamplingInvalid, "default rate 0 out of 1..10000"},
		{"unknown kind", withSampling([]byte(`{"format":"edgetuf-telemetry-v1","default":100,"rates":{"everything":5}}`)), SamplingInvalid, "neither a kind nor a group"},
		{"not JSON", withSampling([]byte(`rates: 10%`)), SamplingInvalid, "sampling"},
		{"oversized", withSampling([]byte(`{"format":"edgetuf-telemetry-v1","default":1000}` + strings.Repeat(" ", telemetry.MaxSamplingBytes))), SamplingInvalid, "above the limit"},
		{"tampered file", func(t *testing.T, f *fixture) {
			withSampling(valid)(t, f)
			tampered := []byte(strings.Replace(string(valid), "1000,", "9999,", 1))
			if err := afero.WriteFile(f.fs, findTarget(t, f, telemetry.SamplingTarget), tampered, 0o644); err != nil {
				t.Fatal(err)
			}
		}, HashMismatch, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := published(t)
			c.tamper(t, f)
			rep := Verify(f.fs, f.dir, f.rootJSON, Options{Now: t0.Add(time.Hour)})
			if c.code == "" {
				if !rep.OK() {
					t.Fatalf("valid sampling config: %v", rep.Problems)
				}
				return
			}
			var got []string
			found := false
			for _, p := range rep.Problems {
				got = append(got, p.String())
				found = found || p.Code == c.code && p.Target == telemetry.SamplingTarget && strings.Contains(p.Message, c.msg)
			}
			if !found {
				t.Fatalf("no %s on %s mentioning %q; got:\n%s", c.code, telemetry.SamplingTarget, c.msg, strings.Join(got, "\n"))
			}
		})
	}
}

// TestVerifySamplingInDelegatedRole: a hash bin (a delegated role, here
// with its genuine key) that lists a sampling config is reported: only
// top-level targets may sign the fleet's sampling.
func TestVerifySamplingInDelegatedRole(t *testing.T) {
	t.Parallel()
	r := testrepo.New(t)
	binKey, binPub := testrepo.TeamKey(t, "bins")
	r.Delegate(t, delegation.Options{Bins: 2, NamePrefix: "bins", Keys: []*metadata.Key{binPub}}, binKey)
	r.PublishAs(t, r.Keyring(binKey), "det", "1.0.0", detFiles("1.0.0"), targets.Compat{}, repo.AddOptions{})
	data := []byte(`{"format":"edgetuf-telemetry-v1","default":1}`)
	sum := sha256.Sum256(data)
	if err := os.MkdirAll(filepath.Join(r.Dir, repofiles.TargetsDir, "edgetuf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Dir, repofiles.TargetsDir, filepath.FromSlash(repofiles.ConsistentName(telemetry.SamplingTarget, sum[:]))), data, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := repofiles.ReadState(afero.NewOsFs(), r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Signers(t)
	if s.Targets, err = binKey.Signer(); err != nil {
		t.Fatal(err)
	}
	bin := st.Targets.Signed.Delegations.SuccinctRoles.GetRolesForTarget(telemetry.SamplingTarget)[0].Name
	if err := testrepo.ForgeRoleDir(r.Dir, bin, func(ts map[string]*metadata.TargetFiles) error {
		ts[telemetry.SamplingTarget] = &metadata.TargetFiles{Length: int64(len(data)), Hashes: metadata.Hashes{"sha256": sum[:]}}
		return nil
	}, s); err != nil {
		t.Fatal(err)
	}
	rep := Verify(afero.NewOsFs(), r.Dir, r.Root, Options{})
	var got []string
	found := false
	for _, p := range rep.Problems {
		got = append(got, p.String())
		found = found || p.Code == SamplingInvalid && p.Role == bin && strings.Contains(p.Message, "only top-level targets may sign")
	}
	if !found {
		t.Fatalf("no %s for role %s; got:\n%s", SamplingInvalid, bin, strings.Join(got, "\n"))
	}
}
