package client_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/targets"
)

// TestDeepManifestRefused: a signed manifest of 60 KB whose unknown field
// nests arrays 30,000 deep (what a delegated team key can sign for its
// own model) drove the client to 964 MB and an OOM kill on every run,
// since the staged manifest is re-read. It is now refused by the depth
// limit, MANIFEST_INVALID, with little memory; the active version stays.
func TestDeepManifestRefused(t *testing.T) {
	r, srv, d := onDeltaV1(t, fastOpts())
	r.Publish(t, model, "1.1.0", weightsBundle(t, "1.1.0"), targets.Compat{})
	f := forgeDeltaRepo(t, r)
	deep := `{"schema_version":1,"model_id":"det","version":"1.1.0","build_timestamp":"2024-01-01T00:00:00Z","files":[],"x":` +
		strings.Repeat("[", 30<<10) + strings.Repeat("]", 30<<10) + `}`
	f.setTargetBytes(targets.ManifestPath(model, "1.1.0"), []byte(deep))
	f.publishTrusted(r)
	srv.set(dirHandler(f.dir))
	for run := 0; run < 2; run++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		res := d.wantFail(client.ManifestInvalid, "1.0.0")
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Fatalf("run %d: %d MiB allocated", run, alloc>>20)
		}
		if !strings.Contains(res.Message, "nested too deeply") {
			t.Fatalf("reason %q", res.Message)
		}
	}
}
