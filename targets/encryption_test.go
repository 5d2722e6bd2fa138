package targets

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// testRecipient is a content key recipient (test-only; its key is not kept).
const testRecipient = "age1gc6vpl4alag8d5e95m9quv2pxs8ctxcvcnd9rmtqp9tkg84skyvql3frmv"

func encryptedJSON(scheme, recipient, delivery string) string {
	return `"encrypted":{"scheme":"` + scheme + `","recipient":"` + recipient + `","delivery":"` + delivery + `"}`
}

const plaintextJSON = `"plaintext":{"length":10,"sha256":"` + hexA + `"}`

// TestParseCustomEncryption: the encrypted field belongs to a manifest
// target and the plaintext field to payload and delta targets, each
// valid and listed in critical; anything else is refused.
func TestParseCustomEncryption(t *testing.T) {
	t.Parallel()
	const (
		mpath = "models/det/1.0.0/manifest.json"
		ppath = "models/det/1.0.0/w.bin"
		dpath = "models/det/1.0.0/deltas/0.9.0/w.bin"
	)
	manifest := func(extra string) string {
		return `{"kind":"model-manifest","schema_version":1,"model_id":"det","version":"1.0.0","build_timestamp":"2024-01-01T00:00:00Z","files":["w.bin"],` + extra + `}`
	}
	payload := func(extra string) string {
		return `{"kind":"model-payload","schema_version":1,"model_id":"det","version":"1.0.0","file":"w.bin",` + extra + `}`
	}
	delta := func(extra string) string {
		return `{"kind":"model-delta","schema_version":1,"model_id":"det","version":"1.0.0","file":"w.bin","base_version":"0.9.0",` + extra + `}`
	}
	enc := encryptedJSON(EncryptionScheme, testRecipient, DeliveryFleet)
	crit := func(f string) string { return `,"critical":["` + f + `"]` }
	for _, c := range []struct {
		name, path, data, want string
	}{
		{"encrypted manifest", mpath, manifest(enc + crit("encrypted")), ""},
		{"each delivery", mpath, manifest(encryptedJSON(EncryptionScheme, testRecipient, DeliveryKeyServer) + crit("encrypted")), ""},
		{"plaintext payload", ppath, payload(plaintextJSON + crit("plaintext")), ""},
		{"plaintext delta", dpath, delta(plaintextJSON + crit("plaintext")), ""},
		{"encrypted not critical", mpath, manifest(enc), "encrypted is present but not listed in critical"},
		{"plaintext not critical", ppath, payload(plaintextJSON), "plaintext is present but not listed in critical"},
		{"plaintext not critical on a delta", dpath, delta(plaintextJSON + crit("variant")), "plaintext is present but not listed in critical"},
		{"unknown scheme", mpath, manifest(encryptedJSON("age-v2", testRecipient, DeliveryFleet) + crit("encrypted")), `scheme "age-v2" is not supported`},
		{"unknown delivery", mpath, manifest(encryptedJSON(EncryptionScheme, testRecipient, "cdn") + crit("encrypted")), `unknown delivery "cdn"`},
		{"no delivery", mpath, manifest(encryptedJSON(EncryptionScheme, testRecipient, "") + crit("encrypted")), `unknown delivery ""`},
		{"device recipient", mpath, manifest(encryptedJSON(EncryptionScheme, "age1tag1qwyma6qs55zuyavv6k5d3zk8urjdggu59yf6pk2qeqxyllvnmds4xa4uk7q", DeliveryFleet) + crit("encrypted")), "not an age X25519 recipient"},
		{"upper-case recipient", mpath, manifest(encryptedJSON(EncryptionScheme, strings.ToUpper(testRecipient), DeliveryFleet) + crit("encrypted")), "not an age X25519 recipient"},
		{"encrypted on a payload", ppath, payload(enc + crit("encrypted")), "encrypted belongs to the manifest target"},
		{"encrypted on a delta", dpath, delta(enc + crit("encrypted")), "encrypted belongs to the manifest target"},
		{"plaintext on a manifest", mpath, manifest(plaintextJSON + crit("plaintext")), "plaintext belongs to payload and delta targets"},
		{"plaintext negative length", ppath, payload(`"plaintext":{"length":-1,"sha256":"` + hexA + `"}` + crit("plaintext")), "out of range"},
		{"plaintext over 1 TiB", ppath, payload(`"plaintext":{"length":1099511627777,"sha256":"` + hexA + `"}` + crit("plaintext")), "out of range"},
		{"plaintext bad hash", ppath, payload(`"plaintext":{"length":1,"sha256":"sha256:` + hexA + `"}` + crit("plaintext")), "64 lowercase hex"},
		// Unknown fields are tolerated in custom metadata, as everywhere in it.
		{"plaintext unknown field tolerated", ppath, payload(`"plaintext":{"length":1,"sha256":"` + hexA + `","md5":"x"}` + crit("plaintext")), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseCustom(c.path, raw(c.data))
			if c.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if (got.Encrypted != nil) == (got.Plaintext != nil) {
					t.Errorf("parsed %+v", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			if !errors.Is(err, ErrCustom) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want ErrCustom mentioning %q", err, c.want)
			}
		})
	}
}

// TestManifestEncryption: a published manifest carries encrypted only
// with critical; a bundle manifest never does; ManifestCustom copies it.
func TestManifestEncryption(t *testing.T) {
	t.Parallel()
	m := publishedManifest()
	m.Encrypted = &Encryption{Scheme: EncryptionScheme, Recipient: testRecipient, Delivery: DeliveryDevice}
	if _, err := m.MarshalPublished(); err == nil || !strings.Contains(err.Error(), "not listed in critical") {
		t.Errorf("encrypted without critical: %v", err)
	}
	m.Critical = []string{FieldEncrypted}
	b, err := m.MarshalPublished()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePublishedManifest(b)
	if err != nil || *got.Encrypted != *m.Encrypted {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	c := ManifestCustom(got)
	if c.Encrypted == nil || *c.Encrypted != *m.Encrypted || !slices.Equal(c.Critical, []string{FieldEncrypted}) {
		t.Errorf("ManifestCustom %+v", c)
	}
	if _, err := ParseCustom(ManifestPath(got.ModelID, got.Version), mustMarshal(t, c)); err != nil {
		t.Errorf("its custom metadata: %v", err)
	}
	var asMap map[string]any
	json.Unmarshal(b, &asMap)
	asMap["encrypted"].(map[string]any)["scheme"] = "rot13"
	bad, _ := json.Marshal(asMap)
	if _, err := ParsePublishedManifest(bad); !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), "rot13") {
		t.Errorf("unknown scheme: %v", err)
	}
	if _, err := ParseBundleManifest(bundleJSON(t, "encrypted", m.Encrypted)); !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), "not in bundle manifests") {
		t.Errorf("bundle manifest with encrypted: %v", err)
	}
}

func mustMarshal(t *testing.T, c *Custom) *json.RawMessage {
	t.Helper()
	r, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return r
}
