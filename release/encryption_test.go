package release

import (
	"errors"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
)

func TestEncryptCheck(t *testing.T) {
	var none *Encrypt
	if err := none.Check(); err != nil {
		t.Errorf("no request: %v", err)
	}
	for _, d := range []string{targets.DeliveryDevice, targets.DeliveryKeyServer} {
		if err := (&Encrypt{Delivery: d}).Check(); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	for _, c := range []struct {
		e    Encrypt
		want string
	}{
		{Encrypt{}, "encryption needs a delivery: fleet, device or keyserver"},
		{Encrypt{Delivery: "cdn"}, `unknown delivery "cdn"`},
		{Encrypt{Delivery: targets.DeliveryFleet}, "needs the fleet key's recipient"},
	} {
		if err := c.e.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.e, err, c.want)
		}
	}
}

// memStore is a KeyStore in memory: keys by "model@version"; wrong makes
// every stored key fail to open, as a wrong passphrase does.
type memStore struct {
	keys  map[string]*modelcrypt.ContentKey
	wrong bool
}

var errNotFound = errors.New("no content key stored")

func (m *memStore) Get(modelID, version string) (*modelcrypt.ContentKey, error) {
	k := m.keys[modelID+"@"+version]
	switch {
	case k == nil:
		return nil, errNotFound
	case m.wrong:
		return nil, errors.New("wrong passphrase")
	}
	return k, nil
}

func (m *memStore) ForVersion(modelID, version, previous string) (*modelcrypt.ContentKey, error) {
	if k, err := m.Get(modelID, version); err == nil || !errors.Is(err, errNotFound) {
		return k, err
	}
	k, err := modelcrypt.NewContentKey()
	m.keys[modelID+"@"+version] = k
	return k, err
}

// TestForPublication: the store is opened only when a key is needed, and
// every key a publication needs is found before anything is stored.
func TestForPublication(t *testing.T) {
	m := &targets.Manifest{ModelID: "det", Version: "3.0.0"}
	store := &memStore{keys: map[string]*modelcrypt.ContentKey{}}
	calls := 0
	open := func() (KeyStore, error) { calls++; return store, nil }
	custom := func(version string, encrypted bool) *targets.Custom {
		c := &targets.Custom{Kind: targets.KindManifest, ModelID: "det", Version: version}
		if encrypted {
			c.Encrypted = &targets.Encryption{Scheme: targets.EncryptionScheme, Delivery: targets.DeliveryDevice}
		}
		return c
	}
	plainBase := []Base{{Version: "1.0.0", Custom: custom("1.0.0", false)}}
	encBase := []Base{{Version: "2.0.0", Custom: custom("2.0.0", true)}}
	p, err := ForPublication(open, nil, m, plainBase, false)
	if err != nil || p.Key != nil || len(p.Base) != 0 || calls != 0 {
		t.Fatalf("nothing encrypted: %+v, %v, store opened %d times", p, err, calls)
	}
	if _, err := ForPublication(nil, nil, m, encBase, true); err == nil || !strings.Contains(err.Error(), "delta base 2.0.0 is encrypted: content keys: no content key store") {
		t.Errorf("no store: %v", err)
	}
	// A plaintext version never gets a (plaintext) patch from an encrypted
	// base: the patch would reveal the base. Refused before the store opens.
	if _, err := ForPublication(open, nil, m, append(plainBase, encBase...), false); !errors.Is(err, ErrDeltaBase) || !strings.Contains(err.Error(), "det 2.0.0 is encrypted and 3.0.0 is not") || calls != 0 {
		t.Errorf("plaintext version from an encrypted base: %v (store opened %d times)", err, calls)
	}
	if _, err := ForPublication(open, nil, m, encBase, true); !errors.Is(err, errNotFound) || store.keys["det@3.0.0"] != nil {
		t.Errorf("base key missing: %v (new key stored: %v)", err, store.keys["det@3.0.0"] != nil)
	}
	k2, _ := modelcrypt.NewContentKey()
	store.keys["det@2.0.0"] = k2
	calls = 0
	p, err = ForPublication(open, nil, m, append(plainBase, encBase...), true)
	if err != nil || p.Base["2.0.0"] != k2 || p.Key == nil || calls != 1 {
		t.Fatalf("%+v, %v, store opened %d times", p, err, calls)
	}
	store.wrong = true
	if _, err := ForPublication(open, nil, m, encBase, true); err == nil {
		t.Error("a wrong passphrase opened the base key")
	}
}
