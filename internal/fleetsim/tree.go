package fleetsim

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// tree is a state directory read into memory, to be copied for each
// device: a few small files.
type tree struct {
	entries []treeEntry
}

type treeEntry struct {
	rel  string
	mode fs.FileMode
	data []byte // nil for a directory
}

// notCopied are state files that belong to the bootstrap device's own
// runs, not to the state a new device starts with: its event log, its
// lock, and its telemetry directory (the outbox, with the bootstrap
// device's reports and the sampling configuration it verified, and its
// lock): each device starts with no outbox and verifies the sampling
// configuration itself on its first run. "telemetry" is the outbox's
// directory (client/internal/telemetry.Dir, docs/telemetry.md).
var notCopied = map[string]bool{"events.jsonl": true, "lock": true, "telemetry": true}

// readTree reads the state directory dir.
func readTree(t testing.TB, dir string) *tree {
	t.Helper()
	tr := &tree{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if notCopied[rel] {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := treeEntry{rel: rel, mode: fi.Mode()}
		switch {
		case d.IsDir():
		case fi.Mode().IsRegular():
			if e.data, err = os.ReadFile(p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: not a regular file or directory", p)
		}
		tr.entries = append(tr.entries, e)
		return nil
	})
	if err != nil {
		t.Fatalf("fleetsim: reading the bootstrap state: %v", err)
	}
	return tr
}

// copyTo writes the tree to dir, which must not exist. A copy needs no
// fsync: the simulation never crashes the machine.
func (tr *tree) copyTo(dir string) error {
	for _, e := range tr.entries {
		p := filepath.Join(dir, e.rel)
		var err error
		if e.mode.IsDir() {
			err = os.MkdirAll(p, e.mode.Perm())
		} else {
			err = os.WriteFile(p, e.data, e.mode.Perm())
		}
		if err != nil {
			return err
		}
	}
	return nil
}
