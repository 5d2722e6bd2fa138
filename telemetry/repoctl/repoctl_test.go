package repoctl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/internal/fsfetch"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/edgetuf/edgetuf/telemetry/autohalt"
	"github.com/edgetuf/edgetuf/telemetry/fleetreport"
	"github.com/edgetuf/edgetuf/telemetry/store"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"
)

func TestBuildSampling(t *testing.T) {
	s, err := BuildSampling("10%", []string{"failure=100%", "crash=100", "activated=0.5%"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Default != 1000 || s.Rates["failure"] != 10000 || s.Rates["crash"] != 10000 || s.Rates["activated"] != 50 || s.Format != telemetry.SamplingFormat {
		t.Fatalf("sampling %+v", s)
	}
	for _, bad := range [][]string{{"nothing=10%"}, {"failure"}, {"failure=0%"}, {"failure=101%"}, {"failure=1%", "failure=2%"}, {"failure=0.001%"}} {
		if _, err := BuildSampling("10%", bad); err == nil {
			t.Errorf("rates %q accepted", bad)
		}
	}
	for _, bad := range []string{"", "0", "0%", "abc", "100.5%"} {
		if _, err := BuildSampling(bad, nil); err == nil {
			t.Errorf("default %q accepted", bad)
		}
	}
}

// newUpdater is a go-tuf client of the repository in dir, trusting its
// first root.
func newUpdater(t *testing.T, r *testrepo.Repo) *updater.Updater {
	t.Helper()
	const prefix = "test://repo/"
	cfg, err := config.New(prefix+"metadata", r.Root)
	if err != nil {
		t.Fatal(err)
	}
	cfg.LocalMetadataDir, cfg.LocalTargetsDir = t.TempDir(), t.TempDir()
	cfg.RemoteTargetsURL = prefix + "targets"
	cfg.PrefixTargetsWithHash = true
	cfg.Fetcher = &fsfetch.Fetcher{FS: afero.NewOsFs(), Dir: r.Dir, Prefix: prefix}
	up, err := updater.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Refresh(); err != nil {
		t.Fatal(err)
	}
	return up
}

// TestPublishSamplingThroughTUF publishes a sampling config, reads it as a
// device does (a go-tuf updater: verified metadata, then the target
// bounded and hashed), replaces it, and then tampers with the stored file:
// the updater refuses it, and mrepo verify reports it.
func TestPublishSamplingThroughTUF(t *testing.T) {
	r := testrepo.New(t)
	r.Publish(t, "det", "1.0.0", map[string][]byte{"model.onnx": []byte("weights")}, targets.Compat{})
	s, err := BuildSampling("10%", []string{"failure=100%"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := PublishSampling(r.R, r.Keys, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Versions.Targets != 3 || res.Target != telemetry.SamplingTarget {
		t.Fatalf("result %+v", res)
	}
	get := func() (*telemetry.Sampling, error) {
		up := newUpdater(t, r)
		tf, err := up.GetTargetInfo(telemetry.SamplingTarget)
		if err != nil {
			return nil, err
		}
		_, data, err := up.DownloadTarget(tf, filepath.Join(t.TempDir(), "sampling.json"), "")
		if err != nil {
			return nil, err
		}
		return telemetry.ParseSampling(data)
	}
	got, err := get()
	if err != nil || got.Default != 1000 || got.Rates["failure"] != 10000 {
		t.Fatalf("device read %+v, %v", got, err)
	}
	if rep := audit.Verify(afero.NewOsFs(), r.Dir, r.Root, audit.Options{}); !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}

	// Replaced: the device reads the new one; the top-level targets still
	// has every model target.
	s.Default = 500
	if _, err := PublishSampling(r.R, r.Keys, s); err != nil {
		t.Fatal(err)
	}
	if got, err := get(); err != nil || got.Default != 500 {
		t.Fatalf("after replace: %+v, %v", got, err)
	}

	// Tampered with on the server: refused by the device, reported by verify.
	up := newUpdater(t, r)
	tf, err := up.GetTargetInfo(telemetry.SamplingTarget)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(r.Dir, repofiles.TargetsDir, filepath.FromSlash(repofiles.ConsistentName(telemetry.SamplingTarget, tf.Hashes["sha256"])))
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(data), "500", "900", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := get(); err == nil {
		t.Fatalf("tampered sampling config accepted: %+v", got)
	}
	rep := audit.Verify(afero.NewOsFs(), r.Dir, r.Root, audit.Options{})
	if rep.OK() || rep.Problems[0].Code != audit.HashMismatch || rep.Problems[0].Target != telemetry.SamplingTarget {
		t.Fatalf("verify of the tampered file: %v", rep.Problems)
	}
}

// canary is a repository with det 1.0.0 fully released and 1.1.0 staged
// to 5% of the devices.
func canary(t *testing.T) *testrepo.Repo {
	r := testrepo.New(t)
	r.Publish(t, "det", "1.0.0", map[string][]byte{"model.onnx": []byte("weights 1")}, targets.Compat{})
	r.Publish(t, "det", "1.1.0", map[string][]byte{"model.onnx": []byte("weights 2")}, targets.Compat{})
	r.SetControls(t, "det", "1.1.0", &targets.Rollout{BasisPoints: 500, Salt: "0123456789abcdef"}, nil, nil)
	return r
}

// source answers every query with a failing canary: 30% of 400 activated
// devices rolled back.
type source struct{}

func (source) Report(_ context.Context, q store.Query) (*fleetreport.Report, error) {
	return &fleetreport.Report{ModelID: q.ModelID, Versions: []fleetreport.VersionReport{{Version: q.Version,
		RollbackRate: fleetreport.Rate{Value: 0.3, Low: 0.26, High: 0.35, Numerator: 120, Denominator: 400, Reports: 400}}}}, nil
}

func direct(r *repo.Repository) func(context.Context, func(*repo.Repository) error) error {
	return func(_ context.Context, fn func(*repo.Repository) error) error { return fn(r) }
}

func rolloutOf(t *testing.T, r *testrepo.Repo, version string) *targets.Rollout {
	t.Helper()
	st, err := repofiles.ReadState(afero.NewOsFs(), r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	p := targets.ManifestPath("det", version)
	c, err := targets.ParseCustom(p, st.Targets.Signed.Targets[p].Custom)
	if err != nil {
		t.Fatal(err)
	}
	return c.Rollout
}

// TestWatchHaltsCanary: the watch halts the failing canary with the keys
// at hand, once; the next check finds it halted and changes nothing; a
// fully released version is never touched.
func TestWatchHaltsCanary(t *testing.T) {
	r := canary(t)
	w := &autohalt.Watcher{ModelID: "det", Version: "1.1.0", Source: source{}, Interval: time.Minute,
		Thresholds: autohalt.Thresholds{MaxRollbackRate: 0.05, MinReports: 100},
		Halter:     &Halter{Write: direct(r.R), Keys: r.Keys}}
	ck := w.Once(context.Background())
	if ck.Outcome != autohalt.Halted || ck.Detail != "signed targets v5, snapshot v5, timestamp v5" {
		t.Fatalf("check %+v", ck)
	}
	ro := rolloutOf(t, r, "1.1.0")
	if ro.BasisPoints != 0 || ro.Salt != "0123456789abcdef" || !strings.HasPrefix(ro.HaltReason, "automatic halt: rollback rate 30% (95% CI 26%-35%) on 400 activated reports > max 5%") {
		t.Fatalf("rollout after the halt %+v", ro)
	}
	if rep := audit.Verify(afero.NewOsFs(), r.Dir, r.Root, audit.Options{}); !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
	again := w.Once(context.Background())
	if again.Outcome != autohalt.AlreadyHalted || rolloutOf(t, r, "1.1.0").HaltReason != ro.HaltReason {
		t.Fatalf("second check %+v", again)
	}
	w.Version = "1.0.0"
	if ck := w.Once(context.Background()); ck.Outcome != autohalt.NotStaged || rolloutOf(t, r, "1.0.0") != nil {
		t.Fatalf("full release: %+v", ck)
	}
	// Without the keys: a failed check, nothing changed.
	r2 := canary(t)
	w2 := *w
	w2.Version, w2.Halter = "1.1.0", &Halter{Write: direct(r2.R), Keys: keys.MemKeyring{}}
	if ck := w2.Once(context.Background()); ck.Outcome != autohalt.Failed || rolloutOf(t, r2, "1.1.0").BasisPoints != 500 {
		t.Fatalf("without keys: %+v", ck)
	}
}

// TestWatchStagesHalt: with Stage, the halt is a staged targets version;
// published metadata is unchanged until the key holders sign it and it is
// published.
func TestWatchStagesHalt(t *testing.T) {
	r := canary(t)
	w := &autohalt.Watcher{ModelID: "det", Version: "1.1.0", Source: source{}, Interval: time.Minute,
		Thresholds: autohalt.Thresholds{MaxRollbackRate: 0.05, MinReports: 100},
		Halter:     &Halter{Write: direct(r.R), Stage: true}}
	ck := w.Once(context.Background())
	if ck.Outcome != autohalt.StagedForSigners || !strings.Contains(ck.Detail, "staged targets v5 in ") {
		t.Fatalf("check %+v", ck)
	}
	if ro := rolloutOf(t, r, "1.1.0"); ro.BasisPoints != 500 {
		t.Fatalf("published before signing: %+v", ro)
	}
	if ck := w.Once(context.Background()); ck.Outcome != autohalt.Failed || !strings.Contains(ck.Detail, "already staged") {
		t.Fatalf("second staging: %+v", ck)
	}
	if _, err := r.R.SignStaged(metadata.TARGETS, r.Keys, staged.SignOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.R.PublishStaged(metadata.TARGETS, r.Keys); err != nil {
		t.Fatal(err)
	}
	if ro := rolloutOf(t, r, "1.1.0"); ro.BasisPoints != 0 || !strings.HasPrefix(ro.HaltReason, "automatic halt:") {
		t.Fatalf("published staged halt: %+v", ro)
	}
	if rep := audit.Verify(afero.NewOsFs(), r.Dir, r.Root, audit.Options{}); !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
}
