package keyaccess

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/contentkeys"
	"github.com/edgetuf/edgetuf/internal/testrepo"
	"github.com/edgetuf/edgetuf/keyserver"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
)

// softKey is a device key in memory; fail makes its ECDH fail as a
// broken TPM would.
type softKey struct {
	priv *ecdh.PrivateKey
	fail error
}

func (k softKey) Public() *ecdh.PublicKey { return k.priv.PublicKey() }
func (k softKey) ECDH(r *ecdh.PublicKey) ([]byte, error) {
	if k.fail != nil {
		return nil, k.fail
	}
	return k.priv.ECDH(r)
}

func newKey(t *testing.T) softKey {
	t.Helper()
	p, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return softKey{priv: p}
}

func recipientOf(t *testing.T, k modelcrypt.DeviceKey) string {
	t.Helper()
	r, err := modelcrypt.Recipient(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func codeOf(err error) codes.Code { return codes.CodeOf(err) }

type oneKey struct {
	model, version string
	key            *modelcrypt.ContentKey
}

func (o oneKey) Get(m, v string) (*modelcrypt.ContentKey, error) {
	if m == o.model && v == o.version {
		return o.key, nil
	}
	return nil, contentkeys.ErrNotFound
}

// keyService runs a key service on 127.0.0.1 over a repository that
// publishes det 1.0.0 with delivery keyserver and det 2.0.0 with delivery
// device, with enrolled the given device keys; it returns its URL and
// det 1.0.0's content key.
func keyService(t *testing.T, enrolled ...modelcrypt.DeviceKey) (string, *modelcrypt.ContentKey) {
	t.Helper()
	r := testrepo.New(t)
	ck, _ := modelcrypt.NewContentKey()
	// In version order: a version older than the latest is not published.
	for _, vd := range [][2]string{{"1.0.0", targets.DeliveryKeyServer}, {"2.0.0", targets.DeliveryDevice}} {
		v, delivery := vd[0], vd[1]
		r.Publish(t, "det", v, map[string][]byte{"model.bin": []byte(v)}, targets.Compat{})
		e := targets.Encryption{Scheme: targets.EncryptionScheme, Recipient: ck.Recipient(), Delivery: delivery}
		if err := testrepo.ForgeEncryptedDir(r.Dir, "det", v, e, r.Signers(t)); err != nil {
			t.Fatal(err)
		}
	}
	var devices strings.Builder
	for _, k := range enrolled {
		devices.WriteString(recipientOf(t, k) + "\n")
	}
	df := filepath.Join(t.TempDir(), "devices")
	if err := os.WriteFile(df, []byte(devices.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := keyserver.New(keyserver.Config{RepoDir: r.Dir, Keys: oneKey{"det", "1.0.0", ck}, DevicesFile: df})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL, ck
}

// TestFromKeyServer: an enrolled device gets an envelope that opens with
// its key to the signed content key; the service's refusals are
// KEY_UNAVAILABLE naming the service's code; a device over its rate is
// NETWORK (try later); no key service configured, or a device key fault,
// is KEY_UNAVAILABLE (the fault kept as the cause).
func TestFromKeyServer(t *testing.T) {
	dev, stranger := newKey(t), newKey(t)
	url, ck := keyService(t, dev)
	f := &Fetcher{HTTP: http.DefaultClient, KeyServer: url + "/"}
	ctx := context.Background()
	env, err := f.Envelope(ctx, targets.DeliveryKeyServer, "det", "1.0.0", dev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := modelcrypt.OpenEnvelope(env, dev, "det", "1.0.0", ck.Recipient(), time.Now())
	if err != nil || got.String() != ck.String() {
		t.Fatalf("OpenEnvelope: %v", err)
	}

	for name, tc := range map[string]struct {
		version string
		key     modelcrypt.DeviceKey
		code    codes.Code
		text    string
	}{
		"unenrolled":          {"1.0.0", stranger, codes.KeyUnavailable, "HTTP 403 DEVICE_NOT_ENROLLED"},
		"delivery device":     {"2.0.0", dev, codes.KeyUnavailable, "HTTP 404 VERSION_UNKNOWN"},
		"unpublished version": {"3.0.0", dev, codes.KeyUnavailable, "HTTP 404 VERSION_UNKNOWN"},
		"device key fault":    {"1.0.0", softKey{priv: dev.priv, fail: errTPM}, codes.KeyUnavailable, "TPM gone"},
		"no key":              {"1.0.0", nil, codes.KeyUnavailable, "no key configured"},
	} {
		_, err := f.Envelope(ctx, targets.DeliveryKeyServer, "det", tc.version, tc.key)
		if codeOf(err) != tc.code || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: %v, want %s containing %q", name, err, tc.code, tc.text)
		}
	}
	if _, err := f.Envelope(ctx, targets.DeliveryKeyServer, "det", "1.0.0", softKey{priv: dev.priv, fail: errTPM}); !errors.Is(err, errTPM) {
		t.Errorf("the device key's error is not kept: %v", err)
	}
	// Past the device's burst (5 challenges; 3 spent above).
	for range 5 {
		_, err = f.Envelope(ctx, targets.DeliveryKeyServer, "det", "1.0.0", dev)
	}
	if codeOf(err) != codes.Network || !strings.Contains(err.Error(), "HTTP 429 RATE_LIMITED") {
		t.Errorf("over the rate: %v", err)
	}
	none := &Fetcher{HTTP: http.DefaultClient}
	if _, err := none.Envelope(ctx, targets.DeliveryKeyServer, "det", "1.0.0", dev); codeOf(err) != codes.KeyUnavailable {
		t.Errorf("no key service: %v", err)
	}
	if _, err := none.Envelope(ctx, "carrier-pigeon", "det", "1.0.0", dev); codeOf(err) != codes.KeyUnavailable {
		t.Errorf("unknown delivery: %v", err)
	}
}

var errTPM = errors.New("TPM gone")

// TestPublishedEnvelope: for delivery fleet and device the envelope is
// fetched from where mrepo publishes it, named by the key's recipient;
// 404 is KEY_UNAVAILABLE, 500 and 429 NETWORK, an envelope over the
// limit KEY_UNAVAILABLE, a cancelled context CANCELLED.
func TestPublishedEnvelope(t *testing.T) {
	dev := newKey(t)
	r, _ := modelcrypt.ParseRecipient(recipientOf(t, dev))
	envPath := "/targets/" + targets.EnvelopeDir("det", "1.0.0") + "/" + modelcrypt.EnvelopeName(r)
	envelope := bytes.Repeat([]byte("e"), 400)
	status, body := http.StatusOK, envelope
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != envPath || req.Method != http.MethodGet {
			http.NotFound(w, req)
			return
		}
		w.WriteHeader(status)
		w.Write(body)
	}))
	defer hs.Close()
	f := &Fetcher{HTTP: hs.Client(), TargetsURL: hs.URL + "/targets"}
	ctx := context.Background()
	for _, delivery := range []string{targets.DeliveryFleet, targets.DeliveryDevice} {
		got, err := f.Envelope(ctx, delivery, "det", "1.0.0", dev)
		if err != nil || !bytes.Equal(got, envelope) {
			t.Fatalf("%s: %v", delivery, err)
		}
	}
	if _, err := f.Envelope(ctx, targets.DeliveryFleet, "det", "1.0.0", newKey(t)); codeOf(err) != codes.KeyUnavailable || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("no envelope for this key: %v", err)
	}
	for name, tc := range map[string]struct {
		status int
		body   []byte
		code   codes.Code
	}{
		"oversized":  {200, bytes.Repeat([]byte("e"), modelcrypt.MaxEnvelopeSize+1), codes.KeyUnavailable},
		"at limit":   {200, bytes.Repeat([]byte("e"), modelcrypt.MaxEnvelopeSize), ""},
		"500":        {500, nil, codes.Network},
		"429":        {429, nil, codes.Network},
		"403":        {403, []byte("<html>AccessDenied</html>"), codes.KeyUnavailable},
		"empty body": {200, nil, ""},
	} {
		status, body = tc.status, tc.body
		_, err := f.Envelope(ctx, targets.DeliveryDevice, "det", "1.0.0", dev)
		if codeOf(err) != tc.code {
			t.Errorf("%s: %v, want %q", name, err, tc.code)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Envelope(cctx, targets.DeliveryDevice, "det", "1.0.0", dev); codeOf(err) != codes.Cancelled {
		t.Errorf("cancelled: %v", err)
	}
	// Unreachable: a port nothing listens on.
	hs.Close()
	if _, err := f.Envelope(ctx, targets.DeliveryDevice, "det", "1.0.0", dev); codeOf(err) != codes.Network {
		t.Errorf("unreachable: %v", err)
	}
	// Names that are not a model or version never make a URL.
	if _, err := f.Envelope(ctx, targets.DeliveryDevice, "../det", "1.0.0", dev); codeOf(err) != codes.KeyUnavailable {
		t.Errorf("bad model ID: %v", err)
	}
}

// TestHostileKeyServer: a server whose challenge is malformed, or that
// answers the key request with an oversized body, gives no envelope.
func TestHostileKeyServer(t *testing.T) {
	dev := newKey(t)
	var challenge, key []byte
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/v1/challenge":
			w.Write(challenge)
		case "/v1/key":
			w.Write(key)
		}
	}))
	defer hs.Close()
	f := &Fetcher{HTTP: hs.Client(), KeyServer: hs.URL}
	good := validChallenge(t)
	for name, tc := range map[string]struct{ challenge, key []byte }{
		"not JSON":                   {[]byte("<html>"), nil},
		"server key off P-256 curve": {[]byte(strings.Replace(good, `"server_key":"B`, `"server_key":"A`, 1)), nil},
		"extra field":                {[]byte(strings.Replace(good, `{`, `{"quote":"x",`, 1)), nil},
		"oversized key":              {[]byte(good), bytes.Repeat([]byte("e"), modelcrypt.MaxEnvelopeSize+1)},
	} {
		challenge, key = tc.challenge, tc.key
		if _, err := f.Envelope(context.Background(), targets.DeliveryKeyServer, "det", "1.0.0", dev); codeOf(err) != codes.KeyUnavailable {
			t.Errorf("%s: %v", name, err)
		}
	}
}
