package keyserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/modelcrypt"
)

// serve runs one request through the handler, without a network.
func (f *fixture) serve(b *testing.B, path string, body any) *httptest.ResponseRecorder {
	data, _ := json.Marshal(body)
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(data))
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, req)
	return w
}

// BenchmarkRelease: one key release (a challenge, the device's proof, the
// key request, the envelope, two audit lines synced to disk), the
// device's ECDH included; rate limits out of the way.
// Without an audit log it is the crypto alone.
func BenchmarkRelease(b *testing.B) {
	b.Run("audit-synced", func(b *testing.B) { benchRelease(b, true) })
	b.Run("no-audit-log", func(b *testing.B) { benchRelease(b, false) })
}

func benchRelease(b *testing.B, audit bool) {
	f := newFixture(b, func(c *Config) {
		c.DeviceRate = Rate{Events: 1 << 30, Per: time.Second, Burst: 1 << 30}
		c.GlobalRate = c.DeviceRate
		if !audit {
			c.Audit = nil
		}
	})
	b.ResetTimer()
	for b.Loop() {
		w := f.serve(b, "/v1/challenge", modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: f.cam1.Recipient})
		var c modelcrypt.Challenge
		if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil {
			b.Fatal(err)
		}
		if w = f.serve(b, "/v1/key", prove(b, c, f.cam1, f.cam1, "det", "1.0.0")); w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkFloodRefused: what a request over the global rate costs the
// service (a 429 and an unsynced audit line).
func BenchmarkFloodRefused(b *testing.B) {
	f := newFixture(b, func(c *Config) { c.GlobalRate = Rate{Events: 1, Per: time.Hour, Burst: 1} })
	req := modelcrypt.ChallengeRequest{ModelID: "det", Version: "1.0.0", Device: f.cam1.Recipient}
	f.serve(b, "/v1/challenge", req)
	b.ResetTimer()
	for b.Loop() {
		if w := f.serve(b, "/v1/challenge", req); w.Code != http.StatusTooManyRequests {
			b.Fatal(w.Code)
		}
	}
}
