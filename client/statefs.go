package client

import (
	"errors"
	"fmt"
	"github.com/edgetuf/edgetuf/client/internal/codes"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/safefs"
)

// What a symbolic link, a FIFO, a socket or a device file found in the
// state directory does (nothing is ever followed or opened through it;
// package safefs refuses it wherever this package opens, writes, renames
// or removes something):
//
//   - staging/ and everything in it are scratch: the entry itself is
//     removed and the run goes on (cleanStaging).
//   - An installed version (models/<model>/<version>/ or a file in it) is
//     damaged: verify, rollback and the health check fail HASH_MISMATCH;
//     update re-installs it (the entry itself is set aside and removed).
//   - A state.json that is not a regular file is damaged state
//     (loadModelState sets it aside).
//   - Everything else (client.json, trusted-root.json, metadata/ and
//     metadata-verified*/ and their files, models/, models/<model>/,
//     active.json, anti-rollback/ and its files, events.jsonl, lock) fails
//     STATE_INVALID, naming the path, and nothing is changed: these hold
//     the device's trust, its active model or its history, and what
//     replaced them is for a person to look at.
//
// events.jsonl.1 is only ever renamed over, which replaces a link without
// following it. Hard links cannot be told from ordinary files and are out
// of scope: an attacker who can make them in the state directory can
// rewrite the state anyway.

// unsafeEntry is the error for an entry that is a link or a special file.
func unsafeEntry(path string, err error) error {
	return codes.Errorf(StateInvalid, err, "%s is a symbolic link or a special file, which mclient does not follow or open; remove it", path)
}

// checkEntry requires path to be absent or, with dir, a directory (else a
// regular file), without following a link.
func checkEntry(sfs *safefs.FS, path string, dir bool) error {
	fi, err := sfs.Lstat(path)
	if errors.Is(err, os.ErrNotExist) && !safefs.IsUnsafe(err) {
		return nil
	}
	if err != nil {
		if safefs.IsUnsafe(err) {
			return unsafeEntry(path, err)
		}
		return codes.Errorf(StateInvalid, err, "%s", path)
	}
	if dir && !fi.IsDir() {
		return unsafeEntry(path, errors.New("not a directory"))
	}
	if !dir && !fi.Mode().IsRegular() {
		return unsafeEntry(path, fmt.Errorf("%s", fi.Mode().Type()))
	}
	return nil
}

// checkState refuses a state directory where something this package or
// go-tuf reads or writes with plain os calls is not a real directory or
// regular file: the metadata directories and the files in them (go-tuf
// reads and writes them itself), the pinned root, and the fixed entries
// below the state directory. Read-only commands run it too.
func (c *Client) checkState() error {
	sfs := c.sfs()
	for _, name := range []string{configFile, pinnedRootFile, eventsFile} {
		if err := checkEntry(sfs, filepath.Join(c.dir, name), false); err != nil {
			return err
		}
	}
	for _, name := range []string{modelsDir, antiRollbackDir} {
		if err := checkEntry(sfs, filepath.Join(c.dir, name), true); err != nil {
			return err
		}
	}
	return c.checkMetadata()
}

// checkMetadata checks metadata/ and its verified copies (see
// saveVerified), which go-tuf and tuf.go access with os.* directly: each is
// absent or a real directory holding only regular files.
func (c *Client) checkMetadata() error {
	sfs := c.sfs()
	meta := filepath.Join(c.dir, metadataDir)
	for _, d := range []string{meta, meta + verifiedSuffix, meta + verifiedSuffix + ".old", meta + verifiedSuffix + ".new"} {
		if err := checkEntry(sfs, d, true); err != nil {
			return err
		}
		entries, err := sfs.ReadDir(d)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return codes.Errorf(StateInvalid, err, "%s", d)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				return unsafeEntry(filepath.Join(d, e.Name()), fmt.Errorf("%s", e.Type()))
			}
		}
	}
	return nil
}

// maxStagingDepth bounds how deep cleanStaging looks: staging holds
// <model>/<version>/<file>.part and <model>/<version>/deltas/<base>/<file>.part.
const maxStagingDepth = 6

// cleanStaging makes the model's staging area safe to use: a link or
// special file anywhere in it (staging/ itself included) is removed, the
// entry itself, never what it points to. Staging is scratch: nothing in it
// is trusted before it is re-hashed.
func (c *Client) cleanStaging(p modelPaths) error {
	top := filepath.Join(c.dir, stagingDir)
	for _, d := range []string{top, p.staging} {
		fi, err := p.fs.Lstat(d)
		if errors.Is(err, os.ErrNotExist) && !safefs.IsUnsafe(err) {
			return nil
		}
		if err != nil {
			return codes.Errorf(StateInvalid, err, "staging")
		}
		if !fi.IsDir() {
			if err := p.fs.Remove(d); err != nil {
				return codes.Errorf(StateInvalid, err, "removing %s (not a directory)", d)
			}
			return nil
		}
	}
	return cleanTree(p.fs, p.staging, maxStagingDepth)
}

func cleanTree(sfs *safefs.FS, dir string, depth int) error {
	entries, err := sfs.ReadDir(dir)
	if err != nil {
		return codes.Errorf(StateInvalid, err, "staging")
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		switch {
		case e.Type().IsRegular():
		case e.IsDir() && depth > 0:
			if err := cleanTree(sfs, path, depth-1); err != nil {
				return err
			}
		default:
			if err := sfs.RemoveAll(path); err != nil {
				return codes.Errorf(StateInvalid, err, "removing %s", path)
			}
		}
	}
	return nil
}

// openRegular opens an existing regular file for reading, refusing a link
// at its last component and anything that is not a regular file (a FIFO
// would block the open), before opening it.
func openRegular(path string) (*os.File, error) {
	return safefs.OpenFile(path, os.O_RDONLY, 0)
}

// isRecoverTemp says whether a name is a leftover that recover removes.
func isRecoverTemp(name string) bool {
	return strings.HasPrefix(name, installPrefix) || atomicfs.IsTemp(name) || strings.HasPrefix(name, "tuf_tmp")
}
