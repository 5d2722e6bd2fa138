package pkcs11tok

import (
	"strings"
	"testing"
)

// FuzzParse: a pkcs11: URI is read from a device's client.json (a device
// key reference) or a key directory's NAME.ref: untrusted bytes. Parsing
// never panics; an accepted URI names a token and a key, carries no PIN,
// and has an absolute module path and PIN source when it has them.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=edgetuf;object=targets-1?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/edgetuf/pin",
		"pkcs11:serial=1234;id=%01%02?pin-source=/etc/pin",
		"pkcs11:slot-id=3;object=k;type=private;x-vendor=1",
		"PKCS11:token=t;object=k?pin-value=1234",
		"pkcs11:token=a%;object=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			return
		}
		if u.Token == "" && u.Serial == "" && u.SlotID == nil || u.Object == "" && u.ID == nil {
			t.Fatalf("%q accepted without a token or a key: %+v", s, u)
		}
		for _, attr := range strings.FieldsFunc(s[len("pkcs11:"):], func(r rune) bool { return r == ';' || r == '?' || r == '&' }) {
			if name, _, _ := strings.Cut(attr, "="); name == "pin-value" {
				t.Fatalf("%q accepted with a pin-value", s)
			}
		}
		if u.ModulePath != "" && !strings.HasPrefix(u.ModulePath, "/") || u.PINSource != "" && !strings.HasPrefix(u.PINSource, "/") {
			t.Fatalf("%q: relative module or PIN path: %+v", s, u)
		}
		_ = u.Describe()
	})
}
