package client_test

import (
	"crypto/sha256"
	"testing"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestTelemetrySamplingFromDelegatedRoleIgnored: a sampling configuration
// that a delegated role lists (a team's key, not the targets key) is
// never used, even when the device loads that role for its model: only
// the top-level targets role configures the fleet's sampling. Here the
// role asks for 0.01% of success reports; every one is sent.
func TestTelemetrySamplingFromDelegatedRoleIgnored(t *testing.T) {
	r := newRepo(t)
	team, pub := testrepo.TeamKey(t, "det-team")
	// mrepo delegates model paths only; the role lists the configuration
	// anyway (its key signs what it likes).
	if res := r.Delegate(t, delegation.Options{Name: "det-team", Paths: patternsOf(t, model), Keys: []*metadata.Key{pub}}, team); res.Pending {
		t.Fatal("role pending")
	}
	r.PublishAs(t, r.OnlineKeyring(t, team), model, "1.0.0", weightsBundle(t, "1.0.0"), targets.Compat{}, repo.AddOptions{Role: "det-team"})
	sampling := []byte(`{"format":"edgetuf-telemetry-v1","default":1}`)
	sum := sha256.Sum256(sampling)
	s := r.Signers(t)
	var err error
	if s.Targets, err = team.Signer(); err != nil {
		t.Fatal(err)
	}
	if err := testrepo.ForgeRoleDir(r.Dir, "det-team", func(tg map[string]*metadata.TargetFiles) error {
		tg[telemetry.SamplingTarget] = &metadata.TargetFiles{Path: telemetry.SamplingTarget, Length: int64(len(sampling)), Hashes: metadata.Hashes{"sha256": sum[:]}}
		return nil
	}, s); err != nil {
		t.Fatal(err)
	}
	writeServed(t, r, sampling, sum[:])
	srv := serveRepo(t, r)
	col := newCollector(t)
	o := fastOpts()
	o.Telemetry.Rand = func() float64 { return 0.5 } // kept only at a rate above 50%
	d := teleDevice(t, r, srv.URL, col.URL, "dev-1", o)
	d.mustUpdate("1.0.0")
	if err := d.flush(); err != nil {
		t.Fatal(err)
	}
	if n := requestCount(srv, ".det-team.json"); n == 0 {
		t.Fatal("the device never loaded the delegated role: the test proves nothing")
	}
	if n := len(srv.requests("/targets/edgetuf/")); n != 0 {
		t.Errorf("the delegated role's telemetry.json was fetched %d times", n)
	}
	success := 0
	for _, rep := range col.st.Reports() {
		if telemetry.GroupOf(rep.Kind) == telemetry.GroupSuccess {
			success++
			if rep.Rate != telemetry.FullRate {
				t.Errorf("%s sent at rate %d", rep.Kind, rep.Rate)
			}
		}
	}
	if success != 5 {
		t.Errorf("%d success reports, want 5 (offered to healthy)", success)
	}
}
