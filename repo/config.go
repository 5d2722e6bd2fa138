package repo

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/duration"
	"github.com/edgetuf/edgetuf/internal/jsonlimit"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// File and directory names inside a repository.
const (
	ConfigFile  = "mrepo.json"
	MetadataDir = repofiles.MetadataDir
	TargetsDir  = repofiles.TargetsDir
	lockFile    = ".mrepo.lock"
	configMagic = "mrepo-config-v1"
)

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
}

// maxConfigSize bounds mrepo.json, a few lines.
const maxConfigSize = 64 << 10

func readConfig(fs afero.Fs, dir string) (*Config, error) {
	data, err := readBounded(fs, filepath.Join(dir, ConfigFile), maxConfigSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotRepository, dir, err)
	}
	var c Config
	if err := jsonlimit.Unmarshal(data, &c, maxConfigSize); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotRepository, ConfigFile, err)
	}
	if c.Format != configMagic {
		return nil, fmt.Errorf("%w: %s has format %q, want %q", ErrNotRepository, ConfigFile, c.Format, configMagic)
	}
	if err := c.Expiry.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", ConfigFile, err)
	}
	return &c, nil
}

func writeConfig(fs afero.Fs, dir string, c *Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfs.WriteFile(fs, filepath.Join(dir, ConfigFile), append(b, '\n'), 0o644)
}
