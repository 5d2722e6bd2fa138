//go:build linux || darwin

package grant_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/edgetuf/edgetuf/grant"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
)

// BenchmarkGrant grants one version to GRANT_BENCH_DEVICES devices
// (default 1,000; bench/grant.sh runs 100,000 with -benchtime=1x) on the
// OS filesystem, fsyncs included, from the devices file's text: parsing,
// sealing and writing every envelope. It reports the envelopes' mean
// size and their space on disk (allocated blocks).
func BenchmarkGrant(b *testing.B) {
	n := 1000
	if v := os.Getenv("GRANT_BENCH_DEVICES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("GRANT_BENCH_DEVICES=%q", v)
		}
	}
	var file strings.Builder
	for i, d := range newDevices(b, n) {
		file.WriteString(d.Recipient.String() + " device-" + strconv.Itoa(i) + "\n")
	}
	p := publish(b, targets.DeliveryDevice)
	var res *grant.Result
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if err := os.RemoveAll(p.envelopeDir()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		ds, err := modelcrypt.ParseDevices(strings.NewReader(file.String()))
		if err != nil {
			b.Fatal(err)
		}
		if res, err = grant.Grant(p.tr.R, p.keys, "det", "1.0.0", grant.Options{Devices: ds}); err != nil {
			b.Fatal(err)
		}
		if res.Granted != n {
			b.Fatalf("granted %d of %d", res.Granted, n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(res.Bytes)/float64(n), "B/envelope")
	b.ReportMetric(float64(res.Bytes)/(1<<20), "MiB-envelopes")
	b.ReportMetric(float64(diskUsage(b, p.envelopeDir()))/(1<<20), "MiB-on-disk")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/grant")
}

// diskUsage is the space allocated to the files in dir (du).
func diskUsage(b *testing.B, dir string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, e := range entries {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dir, e.Name()), &st); err != nil {
			b.Fatal(err)
		}
		total += st.Blocks * 512
	}
	return total
}
