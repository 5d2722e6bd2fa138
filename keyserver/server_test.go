package keyserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/modelcrypt"
)

// TestReleaseToAnEnrolledDevice: a device that proves its key gets an
// envelope that OpenEnvelope accepts with the signed recipient, valid for
// the key lifetime and no longer; the audit log has one line per request
// naming the device by label and fingerprint.
func TestReleaseToAnEnrolledDevice(t *testing.T) {
	f := newFixture(t, nil)
	c := f.challenge(t, f.cam1, "det", "1.0.0")
	if exp, err := time.Parse(time.RFC3339, c.Expires); err != nil || !exp.Equal(f.clock.Now().Add(DefaultChallengeTTL)) {
		t.Fatalf("expires %q", c.Expires)
	}
	st, env, code := f.post(t, "/v1/key", prove(t, c, f.cam1, f.cam1, "det", "1.0.0"))
	if st != http.StatusOK {
		t.Fatalf("key: %d %s", st, code)
	}
	ck, err := modelcrypt.OpenEnvelope(env, f.cam1, "det", "1.0.0", f.key.Recipient(), f.clock.Now())
	if err != nil || ck.String() != f.key.String() {
		t.Fatalf("OpenEnvelope: %v", err)
	}
	if _, err := modelcrypt.OpenEnvelope(env, f.cam1, "det", "1.0.0", f.key.Recipient(), f.clock.Now().Add(DefaultKeyLifetime)); err == nil {
		t.Fatal("the released key is accepted after its lifetime")
	}
	if _, err := modelcrypt.OpenEnvelope(env, f.cam2, "det", "1.0.0", f.key.Recipient(), f.clock.Now()); err == nil {
		t.Fatal("another device opens the envelope")
	}
	recs := f.auditLines(t)
	if got := outcomes(recs); !slices.Equal(got, []string{OutcomeChallenge, OutcomeReleased}) {
		t.Fatalf("audit outcomes %v", got)
	}
	want := AuditRecord{Time: "2026-03-01T12:00:00Z", Remote: recs[1].Remote, Endpoint: "/v1/key", Device: DeviceFingerprint(f.cam1.Recipient), Label: "cam1",
		ModelID: "det", Version: "1.0.0", Outcome: OutcomeReleased, Status: 200, NotAfter: "2026-03-02T12:00:00Z"}
	if recs[1] != want || !strings.HasPrefix(recs[1].Remote, "127.0.0.1:") {
		t.Fatalf("audit record\n got %+v\nwant %+v", recs[1], want)
	}
}

// TestReplayedChallenge: a challenge is used once. Its second use, with
// the same valid proof, is refused CHALLENGE_UNKNOWN; so is the use of a
// challenge after a failed proof (no guessing the proof online).
func TestReplayedChallenge(t *testing.T) {
	f := newFixture(t, nil)
	req := prove(t, f.challenge(t, f.cam1, "det", "1.0.0"), f.cam1, f.cam1, "det", "1.0.0")
	if st, _, code := f.post(t, "/v1/key", req); st != http.StatusOK {
		t.Fatalf("first use: %d %s", st, code)
	}
	if st, _, code := f.post(t, "/v1/key", req); st != http.StatusForbidden || code != modelcrypt.RefusalChallengeUnknown {
		t.Fatalf("replay: %d %s", st, code)
	}
	req = prove(t, f.challenge(t, f.cam1, "det", "1.0.0"), f.cam1, f.cam1, "det", "1.0.0")
	good := req.Proof
	req.Proof = strings.Repeat("A", len(good))
	if st, _, code := f.post(t, "/v1/key", req); st != http.StatusForbidden || code != modelcrypt.RefusalProofInvalid {
		t.Fatalf("bad proof: %d %s", st, code)
	}
	req.Proof = good
	if st, _, code := f.post(t, "/v1/key", req); st != http.StatusForbidden || code != modelcrypt.RefusalChallengeUnknown {
		t.Fatalf("good proof after a bad one: %d %s", st, code)
	}
	if n := f.srv.challenges.len(); n != 0 {
		t.Fatalf("%d challenges outstanding", n)
	}
}

// TestExpiredChallenge: a proof that arrives after the challenge's
// lifetime is refused CHALLENGE_EXPIRED; one just in time is accepted.
func TestExpiredChallenge(t *testing.T) {
	f := newFixture(t, nil)
	req := prove(t, f.challenge(t, f.cam1, "det", "1.0.0"), f.cam1, f.cam1, "det", "1.0.0")
	f.clock.Advance(DefaultChallengeTTL)
	if st, _, code := f.post(t, "/v1/key", req); st != http.StatusForbidden || code != modelcrypt.RefusalChallengeExpired {
		t.Fatalf("expired: %d %s", st, code)
	}
	req = prove(t, f.challenge(t, f.cam1, "det", "1.0.0"), f.cam1, f.cam1, "det", "1.0.0")
	f.clock.Advance(DefaultChallengeTTL - time.Second)
	if st, _, code := f.post(t, "/v1/key", req); st != http.StatusOK {
		t.Fatalf("in time: %d %s", st, code)
	}
}

// TestProofFromAnotherKey: impersonation. A device that claims cam1's
// recipient but holds another key (cam2's, or a stranger's) cannot make
// cam1's proof; nor can a proof for one version or device be moved to
// another. Each is refused PROOF_INVALID and no key leaves.
func TestProofFromAnotherKey(t *testing.T) {
	f := newFixture(t, nil)
	stranger := newDevice(t)
	for name, key := range map[string]device{"enrolled cam2": f.cam2, "stranger": stranger} {
		c := f.challenge(t, f.cam1, "det", "1.0.0")
		if st, _, code := f.post(t, "/v1/key", prove(t, c, key, f.cam1, "det", "1.0.0")); st != http.StatusForbidden || code != modelcrypt.RefusalProofInvalid {
			t.Errorf("%s: %d %s", name, st, code)
		}
	}
	// A challenge issued to cam2, answered (correctly, by cam2) as cam1.
	c := f.challenge(t, f.cam2, "det", "1.0.0")
	if st, _, code := f.post(t, "/v1/key", prove(t, c, f.cam2, f.cam1, "det", "1.0.0")); st != http.StatusForbidden || code != modelcrypt.RefusalProofInvalid {
		t.Errorf("challenge of another device: %d %s", st, code)
	}
	if recs := f.auditLines(t); slices.Contains(outcomes(recs), OutcomeReleased) {
		t.Fatalf("a key was released: %v", outcomes(recs))
	}
}

// TestUnenrolledAndRevokedDevices: a device not in the devices file, or
// in the revoked file, gets no challenge and no key; revoking a device by
// Reload between its challenge and its key request refuses the key; a
// Reload that cannot read its files keeps the sets in use.
func TestUnenrolledAndRevokedDevices(t *testing.T) {
	f := newFixture(t, nil)
	stranger := newDevice(t)
	if st, _, code := f.post(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: stranger.Recipient}); st != http.StatusForbidden || code != modelcrypt.RefusalNotEnrolled {
		t.Fatalf("unenrolled: %d %s", st, code)
	}
	// An unenrolled device that answers a challenge it never got.
	req := prove(t, f.challenge(t, f.cam1, "det", "1.0.0"), stranger, stranger, "det", "1.0.0")
	if st, _, code := f.post(t, "/v1/key", req); st != http.StatusForbidden || code != modelcrypt.RefusalNotEnrolled {
		t.Fatalf("unenrolled key request: %d %s", st, code)
	}

	c := f.challenge(t, f.cam2, "det", "1.0.0")
	writeFile(t, f.revokedFile, f.cam2.Recipient+" stolen 2026-03-01\n")
	if err := f.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if st, _, code := f.post(t, "/v1/key", prove(t, c, f.cam2, f.cam2, "det", "1.0.0")); st != http.StatusForbidden || code != modelcrypt.RefusalRevoked {
		t.Fatalf("revoked between challenge and key: %d %s", st, code)
	}
	if st, _, code := f.post(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: f.cam2.Recipient}); st != http.StatusForbidden || code != modelcrypt.RefusalRevoked {
		t.Fatalf("revoked device's challenge: %d %s", st, code)
	}
	if n := f.srv.Enrolled(); n != 1 {
		t.Fatalf("Enrolled() = %d", n)
	}

	writeFile(t, f.revokedFile, "not a recipient\n")
	if err := f.srv.Reload(); err == nil {
		t.Fatal("Reload accepted a damaged revoked file")
	}
	if st, _, code := f.post(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: f.cam2.Recipient}); code != modelcrypt.RefusalRevoked {
		t.Fatalf("after a failed Reload: %d %s", st, code)
	}
	if _, err := New(Config{RepoDir: f.srv.cfg.RepoDir, Keys: f.keys, DevicesFile: f.devicesFile, RevokedFile: f.revokedFile}); err == nil {
		t.Fatal("New accepted a damaged revoked file")
	}
}

// TestVersionNotDeliveredByKeyServer: a version whose signed delivery is
// not keyserver (det 2.0.0, delivery device), an unpublished one, and one
// whose content key is not stored are refused VERSION_UNKNOWN, at the
// challenge and at the key request.
func TestVersionNotDeliveredByKeyServer(t *testing.T) {
	f := newFixture(t, nil)
	for _, v := range []string{"2.0.0", "9.9.9"} {
		if st, _, code := f.post(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: "det", Version: v, Device: f.cam1.Recipient}); st != http.StatusNotFound || code != modelcrypt.RefusalVersionUnknown {
			t.Errorf("challenge for %s: %d %s", v, st, code)
		}
	}
	// The key of 1.0.0 missing from the store.
	c := f.challenge(t, f.cam1, "det", "1.0.0")
	delete(f.keys, "det@1.0.0")
	if st, _, code := f.post(t, "/v1/key", prove(t, c, f.cam1, f.cam1, "det", "1.0.0")); st != http.StatusNotFound || code != modelcrypt.RefusalVersionUnknown {
		t.Errorf("no stored key: %d %s", st, code)
	}
	// A stored key other than the signed one is never released.
	f.keys["det@1.0.0"], _ = modelcrypt.NewContentKey()
	c = f.challenge(t, f.cam1, "det", "1.0.0")
	if st, _, code := f.post(t, "/v1/key", prove(t, c, f.cam1, f.cam1, "det", "1.0.0")); st != http.StatusInternalServerError || code != OutcomeInternal {
		t.Errorf("a key other than the signed one: %d %s", st, code)
	}
}

// TestPreload loads the keys of the versions delivered by key service
// and reports those whose key is not stored; a store that fails (a wrong
// passphrase) fails it.
func TestPreload(t *testing.T) {
	f := newFixture(t, nil)
	if n, missing, err := f.srv.Preload(); n != 1 || len(missing) != 0 || err != nil {
		t.Fatalf("Preload = %d %v %v", n, missing, err)
	}
	delete(f.keys, "det@1.0.0")
	f.srv.keys = map[string]*modelcrypt.ContentKey{}
	if n, missing, err := f.srv.Preload(); n != 0 || !slices.Equal(missing, []string{"det@1.0.0"}) || err != nil {
		t.Fatalf("Preload = %d %v %v", n, missing, err)
	}
	f.srv.cfg.Keys = failingKeys{}
	if _, _, err := f.srv.Preload(); err == nil {
		t.Fatal("Preload hid a failing store")
	}
}

type failingKeys struct{}

func (failingKeys) Get(string, string) (*modelcrypt.ContentKey, error) {
	return nil, errors.New("wrong passphrase")
}

// TestMalformedRequests: every request that is not the protocol's is
// refused with a JSON body and a code, and audited.
func TestMalformedRequests(t *testing.T) {
	f := newFixture(t, nil)
	ok := `{"model_id":"det","version":"1.0.0","device":"` + f.cam1.Recipient + `"}`
	for name, tc := range map[string]struct {
		path   string
		body   string
		status int
		code   string
	}{
		"not JSON":          {"/v1/challenge", "hello", 400, modelcrypt.RefusalMalformed},
		"unknown field":     {"/v1/challenge", `{"model_id":"det","version":"1.0.0","device":"` + f.cam1.Recipient + `","quote":"x"}`, 400, modelcrypt.RefusalMalformed},
		"trailing data":     {"/v1/challenge", ok + "{}", 400, modelcrypt.RefusalMalformed},
		"bad model":         {"/v1/challenge", `{"model_id":"../x","version":"1.0.0","device":"` + f.cam1.Recipient + `"}`, 400, modelcrypt.RefusalMalformed},
		"bad version":       {"/v1/challenge", `{"model_id":"det","version":"1.0\n","device":"` + f.cam1.Recipient + `"}`, 400, modelcrypt.RefusalMalformed},
		"bad device":        {"/v1/challenge", `{"model_id":"det","version":"1.0.0","device":"age1tag1"}`, 400, modelcrypt.RefusalMalformed},
		"deep nesting":      {"/v1/key", strings.Repeat("[", 200) + strings.Repeat("]", 200), 400, modelcrypt.RefusalMalformed},
		"oversized":         {"/v1/challenge", `{"model_id":"` + strings.Repeat("d", 9<<10) + `"}`, 413, modelcrypt.RefusalTooLarge},
		"unknown endpoint":  {"/v1/keys", ok, 404, "NOT_FOUND"},
		"key without proof": {"/v1/key", ok, 403, modelcrypt.RefusalChallengeUnknown},
	} {
		st, _, code := f.post(t, tc.path, []byte(tc.body))
		if st != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", name, st, code, tc.status, tc.code)
		}
	}
	resp, err := f.hc.Get(f.url + "/v1/challenge")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	if n := len(f.auditLines(t)); n != 11 {
		t.Fatalf("%d audit lines for 11 requests", n)
	}
}

// TestAuditLogHoldsNoKeyMaterial: after releases to two devices, the
// audit log holds one line per request and neither the content key, nor
// any age secret key, nor the envelopes.
func TestAuditLogHoldsNoKeyMaterial(t *testing.T) {
	f := newFixture(t, nil)
	var envs [][]byte
	requests := 0
	for _, d := range []device{f.cam1, f.cam2} {
		c := f.challenge(t, d, "det", "1.0.0")
		st, env, _ := f.post(t, "/v1/key", prove(t, c, d, d, "det", "1.0.0"))
		if st != http.StatusOK {
			t.Fatal(st)
		}
		envs = append(envs, env)
		requests += 2
	}
	f.post(t, "/v1/challenge", []byte("garbage"))
	requests++
	data, err := os.ReadFile(f.auditFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n != requests {
		t.Fatalf("%d audit lines for %d requests", n, requests)
	}
	secret := f.key.String()
	for _, bad := range []string{secret, strings.ToLower(secret), "AGE-SECRET-KEY", secret[len("AGE-SECRET-KEY-1"):], "age-encryption.org"} {
		if bytes.Contains(bytes.ToUpper(data), bytes.ToUpper([]byte(bad))) {
			t.Fatalf("the audit log contains %q", bad)
		}
	}
	for _, env := range envs {
		if bytes.Contains(data, env[len(env)-32:]) {
			t.Fatal("the audit log contains envelope bytes")
		}
	}
	if fi, err := os.Stat(f.auditFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit log mode %v", fi.Mode())
	}
}

// TestFlooding: one device's burst is cut at its rate with Retry-After;
// strangers flooding the service cost only the global bucket (no table
// grows); a flood that fills the challenge table is refused 429 and the
// table stays at its bound; the service keeps answering, and once the
// window has passed a legitimate device gets its key.
func TestFlooding(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.MaxChallenges = 100
		c.GlobalRate = Rate{Events: 1000, Per: time.Second, Burst: 1000}
	})
	// One device: burst 5, then 10 a minute.
	for range 5 {
		f.challenge(t, f.cam1, "det", "1.0.0")
	}
	resp := f.rawPost(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: f.cam1.Recipient})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "6" {
		t.Fatalf("over the device's burst: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Strangers: refused, nothing kept for them.
	for range 300 {
		f.post(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: newDevice(t).Recipient})
	}
	if n := f.srv.limits.size(); n != 1 {
		t.Fatalf("%d per-device buckets after strangers flooded", n)
	}
	// Many enrolled devices fill the challenge table.
	var fleet []device
	var lines strings.Builder
	for range 150 {
		d := newDevice(t)
		fleet = append(fleet, d)
		lines.WriteString(d.Recipient + "\n")
	}
	lines.WriteString(f.cam2.Recipient + " cam2\n")
	writeFile(t, f.devicesFile, lines.String())
	if err := f.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, d := range fleet {
		st, _, code := f.post(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: d.Recipient})
		if st == http.StatusTooManyRequests && code == modelcrypt.RefusalRateLimited {
			refused++
		} else if st != http.StatusOK {
			t.Fatalf("%d %s", st, code)
		}
	}
	if refused != 150-(100-5) || f.srv.challenges.len() != 100 {
		t.Fatalf("%d refused, %d outstanding (bound 100)", refused, f.srv.challenges.len())
	}
	if st, _, code := f.post(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: f.cam2.Recipient}); st != http.StatusTooManyRequests {
		t.Fatalf("a legitimate device while the table is full: %d %s", st, code)
	}
	// The window passes: the legitimate device gets its key.
	f.clock.Advance(DefaultChallengeTTL)
	c := f.challenge(t, f.cam2, "det", "1.0.0")
	if st, _, code := f.post(t, "/v1/key", prove(t, c, f.cam2, f.cam2, "det", "1.0.0")); st != http.StatusOK {
		t.Fatalf("after the window: %d %s", st, code)
	}
	// The global bucket: past it, everything waits, even the legitimate.
	g := newFixture(t, func(c *Config) { c.GlobalRate = Rate{Events: 10, Per: time.Second, Burst: 10} })
	for range 10 {
		g.post(t, "/v1/challenge", []byte("x"))
	}
	resp = g.rawPost(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: g.cam1.Recipient})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("over the global rate: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	g.clock.Advance(time.Second)
	g.challenge(t, g.cam1, "det", "1.0.0")
}

func (f *fixture) rawPost(t testing.TB, path string, body any) *http.Response {
	t.Helper()
	data, _ := json.Marshal(body)
	resp, err := f.hc.Post(f.url+path, "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestChallengeTableMemory measures, roughly, what a full table of the
// default size costs (logged; a bound on the table is what the service
// relies on, not this number).
func TestChallengeTableMemory(t *testing.T) {
	f := newFixture(t, nil)
	tab := newChallengeTable(DefaultMaxChallenges)
	now := f.clock.Now()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range DefaultMaxChallenges + 10 {
		c, err := f.srv.newChallenge(modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: f.cam1.Recipient}, now)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := tab.add(c, now); ok != (i < DefaultMaxChallenges) {
			t.Fatalf("add %d: %v", i, ok)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d outstanding challenges: about %d KiB (%d bytes each)", tab.len(), (after.HeapAlloc-before.HeapAlloc)>>10, (after.HeapAlloc-before.HeapAlloc)/uint64(tab.len()))
	tab.sweep(now.Add(DefaultChallengeTTL))
	if tab.len() != 0 || len(tab.queue) != 0 {
		t.Fatalf("after expiry: %d outstanding, queue %d", tab.len(), len(tab.queue))
	}
}

func TestParseRate(t *testing.T) {
	r, err := ParseRate("10/1m", 5)
	if err != nil || r != (Rate{10, time.Minute, 5}) {
		t.Fatalf("%v %v", r, err)
	}
	for _, bad := range []string{"10", "0/1m", "-1/1s", "10/0s", "10/x", "x/1s"} {
		if _, err := ParseRate(bad, 5); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := ParseRate("10/1m", 0); err == nil {
		t.Error("burst 0 accepted")
	}
}

// TestRateSpecRoundTrips: the default of a rate flag (Spec) is what
// ParseRate reads back.
func TestRateSpecRoundTrips(t *testing.T) {
	for r, want := range map[Rate]string{DefaultDeviceRate: "10/1m", DefaultGlobalRate: "200/1s", {3, 90 * time.Minute, 1}: "3/1h30m", {1, time.Hour, 1}: "1/1h", {5, 90 * time.Second, 2}: "5/1m30s", {7, 1500 * time.Millisecond, 1}: "7/1.5s"} {
		if got := r.Spec(); got != want {
			t.Errorf("%v.Spec() = %q, want %q", r, got, want)
		}
		if back, err := ParseRate(r.Spec(), r.Burst); err != nil || back != r {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", r.Spec(), back, err, r)
		}
	}
}

// brokenSink is an audit log on a full disk.
type brokenSink struct{}

func (brokenSink) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }
func (brokenSink) Sync() error               { return errors.New("no space left on device") }

// TestNoReleaseWithoutAuditRecord: when the audit log cannot be written,
// no challenge and no key leaves the service (500), and the service
// still answers.
func TestNoReleaseWithoutAuditRecord(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Audit = brokenSink{} })
	st, body, code := f.post(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: f.cam1.Recipient})
	if st != http.StatusInternalServerError || code != OutcomeInternal || bytes.Contains(body, []byte("challenge_id")) {
		t.Fatalf("challenge with a broken audit log: %d %s %q", st, code, body)
	}
	// A challenge issued while the log worked, answered once it broke.
	g := newFixture(t, nil)
	c := g.challenge(t, g.cam1, "det", "1.0.0")
	g.srv.audit.sink = brokenSink{}
	st, body, code = g.post(t, "/v1/key", prove(t, c, g.cam1, g.cam1, "det", "1.0.0"))
	if st != http.StatusInternalServerError || code != OutcomeInternal || bytes.Contains(body, []byte("age-encryption.org")) {
		t.Fatalf("key with a broken audit log: %d %s", st, code)
	}
}
