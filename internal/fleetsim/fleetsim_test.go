package fleetsim

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/telemetry"
)

// fleetSize is the simulated fleet: 10,000 devices as issue 13 asks,
// fewer with -short; FLEETSIM_DEVICES overrides it (measurements).
func fleetSize(t *testing.T) int {
	if s := os.Getenv("FLEETSIM_DEVICES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("FLEETSIM_DEVICES=%q", s)
		}
		return n
	}
	if testing.Short() {
		return 1000
	}
	return 10000
}

// sampling is the fleet's signed sampling configuration: successes at
// 10%, failures (rolled back among them) at 100%, anything else kept.
var sampling = &telemetry.Sampling{Format: telemetry.SamplingFormat, Default: telemetry.FullRate,
	Rates: map[string]int{telemetry.GroupSuccess: successRate, telemetry.GroupFailure: telemetry.FullRate}}

// successRate is the success group's sampling rate, in basis points.
const successRate = 1000

// TestFleetCanary is issue 13's closed loop: a fleet, reporting to a real
// collector (SQLite store) with the sampling above, takes V2 as a 5%
// canary whose health check fails on 30% of devices. The first half of
// the fleet checks in: exactly the devices whose cohort bucket is below
// 5% take V2, exactly the failing share of them roll back to V1, no other
// device requests any file of V2 from the server or sends any report
// about it. Then the automatic halt (autohalt.Watcher.Once, what mrepo
// rollout watch --once runs), reading the collector's /v1/report, halts
// V2 (rollback rate above 10%) and the whole fleet checks in: V2 is
// installed nowhere new, though the second half's canary devices would
// have taken it, and the devices that run it keep it. The collector's
// report on V2 shows what the simulation did (checkReport).
func TestFleetCanary(t *testing.T) {
	n := fleetSize(t)
	f := New(t, Config{Devices: n, Telemetry: true, Sampling: sampling})
	half := n / 2
	startStats := f.Collector.Stats() // the bootstrap device's reports

	start := time.Now() // for the log only: nothing depends on it
	first := f.Run(t, 0, half)
	t.Logf("first wave: %v", time.Since(start).Round(time.Millisecond))
	var took, rolledBack int
	for i, o := range first[:half] {
		want := Outcome{Ran: true, Active: V1, Result: client.OutcomeUpToDate}
		switch {
		case f.Canary(i) && f.Fails(i):
			want.Result, want.Code = client.OutcomeRolledBack, client.HealthcheckFailed
			rolledBack++
		case f.Canary(i):
			want.Active, want.Result = V2, client.OutcomeUpdated
			took++
		}
		if o != want {
			t.Fatalf("device %d (canary %v, fails %v): %+v, want %+v", i, f.Canary(i), f.Fails(i), o, want)
		}
	}
	canary := took + rolledBack
	if canary == 0 || rolledBack == 0 || took == 0 {
		t.Fatalf("first wave: %d canary devices, %d rolled back: the simulation tests nothing", canary, rolledBack)
	}
	fetchedV2 := map[int]bool{}
	for _, r := range f.Requests().Matching(PayloadPrefix(V2)) {
		if !f.Canary(r.Device) || r.Device >= half {
			t.Fatalf("device %d (not in the first wave's canary) requested %s", r.Device, r.Path)
		}
		fetchedV2[r.Device] = true
	}
	if len(fetchedV2) != canary {
		t.Fatalf("%d devices fetched V2's files, want the %d canary devices", len(fetchedV2), canary)
	}
	funnel := first.Funnel()
	if funnel[telemetry.KindOffered] != canary || funnel[telemetry.KindHealthy] != took || funnel[telemetry.KindRolledBack] != rolledBack {
		t.Fatalf("first wave's funnel of V2: %v, want %d offered, %d healthy, %d rolled back", funnel, canary, took, rolledBack)
	}
	t.Logf("first wave: %d devices, %d in the canary: %d run V2, %d rolled back; funnel of V2 %v", half, canary, took, rolledBack, funnel)

	v2Reports := checkUploads(t, f, func(i int) bool { return i >= 0 && i < half && f.Canary(i) })
	watch(t, f, canary)
	f.Requests().reset()
	start = time.Now()
	second := f.Run(t, 0, n)
	t.Logf("second wave: %v", time.Since(start).Round(time.Millisecond))
	missed := 0
	for i, o := range second {
		want := Outcome{Ran: true, Active: V1, Result: client.OutcomeUpToDate}
		if i < half && f.Canary(i) && !f.Fails(i) {
			want.Active = V2
		}
		if i >= half && f.Canary(i) {
			missed++
		}
		if o != want {
			t.Fatalf("after the halt, device %d (canary %v, fails %v): %+v, want %+v", i, f.Canary(i), f.Fails(i), o, want)
		}
	}
	if missed == 0 {
		t.Fatal("the second half of the fleet has no canary device: the halt is not tested")
	}
	if reqs := f.Requests().Matching(PayloadPrefix(V2)); len(reqs) != 0 {
		t.Fatalf("after the halt, %d requests for V2's files (first: device %d %s)", len(reqs), reqs[0].Device, reqs[0].Path)
	}
	if funnel := second.Funnel(); len(funnel) != 0 {
		t.Fatalf("after the halt, the funnel of V2 is %v, want empty", funnel)
	}
	t.Logf("after the halt: %d devices, V2 runs on the same %d; %d canary devices of the second half stayed on V1", n, took, missed)
	if after := checkUploads(t, f, func(i int) bool { return i >= 0 && i < half && f.Canary(i) }); after != v2Reports {
		t.Fatalf("after the halt, %d more reports about V2 were uploaded", after-v2Reports)
	}
	checkReport(t, f, funnel, canary)
	uploads, batches := f.Collector.Uploads().Reports()
	st := f.Collector.Stats()
	t.Logf("telemetry: %d reports uploaded in %d batches; the collector accepted %d (%d from the fleet, %d from the bootstrap device), %d duplicates, %d refused uploads",
		len(uploads), batches, st.Accepted, st.Accepted-startStats.Accepted, startStats.Accepted, st.Duplicates, st.RejectedInvalid+st.RejectedSize+st.RejectedType+st.RateLimited+st.StoreErrors)
}
