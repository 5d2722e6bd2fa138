package repo

import (
	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/keys"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/spf13/afero"
)

// The staged threshold-signing format moved to package staged; these
// names remain until cmd/mrepo calls it directly.

type (
	SignOptions     = staged.SignOptions
	SignResult      = staged.SignResult
	MergeResult     = staged.MergeResult
	StagedInfo      = staged.Info
	SignatureStatus = staged.SignatureStatus
	KeyGroup        = staged.KeyGroup
)

func CheckTopLevelRole(role string) error { return staged.CheckTopLevelRole(role) }

func SignStagedFile(fs afero.Fs, path, role string, kr keys.Keyring, opts SignOptions) (*SignResult, error) {
	return staged.SignFile(fs, path, role, kr, opts)
}

func MergeSignaturesFile(fs afero.Fs, path, role string, others map[string][]byte) (*MergeResult, error) {
	return staged.MergeFile(fs, path, role, others)
}

// The pure delegation rules moved to package delegation; these names
// remain until cmd/mrepo calls it directly.

type DelegateOptions = delegation.Options

const MaxBins = delegation.MaxBins

func ValidateDelegateOptions(o DelegateOptions) error { return o.Validate() }
func CheckRoleName(name string) error                 { return delegation.CheckRoleName(name) }
func CheckPathPattern(p string) error                 { return delegation.CheckPathPattern(p) }
func ModelPatterns(id string) ([]string, error)       { return delegation.ModelPatterns(id) }
