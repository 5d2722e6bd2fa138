package report

import (
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/edgetuf/edgetuf/status"
	"github.com/edgetuf/edgetuf/targets"
)

// TestStatusText: the parts of mrepo status's text that the stories reach
// only through a whole repository: a delegated role without metadata, a
// version's controls, warnings.
func TestStatusText(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := &status.Report{
		Now: now,
		Roles: []status.Role{
			{Role: "targets", Version: 3, Expires: now.Add(48 * time.Hour), ValidSignatures: 1, Threshold: 1, ThresholdMet: true, KeyIDs: []string{"0123456789abcdef"}},
			{Role: "team-a", Pending: true, Threshold: 2, KeyIDs: []string{"fedcba9876543210", "aa"}, DelegatedBy: "targets", Paths: []string{"models/a/*"}},
		},
		Models: []status.Model{{ModelID: "m", Latest: "1.1.0", Versions: []string{"1.0.0", "1.1.0"},
			Controls: []status.Controls{{Version: "1.1.0", Rollout: &targets.Rollout{BasisPoints: 1000, Salt: "s1"},
				Policy: &targets.Policy{MinBatteryPercent: 20}}}}},
		Warnings: []string{"targets expires soon"},
	}
	var b strings.Builder
	Status(&b, st)
	for _, want := range []string{
		"team-a   -        -                     -   0/2 NOT MET  fedcba98,aa\n",
		"team-a      targets  no           models/a/*",
		"model m: latest 1.1.0 (versions: 1.0.0, 1.1.0)\n  1.1.0: rollout 10% (cohort salt s1); policy: battery at least 20% unless charging\n",
		"WARNING: targets expires soon\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestVersionsAndShortIDs(t *testing.T) {
	t.Parallel()
	v := &repo.Versions{Targets: 3, Snapshot: 4, Timestamp: 5}
	if got := Versions([]string{"root", "snapshot", "timestamp"}, v); got != "snapshot v4, timestamp v5" {
		t.Errorf("Versions = %q", got)
	}
	if got := ShortIDs([]string{"0123456789abcdef", "ab"}); got != "01234567,ab" {
		t.Errorf("ShortIDs = %q", got)
	}
}

func TestResignedRolesAndMerged(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	vs := repo.Versions{Snapshot: 4, Timestamp: 5}
	ResignedRoles(&b, &repo.ResignResult{Roles: map[string]int64{"team": 2}, Versions: vs})
	ResignedRoles(&b, &repo.ResignResult{Roles: map[string]int64{"bin-0": 2, "bin-1": 3}, Versions: vs})
	Merged(&b, &staged.MergeResult{Role: "root", Version: 2, File: "s/root.json", Signatures: &staged.SignatureStatus{}})
	Merged(&b, &staged.MergeResult{Role: "root", Version: 2, File: "s/root.json", Added: []string{"0123456789abcdef", "fedcba9876543210"}, Signatures: &staged.SignatureStatus{}})
	want := "Signed team v2, snapshot v4, timestamp v5\nSigned 2 hash bins, snapshot v4, timestamp v5\n" +
		"No new signatures for root v2 in s/root.json\n" +
		"Merged into s/root.json: signatures by 01234567, fedcba98\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
