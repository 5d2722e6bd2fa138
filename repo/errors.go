package repo

import (
	"errors"

	"github.com/edgetuf/edgetuf/delegation"
	"github.com/edgetuf/edgetuf/internal/repoconfig"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/release"
	"github.com/edgetuf/edgetuf/rootkeys"
	"github.com/edgetuf/edgetuf/staged"
	"github.com/edgetuf/edgetuf/targetstore"
)

// Errors returned by repository operations, wrapped with details. Test
// with errors.Is.
var (
	// ErrExists: init found an existing repository or key files.
	ErrExists = errors.New("refusing to overwrite")
	// ErrNotRepository: the directory is not an mrepo repository. It is
	// repoconfig.ErrNotRepository: package repoconfig reads mrepo.json.
	ErrNotRepository = repoconfig.ErrNotRepository
	// ErrVersionExists, ErrVersionNotNewer: the model version is already
	// published, or a newer one is. Package release's errors.
	ErrVersionExists   = release.ErrVersionExists
	ErrVersionNotNewer = release.ErrVersionNotNewer
	// ErrBundle: the bundle directory is unusable (missing or escaping paths,
	// symlinks, hash or size mismatches with its manifest). It is
	// targetstore.ErrBundle: package targetstore reads bundles.
	ErrBundle = targetstore.ErrBundle
	// ErrThreshold: the keys at hand (or staged signatures) cannot meet a
	// role's threshold. It is staged.ErrThreshold.
	ErrThreshold = staged.ErrThreshold
	// ErrLocked: another mrepo process holds the repository lock.
	ErrLocked = errors.New("repository is locked by another process")
	// ErrStoredMetadata: metadata on disk is missing, malformed or does not
	// verify; mrepo refuses to build on it. It is repofiles.ErrStoredMetadata,
	// shared with the state reader and mrepo status.
	ErrStoredMetadata = repofiles.ErrStoredMetadata
	// ErrDeltaBase: a base version to compute patches from is not a
	// published version of the model older than the one being published.
	// It is release.ErrDeltaBase.
	ErrDeltaBase = release.ErrDeltaBase

	// Errors of staging, signing and publishing staged metadata: the
	// staged package's, under the names repository callers know.
	// ErrStaged: something is already staged for the role, or what is
	// staged no longer fits the repository (stale, expired).
	ErrStaged = staged.ErrConflict
	// ErrNothingStaged: there is no staged file for the role.
	ErrNothingStaged = staged.ErrNothingStaged
	// ErrStagedMismatch: files to merge stage different content.
	ErrStagedMismatch = staged.ErrMismatch
	// ErrNotSigningKey: a key that does not sign the staged role.
	ErrNotSigningKey = staged.ErrNotSigningKey
	// ErrRotation: the requested key change is not valid (rootkeys').
	ErrRotation = rootkeys.ErrRotation
	// ErrDelegation, ErrOutsideDelegation: package delegation's errors.
	ErrDelegation        = delegation.ErrDelegation
	ErrOutsideDelegation = delegation.ErrOutsideDelegation
)
