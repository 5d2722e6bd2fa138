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

// FuzzRequest posts arbitrary bodies to both endpoints: the service never
// panics, answers every request with a known status and a refusal body
// (or a challenge), and never releases a key (no body can carry a valid
// proof).
func FuzzRequest(f *testing.F) {
	fx := newFixture(f, func(c *Config) {
		c.DeviceRate = Rate{Events: 1 << 30, Per: time.Second, Burst: 1 << 30}
		c.GlobalRate = c.DeviceRate
		c.Audit = nil
	})
	for _, s := range []string{
		`{"model_id":"det","version":"1.0.0","device":"` + fx.cam1.Recipient + `"}`,
		`{"challenge_id":"AAAAAAAAAAAAAAAAAAAAAA==","model_id":"det","version":"1.0.0","device":"` + fx.cam1.Recipient + `","proof":"AAAA"}`,
		`{"model_id":"det","version":"1.0.0+b\n","device":"age1tag1"}`,
		`[[[[`, `{}`, ``,
	} {
		f.Add(false, []byte(s))
		f.Add(true, []byte(s))
	}
	f.Fuzz(func(t *testing.T, key bool, body []byte) {
		path := "/v1/challenge"
		if key {
			path = "/v1/key"
		}
		fx.clock.Advance(DefaultChallengeTTL) // challenges of earlier inputs expire: the table never fills
		w := httptest.NewRecorder()
		fx.srv.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		switch w.Code {
		case http.StatusOK:
			var c modelcrypt.Challenge
			if key || json.Unmarshal(w.Body.Bytes(), &c) != nil || c.ChallengeID == "" {
				t.Fatalf("%s answered 200 with %q", path, w.Body.Bytes())
			}
		case 400, 403, 404, 413:
			var r modelcrypt.Refusal
			if json.Unmarshal(w.Body.Bytes(), &r) != nil || r.Code == "" {
				t.Fatalf("refusal body %q", w.Body.Bytes())
			}
		default:
			t.Fatalf("%s: status %d for %q", path, w.Code, body)
		}
	})
}
