package repoctl

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/server"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry/autohalt"
	"github.com/spf13/afero"
)

// TestDeviceAfterWatchHalt: two devices in the canary's 5% cohort; the
// first takes 1.1.0 before the watch halts it, the second, updating
// after the halt, stays on 1.0.0.
func TestDeviceAfterWatchHalt(t *testing.T) {
	r := canary(t)
	srv := httptest.NewServer(server.Handler(afero.NewOsFs(), r.Dir))
	t.Cleanup(srv.Close)
	var cohort []string
	for i := 0; len(cohort) < 2; i++ {
		if id := fmt.Sprintf("device-%d", i); targets.Bucket("0123456789abcdef", id) < 500 {
			cohort = append(cohort, id)
		}
	}
	update := func(id string) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), id)
		if err := client.Init(dir, r.Root, client.InitOptions{RepoURL: srv.URL, DeviceID: id}); err != nil {
			t.Fatal(err)
		}
		c, err := client.Open(dir, client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Update(context.Background(), client.UpdateRequest{ModelID: "det"})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return res.Version
	}
	if v := update(cohort[0]); v != "1.1.0" {
		t.Fatalf("before the halt, a device of the cohort runs %s, want 1.1.0", v)
	}
	w := &autohalt.Watcher{ModelID: "det", Version: "1.1.0", Source: source{}, Interval: time.Minute,
		Thresholds: autohalt.Thresholds{MaxRollbackRate: 0.05, MinReports: 100},
		Halter:     &Halter{Write: direct(r.R), Keys: r.Keys}}
	if ck := w.Once(context.Background()); ck.Outcome != autohalt.Halted {
		t.Fatalf("check %+v", ck)
	}
	if v := update(cohort[1]); v != "1.0.0" {
		t.Fatalf("after the halt, a device of the cohort runs %s, want 1.0.0", v)
	}
}
