package devstate

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
//   - Everything else (client.json, trusted-root.json, metadata/,
//     metadata-verified*/, root-chain/ and their files, models/, models/<model>/,
//     active.json, anti-rollback/ and its files, events.jsonl, lock) fails
//     STATE_INVALID, naming the path, and nothing is changed: these hold
//     the device's trust, its active model or its history, and what
//     replaced them is for a person to look at.
//
// events.jsonl.1 is only ever renamed over, which replaces a link without
// following it. Hard links cannot be told from ordinary files and are out
// of scope: an attacker who can make them in the state directory can
// rewrite the state anyway.

// UnsafeEntry is the error for an entry that is a link or a special file.
func UnsafeEntry(path string, err error) error {
	return codes.Errorf(codes.StateInvalid, err, "%s is a symbolic link or a special file, which mclient does not follow or open; remove it", path)
}

// CheckEntry requires path to be absent or, with dir, a directory (else a
// regular file), without following a link.
func CheckEntry(sfs *safefs.FS, path string, dir bool) error {
	fi, err := sfs.Lstat(path)
	if errors.Is(err, os.ErrNotExist) && !safefs.IsUnsafe(err) {
		return nil
	}
	if err != nil {
		if safefs.IsUnsafe(err) {
			return UnsafeEntry(path, err)
		}
		return codes.Errorf(codes.StateInvalid, err, "%s", path)
	}
	if dir && !fi.IsDir() {
		return UnsafeEntry(path, errors.New("not a directory"))
	}
	if !dir && !fi.Mode().IsRegular() {
		return UnsafeEntry(path, fmt.Errorf("%s", fi.Mode().Type()))
	}
	return nil
}

// CheckState refuses a state directory where something this package or
// go-tuf reads or writes with plain os calls is not a real directory or
// regular file: the metadata directories and the files in them (go-tuf
// reads and writes them itself), the pinned root, and the fixed entries
// below the state directory. Read-only commands run it too.
func CheckState(stateDir string) error {
	sfs := safefs.New(stateDir)
	for _, name := range []string{ConfigFile, PinnedRootFile, EventsFile} {
		if err := CheckEntry(sfs, filepath.Join(stateDir, name), false); err != nil {
			return err
		}
	}
	for _, name := range []string{ModelsDir, AntiRollbackDir} {
		if err := CheckEntry(sfs, filepath.Join(stateDir, name), true); err != nil {
			return err
		}
	}
	return CheckMetadata(stateDir)
}

// CheckMetadata checks metadata/ and its verified copies (see
// saveVerified), which go-tuf and tuf.go access with os.* directly, and
// the root chain cache: each is absent or a real directory holding only
// regular files.
func CheckMetadata(stateDir string) error {
	sfs := safefs.New(stateDir)
	meta := filepath.Join(stateDir, MetadataDir)
	for _, d := range []string{meta, meta + VerifiedSuffix, meta + VerifiedSuffix + ".old", meta + VerifiedSuffix + ".new", filepath.Join(stateDir, RootChainDir)} {
		if err := CheckEntry(sfs, d, true); err != nil {
			return err
		}
		entries, err := sfs.ReadDir(d)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return codes.Errorf(codes.StateInvalid, err, "%s", d)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				return UnsafeEntry(filepath.Join(d, e.Name()), fmt.Errorf("%s", e.Type()))
			}
		}
	}
	return nil
}

// maxStagingDepth bounds how deep cleanStaging looks: staging holds
// <model>/<version>/<file>.part and <model>/<version>/deltas/<base>/<file>.part.
const maxStagingDepth = 6

// CleanStaging makes the model's staging area safe to use: a link or
// special file anywhere in it (staging/ itself included) is removed, the
// entry itself, never what it points to. Staging is scratch: nothing in it
// is trusted before it is re-hashed.
func CleanStaging(stateDir string, p ModelPaths) error {
	top := filepath.Join(stateDir, StagingDir)
	for _, d := range []string{top, p.Staging} {
		fi, err := p.FS.Lstat(d)
		if errors.Is(err, os.ErrNotExist) && !safefs.IsUnsafe(err) {
			return nil
		}
		if err != nil {
			return codes.Errorf(codes.StateInvalid, err, "staging")
		}
		if !fi.IsDir() {
			if err := p.FS.Remove(d); err != nil {
				return codes.Errorf(codes.StateInvalid, err, "removing %s (not a directory)", d)
			}
			return nil
		}
	}
	return cleanTree(p.FS, p.Staging, maxStagingDepth)
}

func cleanTree(sfs *safefs.FS, dir string, depth int) error {
	entries, err := sfs.ReadDir(dir)
	if err != nil {
		return codes.Errorf(codes.StateInvalid, err, "staging")
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
				return codes.Errorf(codes.StateInvalid, err, "removing %s", path)
			}
		}
	}
	return nil
}

// OpenRegular opens an existing regular file for reading, refusing a link
// at its last component and anything that is not a regular file (a FIFO
// would block the open), before opening it.
func OpenRegular(path string) (*os.File, error) {
	return safefs.OpenFile(path, os.O_RDONLY, 0)
}

// IsRecoverTemp says whether a name is a leftover that recover removes.
func IsRecoverTemp(name string) bool {
	return strings.HasPrefix(name, InstallPrefix) || atomicfs.IsTemp(name) || strings.HasPrefix(name, "tuf_tmp")
}

// SyncDir fsyncs every file of dir and dir itself, best effort.
func SyncDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue // not ours: never follow a link or open a FIFO (it blocks)
		}
		if f, err := OpenRegular(filepath.Join(dir, e.Name())); err == nil {
			f.Sync()
			f.Close()
		}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// maxEventLog is the size at which the log is rotated to events.jsonl.1.
const maxEventLog = 1 << 20

// AppendEvent appends one line to the event log, durably, best effort. A
// log that is a link or a special file is neither followed nor opened
// (CheckState refuses the run before that), and the rotated copy is only
// ever renamed over, which replaces a link without following it.
func AppendEvent(stateDir string, line []byte) {
	sfs := safefs.New(stateDir)
	path := filepath.Join(stateDir, EventsFile)
	if fi, err := sfs.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Size() > maxEventLog {
		sfs.Rename(path, path+".1")
	}
	f, err := sfs.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	f.Write(append(line, '\n'))
	f.Sync()
	f.Close()
}
