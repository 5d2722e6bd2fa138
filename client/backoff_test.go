package client_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"github.com/edgetuf/edgetuf/internal/testrepo"
)

// unavailable answers every request with 503 and the given Retry-After.
func unavailable(retryAfter string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
}

// backoffDevice is a device that honours the backoff, with a clock the
// test moves (*now) and a fixed jitter draw of 0.5 (each pause is three
// quarters of its nominal length), and no retries within a run.
func backoffDevice(t *testing.T, url string, r *testrepo.Repo, now *time.Time) *device {
	t.Helper()
	o := fastOpts()
	o.Retries = -1
	o.Now = func() time.Time { return *now }
	o.Rand = func() float64 { return 0.5 }
	d := newDeviceInit(t, r, client.InitOptions{RepoURL: url}, o)
	d.honourBackoff = true
	return d
}

// TestBackoffAcrossRuns: three failing runs schedule growing pauses (45
// s, 90 s, 180 s with the fixed jitter); a run before the next attempt
// time exits at once with BACKOFF and sends no request; Force runs
// anyway; the schedule is in Status; a success resets it.
func TestBackoffAcrossRuns(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0")
	srv := serveRepo(t, r)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	d := backoffDevice(t, srv.URL, r, &now)
	srv.set(unavailable(""))

	var gaps []time.Duration
	for i := 1; i <= 3; i++ {
		res, err := d.update(client.UpdateRequest{})
		if client.CodeOf(err) != client.Network || res.Outcome != client.OutcomeFailed {
			t.Fatalf("run %d: %v %+v", i, err, res)
		}
		nb, perr := time.Parse(time.RFC3339, res.NotBefore)
		if perr != nil {
			t.Fatalf("run %d: not_before %q", i, res.NotBefore)
		}
		gaps = append(gaps, nb.Sub(now))
		st := d.status()
		if st.Schedule == nil || st.Schedule.Attempts != i || st.Schedule.NotBefore != res.NotBefore || st.Schedule.LastCode != client.Network {
			t.Fatalf("run %d: schedule %+v", i, st.Schedule)
		}
		// Before the next attempt time: BACKOFF at once, no request.
		now = nb.Add(-time.Second)
		srv.reset()
		res, err = d.update(client.UpdateRequest{})
		if client.CodeOf(err) != client.Backoff || res.Outcome != client.OutcomeDeferred || res.NotBefore != st.Schedule.NotBefore || len(srv.requests("/")) != 0 {
			t.Fatalf("run %d+: %v %+v, %d requests", i, err, res, len(srv.requests("/")))
		}
		if ev := d.events(); ev[len(ev)-1].Event != client.EventDeferred || ev[len(ev)-1].Code != client.Backoff {
			t.Fatalf("events %v", eventNames(ev))
		}
		now = nb
	}
	if gaps[0] != 45*time.Second || gaps[1] != 90*time.Second || gaps[2] != 180*time.Second {
		t.Fatalf("pauses %v, want 45s 90s 180s", gaps)
	}
	// --force runs before the next attempt time.
	now = now.Add(-time.Second)
	srv.set(dirHandler(r.Dir))
	srv.reset()
	res, err := d.update(client.UpdateRequest{})
	if client.CodeOf(err) != client.Backoff || len(srv.requests("/")) != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	res, err = d.update(client.UpdateRequest{Force: true})
	if err != nil || res.Version != "1.0.0" {
		t.Fatalf("forced: %v %+v", err, res)
	}
	if st := d.status(); st.Schedule != nil {
		t.Fatalf("schedule after a success: %+v", st.Schedule)
	}
}

// TestBackoffCap: the pause doubles up to 24 hours, never more.
func TestBackoffCap(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0")
	srv := serveRepo(t, r)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	d := backoffDevice(t, srv.URL, r, &now)
	srv.set(unavailable(""))
	var last time.Duration
	for i := 1; i <= 14; i++ {
		res, _ := d.update(client.UpdateRequest{Force: true})
		nb, _ := time.Parse(time.RFC3339, res.NotBefore)
		last = nb.Sub(now)
	}
	if last != 18*time.Hour { // 24 h, three quarters with the fixed jitter
		t.Fatalf("pause %v after 14 failures", last)
	}
}

// TestBackoffRetryAfter: a server's Retry-After (seconds or a date)
// lengthens the pause, capped at 24 hours.
func TestBackoffRetryAfter(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0")
	srv := serveRepo(t, r)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	d := backoffDevice(t, srv.URL, r, &now)
	for _, c := range []struct {
		header string
		want   time.Duration
	}{
		{"3600", time.Hour},
		{now.Add(2 * time.Hour).Format(http.TimeFormat), 2 * time.Hour},
		{"864000", 24 * time.Hour}, // ten days: capped
		{"garbage", 45 * time.Second},
		{"1", 45 * time.Second}, // shorter than the backoff: the backoff
	} {
		srv.set(unavailable(c.header))
		res, err := d.update(client.UpdateRequest{Force: true})
		nb, _ := time.Parse(time.RFC3339, res.NotBefore)
		if client.CodeOf(err) != client.Network || nb.Sub(now) != c.want {
			t.Fatalf("Retry-After %q: %v, pause %v, want %v", c.header, err, nb.Sub(now), c.want)
		}
		srv.set(dirHandler(r.Dir))
		if _, err := d.update(client.UpdateRequest{Force: true}); err != nil { // resets
			t.Fatal(err)
		}
	}
}

// TestVerifyFailuresDefer: a version whose download fails verification
// three times is deferred for a day (DEFERRED_VERIFY_FAILURES, nothing
// requested), then tried afresh; the counts are in Status.
func TestVerifyFailuresDefer(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0")
	srv := serveRepo(t, r)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	d := backoffDevice(t, srv.URL, r, &now)
	d.mustUpdate("1.0.0")
	publish(t, r, rolloutSize, "1.1.0")
	bin := r.TargetFile(t, "models/"+model+"/1.1.0/model.bin")
	flipByte(t, bin, 7)
	for i := 1; i <= 3; i++ {
		res, err := d.update(client.UpdateRequest{Force: true})
		if client.CodeOf(err) != client.HashMismatch {
			t.Fatalf("run %d: %v %+v", i, err, res)
		}
		if vf := d.status().Schedule.VerifyFailures["1.1.0"]; vf == nil || vf.Count != i {
			t.Fatalf("run %d: %+v", i, vf)
		}
	}
	srv.reset()
	res, err := d.update(client.UpdateRequest{Force: true})
	if client.CodeOf(err) != client.DeferredVerifyFailures || res.Outcome != client.OutcomeDeferred || len(srv.requests("/targets/")) != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	flipByte(t, bin, 7) // the repository is fixed
	now = now.Add(23 * time.Hour)
	if _, err := d.update(client.UpdateRequest{Force: true}); client.CodeOf(err) != client.DeferredVerifyFailures {
		t.Fatalf("after 23h: %v", err)
	}
	now = now.Add(time.Hour)
	d.mustUpdate("1.1.0")
	if st := d.status(); st.Schedule != nil {
		t.Fatalf("schedule %+v", st.Schedule)
	}
}

// TestBackoffNotForDeferralsOrHealth: a deferral, a cohort exclusion and
// a failed health check schedule no backoff.
func TestBackoffNotForDeferralsOrHealth(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	publish(t, r, rolloutSize, "1.0.0")
	srv := serveRepo(t, r)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	d := backoffDevice(t, srv.URL, r, &now)
	if _, err := d.update(client.UpdateRequest{State: &client.DeviceState{Network: "none"}}); client.CodeOf(err) != client.DeferredNetwork {
		t.Fatal(err)
	}
	failing, _ := healthScript(t, "exit 1")
	if _, err := d.update(client.UpdateRequest{HealthCheck: failing}); client.CodeOf(err) != client.HealthcheckFailed {
		t.Fatal(err)
	}
	if st := d.status(); st.Schedule != nil {
		t.Fatalf("schedule %+v", st.Schedule)
	}
}
