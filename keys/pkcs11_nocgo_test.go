//go:build !cgo

package keys

import (
	"errors"
	"testing"

	"github.com/spf13/afero"
)

// Without cgo a PKCS#11 reference parses but cannot be opened, and says why.
func TestPKCS11WithoutCgo(t *testing.T) {
	t.Parallel()
	ref, err := ParseRef("pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		t.Fatal(err)
	}
	kd := &Dir{FS: afero.NewMemMapFs(), Path: "/keys"}
	if _, err := kd.AddRef("k", ref, ""); !errors.Is(err, errNoCgo) {
		t.Fatalf("AddRef without cgo: %v, want %v", err, errNoCgo)
	}
}
