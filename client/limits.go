package client

import (
	"time"

	"github.com/edgetuf/edgetuf/client/internal/transport"
)

// Default size limits of metadata files, in bytes: python-tuf's and
// go-tuf's updater defaults (the TUF specification leaves the bound to
// the client: "download up to Y bytes"). A repository with larger
// metadata needs larger limits in Options; one that delegates can keep
// each role small.
const (
	DefaultMaxRootSize      = 512000
	DefaultMaxTimestampSize = 16384
	DefaultMaxSnapshotSize  = 2000000
	DefaultMaxTargetsSize   = 5000000 // top-level targets and each delegated role
)

// DefaultMetadataTimeout bounds the download of one metadata file, every
// attempt included.
const DefaultMetadataTimeout = 5 * time.Minute

// limitsOf are the metadata size limits o sets, defaults filled in.
func limitsOf(o Options) transport.Limits {
	return transport.Limits{Root: o.MaxRootSize, Timestamp: o.MaxTimestampSize, Snapshot: o.MaxSnapshotSize, Targets: o.MaxTargetsSize}.Or(
		transport.Limits{Root: DefaultMaxRootSize, Timestamp: DefaultMaxTimestampSize, Snapshot: DefaultMaxSnapshotSize, Targets: DefaultMaxTargetsSize})
}
