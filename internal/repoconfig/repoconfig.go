// Package repoconfig is mrepo.json, an mrepo repository's own
// configuration, stored next to (not inside) the published metadata and
// targets directories: its format marker and how long each role's
// metadata stays valid after it is signed (Expiry, DefaultExpiry), with
// the checks and the bounded read of the file (Read).
//
// The repository writer (package repo) writes it at init, reads it when
// it opens a repository and re-exports its types (repo.Config,
// repo.Expiry); mrepo status is given its lifetimes (Expiry.For).
//
// It must never import the repository writer (repo), key storage (keys),
// the auditor, the server or the client, and it writes nothing: writing
// mrepo.json is the writer's job.
package repoconfig

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

const (
	// File is the configuration's name inside a repository.
	File = "mrepo.json"
	// Magic is its format marker.
	Magic = "mrepo-config-v1"
	// MaxSize bounds mrepo.json, a few lines.
	MaxSize = 64 << 10
)

// ErrNotRepository: the directory is not an mrepo repository (no
// readable mrepo.json of this format).
var ErrNotRepository = errors.New("not an mrepo repository")

// Expiry holds how long each top-level role's metadata stays valid after
// it is signed.
//
// The lifetimes are duration.Duration, shared with the auditor, so that
// mrepo.json can say "30d".
type Expiry struct {
	Root      duration.Duration `json:"root"`
	Targets   duration.Duration `json:"targets"`
	Snapshot  duration.Duration `json:"snapshot"`
	Timestamp duration.Duration `json:"timestamp"`
}

// DefaultExpiry follows common TUF practice: a year for the offline root, three
// months for targets, a week for snapshot and a day for timestamp, so a
// freeze attack lasts at most a day.
var DefaultExpiry = Expiry{
	Root:      duration.Duration(365 * 24 * time.Hour),
	Targets:   duration.Duration(90 * 24 * time.Hour),
	Snapshot:  duration.Duration(7 * 24 * time.Hour),
	Timestamp: duration.Duration(24 * time.Hour),
}

// For returns the duration configured for a role.
func (e Expiry) For(role string) time.Duration {
	switch role {
	case metadata.ROOT:
		return time.Duration(e.Root)
	case metadata.SNAPSHOT:
		return time.Duration(e.Snapshot)
	case metadata.TIMESTAMP:
		return time.Duration(e.Timestamp)
	}
	return time.Duration(e.Targets) // targets and delegated roles
}

// Validate checks that every lifetime is between an hour and ten years.
func (e Expiry) Validate() error {
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		d := e.For(role)
		if d < time.Hour {
			return fmt.Errorf("%s expiry %s is shorter than an hour", role, duration.Format(d))
		}
		if d > 10*365*24*time.Hour {
			return fmt.Errorf("%s expiry %s is longer than ten years", role, duration.Format(d))
		}
	}
	return nil
}

// Config is the repository's own configuration, stored in mrepo.json next
// to (not inside) the published metadata and targets directories.
type Config struct {
	Format string `json:"format"`
	Expiry Expiry `json:"expiry"`
	// Bins, if set, moves the targets into succinct hash bins once there
	// are too many for top-level targets (repositories made before it have
	// none: no automatic migration).
	Bins *Bins `json:"bins,omitempty"`
}

// Bins is when and how add-target migrates a repository's targets from
// top-level targets into succinct hash bins (docs/design.md section 13).
type Bins struct {
	// Threshold: a publication that would leave more targets than this
	// in top-level targets migrates first.
	Threshold int `json:"threshold"`
	// Count is the number of bins to create; 0 chooses (BinCount).
	Count int `json:"count"`
	// Indexed: every model with a version in hash bins has a version
	// index (set by mrepo init and mrepo bins migrate; unset in
	// repositories whose bins older mrepo versions filled), so a model
	// without one has no version there and its first publication reads
	// no other bin.
	Indexed bool `json:"indexed,omitempty"`
}

// Limits of the bins configuration.
const (
	// DefaultBinsThreshold is what mrepo init writes.
	DefaultBinsThreshold = 10000
	// MinBins, MaxBins bound the bins count (powers of two); MinAutoBins
	// is the fewest BinCount chooses, and TargetsPerBin what it aims at.
	MinBins       = 2
	MaxBins       = 1 << 14
	MinAutoBins   = 256
	TargetsPerBin = 64
)

// DefaultBins is the configuration mrepo init writes.
func DefaultBins() *Bins { return &Bins{Threshold: DefaultBinsThreshold, Indexed: true} }

// Validate checks the threshold (at least 1) and the count (0, or a power
// of two from MinBins to MaxBins).
func (b *Bins) Validate() error {
	if b.Threshold < 1 {
		return fmt.Errorf("bins threshold %d: must be at least 1", b.Threshold)
	}
	return CheckBinsCount(b.Count, true)
}

// CheckBinsCount checks a number of bins (0 allowed if zeroOK: choose).
func CheckBinsCount(n int, zeroOK bool) error {
	if n == 0 && zeroOK {
		return nil
	}
	if n < MinBins || n > MaxBins || n&(n-1) != 0 {
		return fmt.Errorf("%d hash bins: use a power of two from %d to %d", n, MinBins, MaxBins)
	}
	return nil
}

// BinCount is the number of bins for targets targets: count if set,
// otherwise the smallest power of two that gives at most TargetsPerBin
// targets per bin, at least MinAutoBins and at most MaxBins.
func (b *Bins) BinCount(targets int) int {
	if b != nil && b.Count != 0 {
		return b.Count
	}
	n := MinAutoBins
	for n < MaxBins && n*TargetsPerBin < targets {
		n *= 2
	}
	return n
}

// UnmarshalJSON reads the bins configuration strictly: unknown fields are
// an error, not ignored (a misspelt threshold must not turn migration
// off).
func (b *Bins) UnmarshalJSON(data []byte) error {
	type plain Bins
	var p plain
	if err := jsonlimit.UnmarshalStrict(data, &p, MaxSize); err != nil {
		return fmt.Errorf("bins: %v", err)
	}
	*b = Bins(p)
	return nil
}

// Read reads and checks the configuration of the repository in dir.
func Read(fs afero.Fs, dir string) (*Config, error) {
	data, err := repofiles.ReadBounded(fs, filepath.Join(dir, File), MaxSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotRepository, dir, err)
	}
	var c Config
	if err := jsonlimit.Unmarshal(data, &c, MaxSize); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotRepository, File, err)
	}
	if c.Format != Magic {
		return nil, fmt.Errorf("%w: %s has format %q, want %q", ErrNotRepository, File, c.Format, Magic)
	}
	if err := c.Expiry.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", File, err)
	}
	if c.Bins != nil {
		if err := c.Bins.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %v", File, err)
		}
	}
	return &c, nil
}
