package keyaccess

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/modelcrypt"
)

// validChallenge is a well-formed challenge answer.
func validChallenge(t testing.TB) string {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(modelcrypt.Challenge{
		ChallengeID: base64.StdEncoding.EncodeToString(make([]byte, modelcrypt.ChallengeIDSize)),
		ServerKey:   base64.StdEncoding.EncodeToString(k.PublicKey().Bytes()),
		Nonce:       base64.StdEncoding.EncodeToString(make([]byte, modelcrypt.NonceSize)),
		Expires:     "2026-03-01T12:01:00Z",
	})
	return string(b)
}

func TestParseChallenge(t *testing.T) {
	good := validChallenge(t)
	if _, err := parseChallenge([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"short id":      strings.Replace(good, `"challenge_id":"AAAA`, `"challenge_id":"`, 1),
		"no expiry":     strings.Replace(good, `2026-03-01T12:01:00Z`, `soon`, 1),
		"trailing":      good + "{}",
		"unpadded id":   strings.Replace(good, `AAAAAAAAAAAAAAAAAAAAAA==`, `AAAAAAAAAAAAAAAAAAAAAA`, 1),
		"missing nonce": strings.Replace(good, `"nonce"`, `"nonse"`, 1),
	} {
		if _, err := parseChallenge([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseChallenge(f *testing.F) {
	f.Add([]byte(validChallenge(f)))
	f.Add([]byte(`{"challenge_id":"","server_key":"","nonce":"","expires":""}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseChallenge(data)
		if err != nil {
			return
		}
		if len(c.nonce) != modelcrypt.NonceSize || c.serverKey == nil || c.serverKey.Curve() != ecdh.P256() {
			t.Fatalf("accepted a bad challenge: %+v", c)
		}
		if id, err := base64.StdEncoding.DecodeString(c.id); err != nil || len(id) != modelcrypt.ChallengeIDSize {
			t.Fatalf("accepted challenge_id %q", c.id)
		}
	})
}

func FuzzParseRefusal(f *testing.F) {
	for _, s := range []string{`{"code":"DEVICE_REVOKED","message":"device x is not allowed keys"}`, `{"code":""}`, `<html>`, `{"code":"A\nB","message":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := parseRefusal(data)
		if strings.ContainsAny(s, "\n\r\x00") || len(s) > 203 {
			t.Fatalf("parseRefusal = %q", s)
		}
	})
}
