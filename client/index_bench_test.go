package client_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// BenchmarkIndexUpdate: a device's first update of one model in a
// repository of many models in EDGETUF_BENCH_BINS hash bins (default
// 1,024), listed through the model's version index. The
// catalogue is EDGETUF_BENCH_MODELS x EDGETUF_BENCH_VERSIONS synthetic
// models (default 100 x 10; the scale is 1000 x 100), each
// version a manifest target (with the custom metadata of a real one) and
// one payload target, and each model an index, signed into the bins, the
// snapshot recording bins by version alone as mrepo does from 256 bins
// on. Reported per update: metadata-B (every byte of metadata/ and of the
// index the device downloaded), and once, peak-RSS-KiB of `mclient
// update` run as a process. ns/op is the whole update over loopback
// (refresh, listing, a 64 KiB model installed).
//
//	EDGETUF_BENCH_MODELS=1000 EDGETUF_BENCH_VERSIONS=100 EDGETUF_BENCH_BINS=4096 \
//	    go test ./client -run '^$' -bench BenchmarkIndexUpdate -benchtime 5x
func BenchmarkIndexUpdate(b *testing.B) {
	models, versions := benchEnv(b, "EDGETUF_BENCH_MODELS", 100), benchEnv(b, "EDGETUF_BENCH_VERSIONS", 10)
	br := newBinnedRepo(b, benchEnv(b, "EDGETUF_BENCH_BINS", 1024))
	br.publish(b, "1.0.0", "1.1.0")
	br.putIndex(b, "1.0.0", "1.1.0")
	fillBins(b, br, models, versions)
	var metaBytes atomic.Int64
	srv := newServer(b, countBytes(dirHandler(br.Dir), &metaBytes))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		d := newDevice(b, br.Repo, srv.URL, fastOpts())
		b.StartTimer()
		d.mustUpdate("1.1.0")
	}
	b.StopTimer()
	b.ReportMetric(float64(metaBytes.Load())/float64(b.N), "metadata-B/op")
	b.ReportMetric(float64(mclientPeakRSS(b, br.Repo, srv.URL)), "peak-RSS-KiB")
}

func benchEnv(b *testing.B, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q", name, s)
		}
		return n
	}
	return def
}

// countBytes counts the bytes of every answer under /metadata/ and of
// version indexes.
func countBytes(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/metadata/") || strings.HasSuffix(r.URL.Path, "."+targets.VersionIndexName) {
			w = &countingWriter{ResponseWriter: w, n: n}
		}
		h.ServeHTTP(w, r)
	})
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.ResponseWriter.Write(p)
}

// fillBins signs models x versions synthetic models into every bin, in
// one publication: for each version a manifest target with the custom
// metadata of det 1.0.0's, and a 1 MiB model.bin; for each model its
// index. No file is written: devices never fetch them.
func fillBins(b *testing.B, br *binnedRepo, models, versions int) {
	b.Helper()
	custom := signedTarget(b, br, targets.ManifestPath(model, "1.0.0")).Custom
	add := map[string][]*metadata.TargetFiles{}
	put := func(p string, length int64, custom *json.RawMessage) {
		sum := sha256.Sum256([]byte(p))
		tf := &metadata.TargetFiles{Length: length, Hashes: metadata.Hashes{"sha256": sum[:]}, Path: p, Custom: custom}
		add[br.binOf(p)] = append(add[br.binOf(p)], tf)
	}
	for m := range models {
		id := fmt.Sprintf("m%04d", m)
		var vs []string
		for v := range versions {
			ver := fmt.Sprintf("1.%d.0", v)
			vs = append(vs, ver)
			put(targets.ManifestPath(id, ver), 400, custom)
			put(targets.TargetPath(id, ver, "model.bin"), 1<<20, nil)
		}
		vi, err := targets.NewVersionIndex(id, vs)
		if err != nil {
			b.Fatal(err)
		}
		put(targets.VersionIndexPath(id), int64(len(vi.Marshal())), nil)
	}
	err := testrepo.ForgeRolesDirOpts(br.Dir, br.bins.GetRoles(), func(role string, tg map[string]*metadata.TargetFiles) error {
		for _, tf := range add[role] {
			tg[tf.Path] = tf
		}
		return nil
	}, br.signers(b), true)
	if err != nil {
		b.Fatal(err)
	}
}

// signedTarget reads the entry of target path p from the bin that lists it.
func signedTarget(b *testing.B, br *binnedRepo, p string) *metadata.TargetFiles {
	b.Helper()
	meta := filepath.Join(br.Dir, "metadata")
	ts, err := metadata.Timestamp().FromFile(filepath.Join(meta, "timestamp.json"))
	if err != nil {
		b.Fatal(err)
	}
	sn, err := metadata.Snapshot().FromFile(filepath.Join(meta, fmt.Sprintf("%d.snapshot.json", ts.Signed.Meta["snapshot.json"].Version)))
	if err != nil {
		b.Fatal(err)
	}
	bin := br.binOf(p)
	tg, err := metadata.Targets().FromFile(filepath.Join(meta, fmt.Sprintf("%d.%s.json", sn.Signed.Meta[bin+".json"].Version, bin)))
	if err != nil {
		b.Fatal(err)
	}
	tf := tg.Signed.Targets[p]
	if tf == nil {
		b.Fatalf("%s lists no %s", bin, p)
	}
	return tf
}

// mclientPeakRSS runs a first `mclient update` of det as a process and
// returns its peak RSS in KiB (needs GNU time, /usr/bin/time).
func mclientPeakRSS(b *testing.B, r *testrepo.Repo, url string) int64 {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "mclient")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/edgetuf/edgetuf/cmd/mclient").CombinedOutput(); err != nil {
		b.Fatalf("go build mclient: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "root.json")
	if err := os.WriteFile(root, r.Root, 0o644); err != nil {
		b.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	if out, err := exec.Command(bin, "init", "--state", state, "--root", root, "--repo-url", url).CombinedOutput(); err != nil {
		b.Fatalf("mclient init: %v\n%s", err, out)
	}
	// Through GNU time, a small process: the rusage of a child of this
	// process would count this process's memory (ru_maxrss survives exec).
	out, err := exec.Command("/usr/bin/time", "-f", "%M", bin, "update", "--state", state, "--model-id", model).CombinedOutput()
	if err != nil {
		b.Fatalf("mclient update: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	if err != nil {
		b.Fatalf("GNU time: %q", out)
	}
	return kib
}
