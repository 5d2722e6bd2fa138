package status_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/status"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// read runs Read on a read-only view of the repository: status must
// never write.
func read(t *testing.T, r *testrepo.Repo, opts status.Options) *status.Report {
	t.Helper()
	if opts.Lifetime == nil {
		opts.Lifetime = r.R.Config().Expiry.For
	}
	rep, err := status.Read(afero.NewReadOnlyFs(afero.NewOsFs()), r.Dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func hasWarning(rep *status.Report, substr string) bool {
	return slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, substr) })
}

// TestReadPublished: the four top-level roles, each signed by its key; the
// published models, oldest version first, with their delta patches; no
// warnings on a fresh repository.
func TestReadPublished(t *testing.T) {
	t.Parallel()
	r := testrepo.New(t)
	r.Publish(t, "det", "1.0.0", map[string][]byte{"w.bin": []byte(strings.Repeat("a", 4096))}, targets.Compat{})
	r.PublishWithDeltas(t, "det", "1.1.0", map[string][]byte{"w.bin": []byte(strings.Repeat("a", 4000) + "b")}, targets.Compat{}, []string{"1.0.0"})
	r.Publish(t, "cls", "0.1.0", map[string][]byte{"c.bin": []byte("c")}, targets.Compat{})
	now := time.Now()
	rep := read(t, r, status.Options{Now: now})
	if rep.Repository != r.Dir || !rep.Now.Equal(now.UTC().Truncate(time.Second)) {
		t.Errorf("header %q %v", rep.Repository, rep.Now)
	}
	var roles []string
	for _, rs := range rep.Roles {
		roles = append(roles, rs.Role)
		if !rs.ThresholdMet || rs.ValidSignatures != 1 || rs.Threshold != 1 || len(rs.KeyIDs) != 1 {
			t.Errorf("role %+v", rs)
		}
	}
	if want := []string{"root", "targets", "snapshot", "timestamp"}; !slices.Equal(roles, want) {
		t.Errorf("roles %q, want %q", roles, want)
	}
	if len(rep.Models) != 2 || rep.Models[0].ModelID != "cls" || rep.Models[1].ModelID != "det" {
		t.Fatalf("models %+v", rep.Models)
	}
	det := rep.Models[1]
	if !slices.Equal(det.Versions, []string{"1.0.0", "1.1.0"}) || det.Latest != "1.1.0" || det.Roles != nil {
		t.Errorf("det %+v", det)
	}
	if len(det.Deltas) != 1 || det.Deltas[0].Version != "1.1.0" || det.Deltas[0].Base != "1.0.0" || det.Deltas[0].Patches != 1 || det.Deltas[0].Bytes <= 0 {
		t.Errorf("det deltas %+v", det.Deltas)
	}
	if len(rep.Warnings) != 0 {
		t.Errorf("warnings %q", rep.Warnings)
	}
}

// TestReadWarningWindow: the default window is a quarter of each role's
// configured lifetime; WarnWithin replaces it; without lifetimes only
// expired roles are warned about.
func TestReadWarningWindow(t *testing.T) {
	t.Parallel()
	r := testrepo.New(t)
	ts := read(t, r, status.Options{}).Roles[3]
	if ts.Role != metadata.TIMESTAMP {
		t.Fatalf("fourth role %s", ts.Role)
	}
	life := r.R.Config().Expiry.For(metadata.TIMESTAMP)
	late := ts.Expires.Add(-life / 8) // in its last quarter
	if rep := read(t, r, status.Options{Now: late}); !hasWarning(rep, "timestamp: expires in") {
		t.Errorf("last quarter: warnings %q", rep.Warnings)
	}
	if rep := read(t, r, status.Options{Now: late, WarnWithin: time.Minute}); hasWarning(rep, "timestamp:") {
		t.Errorf("one-minute window: warnings %q", rep.Warnings)
	}
	noLifetimes := func(string) time.Duration { return 0 }
	if rep := read(t, r, status.Options{Now: late, Lifetime: noLifetimes}); len(rep.Warnings) != 0 {
		t.Errorf("no window: warnings %q", rep.Warnings)
	}
	if rep := read(t, r, status.Options{Now: ts.Expires.Add(time.Second), Lifetime: noLifetimes}); !hasWarning(rep, "timestamp: EXPIRED at") {
		t.Errorf("expired: warnings %q", rep.Warnings)
	}
}

// TestReadDelegations: a named role's row follows the top-level roles, a
// model it signs names it, and a role without metadata is pending.
func TestReadDelegations(t *testing.T) {
	t.Parallel()
	r := testrepo.New(t)
	team, pub := testrepo.TeamKey(t, "vision")
	r.Delegate(t, delegation.Options{Name: "vision", Paths: []string{"models/vision-*/*/*"}, Keys: []*metadata.Key{pub}}, team)
	r.PublishAs(t, r.Keyring(team), "vision-cls", "1.0.0", map[string][]byte{"v.bin": []byte("v")}, targets.Compat{}, repo.AddOptions{Role: "vision"})
	_, pub2 := testrepo.TeamKey(t, "audio")
	r.Delegate(t, delegation.Options{Name: "audio", Paths: []string{"models/audio-*/*/*"}, Keys: []*metadata.Key{pub2}})

	rep := read(t, r, status.Options{})
	if len(rep.Roles) != 6 {
		t.Fatalf("roles %+v", rep.Roles)
	}
	vision, audio := rep.Roles[4], rep.Roles[5]
	if vision.Role != "vision" || vision.DelegatedBy != metadata.TARGETS || vision.Version != 2 || !vision.ThresholdMet || vision.Pending ||
		!slices.Equal(vision.Paths, []string{"models/vision-*/*/*"}) {
		t.Errorf("vision %+v", vision)
	}
	if audio.Role != "audio" || !audio.Pending || audio.Version != 0 || audio.ThresholdMet {
		t.Errorf("audio %+v", audio)
	}
	if !hasWarning(rep, "audio: no metadata yet") || len(rep.Warnings) != 1 {
		t.Errorf("warnings %q", rep.Warnings)
	}
	if len(rep.Models) != 1 || rep.Models[0].ModelID != "vision-cls" || !slices.Equal(rep.Models[0].Roles, []string{"vision"}) {
		t.Errorf("models %+v", rep.Models)
	}
}

// TestReadBrokenState: status reports signatures that do not verify, but
// fails on metadata it cannot read, with repofiles.ErrStoredMetadata.
func TestReadBrokenState(t *testing.T) {
	t.Parallel()
	r := testrepo.New(t)
	ts := filepath.Join(r.Dir, repofiles.MetadataDir, "timestamp.json")
	md, err := metadata.Timestamp().FromFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	md.Signed.Version = 99
	if err := md.ToFile(ts, true); err != nil {
		t.Fatal(err)
	}
	rep := read(t, r, status.Options{})
	if got := rep.Roles[3]; got.Version != 99 || got.ValidSignatures != 0 || got.ThresholdMet {
		t.Errorf("tampered timestamp %+v", got)
	}
	if !hasWarning(rep, "timestamp: 0 valid signatures, threshold 1") {
		t.Errorf("warnings %q", rep.Warnings)
	}
	if err := os.Remove(ts); err != nil {
		t.Fatal(err)
	}
	if _, err := status.Read(afero.NewOsFs(), r.Dir, status.Options{}); !errors.Is(err, repofiles.ErrStoredMetadata) || !strings.Contains(err.Error(), "timestamp.json") {
		t.Errorf("without timestamp.json: %v", err)
	}
}

// TestReportJSONFields: mrepo status --json prints a Report as it is; its
// field names are an interface.
func TestReportJSONFields(t *testing.T) {
	t.Parallel()
	rep := &status.Report{
		Roles:  []status.Role{{Role: "vision", DelegatedBy: "targets", Paths: []string{"p"}, Terminating: true, Pending: true}},
		Models: []status.Model{{ModelID: "m", Deltas: []status.Delta{{}}, Roles: []string{"vision"}}},
		Bins:   &status.Bins{},
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	fields := func(v any) []string {
		var out []string
		for k := range v.(map[string]any) {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		name string
		v    any
		want []string
	}{
		{"report", m, []string{"bins", "models", "now", "repository", "roles", "warnings"}},
		{"role", m["roles"].([]any)[0], []string{"delegated_by", "expires", "keyids", "paths", "pending", "role", "terminating", "threshold", "threshold_met", "valid_signatures", "version"}},
		{"model", m["models"].([]any)[0], []string{"deltas", "epochs", "latest", "model_id", "roles", "versions"}},
		{"delta", m["models"].([]any)[0].(map[string]any)["deltas"].([]any)[0], []string{"base", "bytes", "patches", "version"}},
		{"bins", m["bins"], []string{"bins", "delegated_by", "expires", "keyids", "max_version", "min_version", "name_prefix", "published", "targets", "threshold", "threshold_met"}},
	} {
		if got := fields(c.v); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s fields %q, want %q", c.name, got, c.want)
		}
	}
}

// TestReadControls: each version with a rollout, halt, revocation or
// policy is listed with them, in version order; a full release without
// policy is not listed (a delegated role's versions: mrepo revoke.txtar).
func TestReadControls(t *testing.T) {
	t.Parallel()
	r := testrepo.New(t)
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		r.Publish(t, "det", v, map[string][]byte{"w.bin": []byte("w" + v)}, targets.Compat{})
	}
	ro := &targets.Rollout{BasisPoints: 0, Salt: "s1", DeviceClasses: []string{"cam"}, HaltReason: "crash loop"}
	rev := &targets.Revocation{Reason: "wrong labels", Time: "2030-01-02T03:04:05Z"}
	pol := &targets.Policy{MinBatteryPercent: 30}
	r.SetControls(t, "det", "1.2.0", ro, nil, pol)
	r.SetControls(t, "det", "1.1.0", nil, rev, nil)
	rep := read(t, r, status.Options{Now: time.Now()})
	want := []status.Controls{{Version: "1.1.0", Revoked: rev}, {Version: "1.2.0", Rollout: ro, Policy: pol}}
	if len(rep.Models) != 1 || !reflect.DeepEqual(rep.Models[0].Controls, want) {
		t.Fatalf("models %+v, want controls %+v", rep.Models, want)
	}
}
