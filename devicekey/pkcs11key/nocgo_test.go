//go:build !cgo

package pkcs11key

import (
	"errors"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/devicekey"
)

// TestNoCgo: without cgo, a pkcs11: device key is DEVICE_KEY_UNAVAILABLE
// and the message says why.
func TestNoCgo(t *testing.T) {
	_, _, err := devicekey.Create("pkcs11:token=t;object=k", t.TempDir(), false)
	var e *devicekey.Error
	if !errors.As(err, &e) || e.Code != devicekey.CodeUnavailable || !strings.Contains(err.Error(), "built without cgo") || Supported {
		t.Fatalf("error %v", err)
	}
}
