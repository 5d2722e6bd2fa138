// Package tpmdev opens a TPM 2.0: the kernel's resource manager device
// (/dev/tpmrm0) on a device, or a software TPM's (swtpm) Unix socket in
// tests and development. It is shared by the TPM anti-rollback store and
// the TPM device-key backend, so both accept the same PATH.
package tpmdev

import (
	"errors"
	"fmt"
	"os"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"
)

// DefaultPath is the kernel's TPM resource manager: it lets several
// processes use the TPM and flushes what a process leaves loaded.
const DefaultPath = "/dev/tpmrm0"

// ErrNotTPM marks a path that is neither a character device nor a Unix
// socket.
var ErrNotTPM = errors.New("not a TPM device or socket")

// Open opens the TPM at path: a character device (/dev/tpmrm0, /dev/tpm0)
// or a Unix socket that speaks raw TPM 2.0 commands (swtpm socket
// --server type=unixio).
func Open(path string) (transport.TPMCloser, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("TPM %s: %w", path, err)
	}
	switch {
	case fi.Mode()&os.ModeSocket != 0:
		return linuxudstpm.Open(path)
	case fi.Mode()&os.ModeCharDevice != 0:
		return linuxtpm.Open(path)
	}
	return nil, fmt.Errorf("TPM %s: %w (mode %s)", path, ErrNotTPM, fi.Mode())
}
