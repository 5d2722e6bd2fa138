//go:build cgo

package keys_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/keyringtest"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestPKCS11Conformance: keys generated in a SoftHSM2 token, referenced
// from a key directory. One token for the whole suite: this process loads
// the module once, with the token's configuration.
func TestPKCS11Conformance(t *testing.T) {
	h := backendtest.InProcessSoftHSM(t, "edgetuf-suite")
	var n atomic.Int32
	keyringtest.Run(t, keyringtest.Backend{
		Types: bothTypes(),
		New: func(t *testing.T, typ keys.Type) (keys.Keyring, *metadata.Key) {
			return refDir(t, h.URI(fmt.Sprintf("suite-%d", n.Add(1))), typ)
		},
		Reopen: reopenDir,
	})
}
