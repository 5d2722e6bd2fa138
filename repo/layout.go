package repo

import (
	"github.com/edgetuf/edgetuf/internal/pubkey"
	"github.com/edgetuf/edgetuf/internal/repofiles"
)

// The repository layout, its bounded reads and the public-key checks are
// shared with the auditor (package audit), which must not import this
// package: they live in internal/repofiles and internal/pubkey.

// maxMetadataSize bounds every metadata read.
const maxMetadataSize = repofiles.MaxMetadataSize

var (
	// readBounded reads a JSON document of at most limit bytes and
	// jsonlimit.MaxDepth levels.
	readBounded = repofiles.ReadBounded
	// rootVersions lists the versions of the N.root.json files, sorted.
	rootVersions = repofiles.RootVersions
	// consistentName is where a target's bytes live under targets/.
	consistentName = repofiles.ConsistentName
	// checkKeys fails on a key that cannot verify signatures, so that it
	// never reaches go-tuf's VerifyDelegate, which panics on some (an
	// ed25519 key of the wrong length).
	checkKeys = pubkey.CheckAll
	// storedErr wraps an error about a metadata file in ErrStoredMetadata.
	storedErr = repofiles.StoredError
	// sameSigned reports whether two roots sign the same content.
	sameSigned = repofiles.SameRoot
)
