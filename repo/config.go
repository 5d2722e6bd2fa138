package repo

import (
	"encoding/json"
	"path/filepath"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/repoconfig"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/spf13/afero"
)

// File and directory names inside a repository.
const (
	ConfigFile  = repoconfig.File
	MetadataDir = repofiles.MetadataDir
	TargetsDir  = repofiles.TargetsDir
	lockFile    = ".mrepo.lock"
	configMagic = repoconfig.Magic
)

// Config is the repository's own configuration (mrepo.json), and Expiry
// how long each top-level role's metadata stays valid after it is
// signed: package repoconfig's, which reads and checks the file.
type (
	Config = repoconfig.Config
	Expiry = repoconfig.Expiry
)

// DefaultExpiry is repoconfig.DefaultExpiry: a year for root, three
// months for targets, a week for snapshot and a day for timestamp.
var DefaultExpiry = repoconfig.DefaultExpiry

// readConfig reads and checks mrepo.json.
var readConfig = repoconfig.Read

// writeConfig writes mrepo.json (init, once).
func writeConfig(fs afero.Fs, dir string, c *Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfs.WriteFile(fs, filepath.Join(dir, ConfigFile), append(b, '\n'), 0o644)
}
