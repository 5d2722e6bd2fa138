//go:build !cgo

package pkcs11key

import (
	"errors"

	"github.com/edgetuf/edgetuf/devicekey"
)

// Supported: this build cannot use PKCS#11 device keys (no cgo).
const Supported = false

var errNoCgo = errors.New("PKCS#11 device keys are not built into this program: it was built without cgo (CGO_ENABLED=1 is needed to load a PKCS#11 module)")

func init() { devicekey.RegisterPKCS11(backend{}) }

type backend struct{}

func (backend) Open(string) (devicekey.Key, error)         { return nil, errNoCgo }
func (backend) Create(string, bool) (devicekey.Key, error) { return nil, errNoCgo }
