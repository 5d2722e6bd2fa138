package devicekey

import (
	"errors"
	"sync"
)

// PKCS11 is the PKCS#11 backend: package devicekey/pkcs11 registers it
// (RegisterPKCS11) when a program imports it, so that a program that
// does not (mclient built without the edgetuf_pkcs11 tag, every
// CGO_ENABLED=0 build) links no cgo and says so.
type PKCS11 interface {
	Open(uri string) (Key, error)
	Create(uri string, replace bool) (Key, error)
}

var p11 struct {
	sync.Mutex
	b PKCS11
}

// RegisterPKCS11 installs the PKCS#11 backend.
func RegisterPKCS11(b PKCS11) {
	p11.Lock()
	defer p11.Unlock()
	p11.b = b
}

// ErrPKCS11NotBuiltIn: this program has no PKCS#11 backend.
var ErrPKCS11NotBuiltIn = errors.New("PKCS#11 device keys are not built into this program (mclient needs cgo and the edgetuf_pkcs11 build tag: CGO_ENABLED=1 go build -tags edgetuf_pkcs11 ./cmd/mclient)")

func pkcs11Backend() PKCS11 {
	p11.Lock()
	defer p11.Unlock()
	if p11.b == nil {
		return notBuiltIn{}
	}
	return p11.b
}

type notBuiltIn struct{}

func (notBuiltIn) Open(string) (Key, error)         { return nil, ErrPKCS11NotBuiltIn }
func (notBuiltIn) Create(string, bool) (Key, error) { return nil, ErrPKCS11NotBuiltIn }
