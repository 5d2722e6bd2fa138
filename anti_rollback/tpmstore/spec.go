package tpmstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/edgetuf/edgetuf/anti_rollback"
)

// The store kinds a state directory's configuration may name
// (client.json "anti_rollback", mclient init --anti-rollback): "file"
// (or empty: the default) and "tpm:PATH".
const (
	SpecFile      = "file"
	SpecTPMPrefix = "tpm:"
)

// ParseSpec checks a store spec and returns the TPM path it names ("" for
// the file store).
func ParseSpec(spec string) (tpmPath string, err error) {
	switch {
	case spec == "" || spec == SpecFile:
		return "", nil
	case strings.HasPrefix(spec, SpecTPMPrefix):
		p := strings.TrimPrefix(spec, SpecTPMPrefix)
		if p == "" || !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\x00\n") {
			return "", errors.New("anti-rollback store tpm:PATH needs an absolute PATH (a TPM device such as /dev/tpmrm0, or a swtpm socket)")
		}
		return p, nil
	}
	return "", fmt.Errorf("anti-rollback store %q: want file or tpm:PATH", spec)
}

// OpenSpec returns the store spec names, with its version floors in the
// file store in dir.
func OpenSpec(spec, dir string) (anti_rollback.Store, error) {
	p, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	if p == "" {
		return anti_rollback.NewFileStore(dir), nil
	}
	return New(p, dir), nil
}
