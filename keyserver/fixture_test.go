package keyserver

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/contentkeys"
	"github.com/edgetuf/edgetuf/internal/modelcrypttest"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
)

// clock is an injected clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memKeys is a content key store in memory.
type memKeys map[string]*modelcrypt.ContentKey

func (m memKeys) Get(modelID, version string) (*modelcrypt.ContentKey, error) {
	if k := m[modelID+"@"+version]; k != nil {
		return k, nil
	}
	return nil, contentkeys.ErrNotFound
}

// device is a device key (software P-256) and its recipient.
type device = *modelcrypttest.DeviceKey

func newDevice(t testing.TB) device { return modelcrypttest.NewDeviceKey(t) }

// fixture is a repository that publishes det 1.0.0 (delivery keyserver)
// and det 2.0.0 (delivery device), a key service over it on 127.0.0.1,
// two enrolled devices (cam1, cam2), and an audit log file.
type fixture struct {
	srv                      *Server
	repo                     *testrepo.Repo
	url                      string
	hc                       *http.Client
	clock                    *clock
	dir                      string
	devicesFile, revokedFile string
	auditFile                string
	keys                     memKeys
	key                      *modelcrypt.ContentKey // det 1.0.0's
	cam1, cam2               device
}

func publishEncrypted(t testing.TB, r *testrepo.Repo, modelID, version, delivery string) *modelcrypt.ContentKey {
	t.Helper()
	ck := modelcrypttest.NewContentKey(t)
	r.Publish(t, modelID, version, map[string][]byte{"model.bin": []byte(version)}, targets.Compat{})
	e := targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: ck.Recipient(), Delivery: delivery}
	if err := testrepo.ForgeEncryptedDir(r.Dir, modelID, version, e, r.Signers(t)); err != nil {
		t.Fatal(err)
	}
	return ck
}

func newFixture(t testing.TB, edit func(*Config)) *fixture {
	t.Helper()
	r := testrepo.New(t)
	f := &fixture{repo: r, clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, dir: t.TempDir(), cam1: newDevice(t), cam2: newDevice(t)}
	f.key = publishEncrypted(t, r, "det", "1.0.0", targets.DeliveryKeyServer)
	other := publishEncrypted(t, r, "det", "2.0.0", targets.DeliveryDevice)
	f.keys = memKeys{"det@1.0.0": f.key, "det@2.0.0": other}
	f.devicesFile = filepath.Join(f.dir, "devices.txt")
	f.revokedFile = filepath.Join(f.dir, "revoked.txt")
	f.auditFile = filepath.Join(f.dir, "audit.log")
	writeFile(t, f.devicesFile, "# test fleet\n"+f.cam1.Recipient+" cam1\n"+f.cam2.Recipient+" cam2\n")
	writeFile(t, f.revokedFile, "")
	audit, err := os.OpenFile(f.auditFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { audit.Close() })
	cfg := Config{RepoDir: r.Dir, Keys: f.keys, DevicesFile: f.devicesFile, RevokedFile: f.revokedFile, Audit: audit, Now: f.clock.Now}
	if edit != nil {
		edit(&cfg)
	}
	if f.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(f.srv)
	t.Cleanup(ts.Close)
	f.url, f.hc = ts.URL, ts.Client()
	return f
}

func writeFile(t testing.TB, name, s string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// post sends body (JSON-encoded unless it is []byte) and returns the
// status, the body, and the refusal code if the body is one.
func (f *fixture) post(t testing.TB, path string, body any) (int, []byte, string) {
	t.Helper()
	data, ok := body.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := f.hc.Post(f.url+path, "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var ref modelcrypt.Refusal
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(out, &ref); err != nil {
			t.Fatalf("%s: status %d, body %q is not a refusal", path, resp.StatusCode, out)
		}
	}
	return resp.StatusCode, out, ref.Code
}

// challenge asks for a challenge for dev and fails the test unless it
// gets one.
func (f *fixture) challenge(t testing.TB, dev device, modelID, version string) modelcrypt.Challenge {
	t.Helper()
	st, body, code := f.post(t, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: modelID, Version: version, Device: dev.Recipient})
	if st != http.StatusOK {
		t.Fatalf("challenge: %d %s", st, code)
	}
	var c modelcrypt.Challenge
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// prove is the device's answer to c, computed with key (which should be
// the one of claimed).
func prove(t testing.TB, c modelcrypt.Challenge, key device, claimed device, modelID, version string) modelcrypt.KeyRequest {
	t.Helper()
	sk, err := base64.StdEncoding.DecodeString(c.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ecdh.P256().NewPublicKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	nonce, _ := base64.StdEncoding.DecodeString(c.Nonce)
	shared, err := key.ECDH(pub)
	if err != nil {
		t.Fatal(err)
	}
	p := modelcrypt.Proof(shared, nonce, c.ChallengeID, modelID, version, claimed.Recipient)
	return modelcrypt.KeyRequest{ChallengeID: c.ChallengeID, ModelID: modelID, Version: version, Device: claimed.Recipient, Proof: base64.StdEncoding.EncodeToString(p)}
}

// auditLines reads the audit log.
func (f *fixture) auditLines(t testing.TB) []AuditRecord {
	t.Helper()
	data, err := os.ReadFile(f.auditFile)
	if err != nil {
		t.Fatal(err)
	}
	var out []AuditRecord
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		var rec AuditRecord
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

func outcomes(recs []AuditRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Outcome)
	}
	return out
}
