package devstate

import (
	"bytes"
	"path/filepath"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/client/internal/rootchain"
	"github.com/edgetuf/edgetuf/internal/safefs"
)

// MaxPinnedRoot bounds the pinned root read at Init (the client's default
// root size limit; sessions apply Options.MaxRootSize).
const MaxPinnedRoot = 512000

// pinnedRoot checks the pinned root path given to Init (init --root FILE
// --root-readonly): absolute once resolved, and holding rootJSON. It
// returns the path to record ("" without one).
func pinnedRoot(path string, rootJSON []byte) (string, error) {
	if path == "" {
		return "", nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", codes.Errorf(codes.PinnedRootUnusable, err, "pinned root %s", path)
	}
	data, err := rootchain.ReadPinned(abs, MaxPinnedRoot)
	if err != nil {
		return "", err
	}
	if !bytes.Equal(data, rootJSON) {
		return "", codes.Errorf(codes.PinnedRootUnusable, nil, "pinned root %s does not hold the root given to Init", abs)
	}
	return abs, nil
}

// rootFiles are the copies of the pinned root Init writes: metadata/root.json
// (where go-tuf starts), and trusted-root.json unless the pinned root stays
// in the image.
func rootFiles(pinned string) []string {
	if pinned != "" {
		return []string{filepath.Join(MetadataDir, "root.json")}
	}
	return []string{PinnedRootFile, filepath.Join(MetadataDir, "root.json")}
}

// RootChain is where a session's root chain starts and is cached: nil for
// a state directory that keeps a copy of its pinned root, unless want (the
// path the application requires, client Options.PinnedRoot) is set, which
// such a directory then fails (ROOT_CHAIN_BROKEN).
func RootChain(stateDir string, cfg *Config, want string) *rootchain.Source {
	if cfg.PinnedRoot == "" && want == "" {
		return nil
	}
	return &rootchain.Source{Pinned: cfg.PinnedRoot, Want: want, FS: safefs.New(stateDir), Dir: filepath.Join(stateDir, RootChainDir)}
}
