package rootkeys

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func newKey(t *testing.T) (*metadata.Key, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := metadata.KeyFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	id, err := k.ID()
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

// rootWith is root v1 with one key per top-level role.
func rootWith(t *testing.T) (*metadata.Metadata[metadata.RootType], map[string]string) {
	t.Helper()
	r := metadata.Root(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	ids := map[string]string{}
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		k, id := newKey(t)
		if err := r.Signed.AddKey(k, role); err != nil {
			t.Fatal(err)
		}
		ids[role] = id
	}
	return r, ids
}

// TestNext: a rotation replaces a role's key, bumps the version, sets
// the expiry, drops the unused key and leaves cur as it was.
func TestNext(t *testing.T) {
	cur, ids := rootWith(t)
	before, _ := cur.ToBytes(false)
	fresh, freshID := newKey(t)
	exp := time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)
	nr, err := Next(cur, Change{Role: metadata.TIMESTAMP, AddKeys: []*metadata.Key{fresh}, RemoveKeys: []string{strings.ToUpper(ids[metadata.TIMESTAMP][:8])}}, exp)
	if err != nil {
		t.Fatal(err)
	}
	if nr.Signed.Version != 2 || !nr.Signed.Expires.Equal(exp) || len(nr.Signatures) != 0 {
		t.Fatalf("root v%d expires %s, %d signatures", nr.Signed.Version, nr.Signed.Expires, len(nr.Signatures))
	}
	if got := nr.Signed.Roles[metadata.TIMESTAMP].KeyIDs; !reflect.DeepEqual(got, []string{freshID}) {
		t.Errorf("timestamp keys %v", got)
	}
	if _, ok := nr.Signed.Keys[ids[metadata.TIMESTAMP]]; ok || len(nr.Signed.Keys) != 4 {
		t.Errorf("keys after rotation: %d, old timestamp key kept %v", len(nr.Signed.Keys), ok)
	}
	if after, _ := cur.ToBytes(false); string(after) != string(before) {
		t.Error("Next changed cur")
	}
	// Holders: the old root keys, then the new ones.
	nr2, err := Next(nr, Change{Role: metadata.ROOT, AddKeys: []*metadata.Key{mustKey(t)}, Threshold: 2}, exp)
	if err != nil {
		t.Fatal(err)
	}
	order := SigningOrder(nr, nr2)
	if len(order) != 2 || order[0] != ids[metadata.ROOT] || nr2.Signed.Roles[metadata.ROOT].Threshold != 2 {
		t.Errorf("signing order %v", order)
	}
}

func mustKey(t *testing.T) *metadata.Key {
	k, _ := newKey(t)
	return k
}

func TestNextRefusals(t *testing.T) {
	cur, ids := rootWith(t)
	exp := time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		change Change
		want   string
	}{
		{Change{Role: metadata.TARGETS, RemoveKeys: []string{"abc"}}, `key ID "abc": give at least 8 hex digits`},
		{Change{Role: metadata.TARGETS, RemoveKeys: []string{ids[metadata.SNAPSHOT]}}, "is not a targets key (its keys: " + ids[metadata.TARGETS][:8] + ")"},
		{Change{Role: metadata.TARGETS, RemoveKeys: []string{ids[metadata.TARGETS]}}, "targets would have no key left"},
		{Change{Role: metadata.TARGETS, Threshold: 2}, "targets threshold 2 is more than its 1 key(s)"},
		{Change{Role: metadata.TARGETS, Threshold: -1}, "threshold -1"},
		{Change{Role: metadata.TARGETS, AddKeys: []*metadata.Key{cur.Signed.Keys[ids[metadata.TARGETS]]}}, "is already a targets key"},
		{Change{Role: metadata.TARGETS, AddKeys: []*metadata.Key{cur.Signed.Keys[ids[metadata.SNAPSHOT]]}}, "is a snapshot key: give each role keys of its own"},
		{Change{Role: metadata.TARGETS, AddKeys: []*metadata.Key{{Type: "ed25519", Scheme: "ed25519", Value: metadata.KeyVal{PublicKey: "00"}}}}, "key to add"},
	} {
		_, err := Next(cur, c.change, exp)
		if !errors.Is(err, ErrRotation) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.change, err, c.want)
		}
	}
	if _, err := Next(cur, Change{Role: "mirror"}, exp); err == nil {
		t.Error("a role the root does not have")
	}
}
