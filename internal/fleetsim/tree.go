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
// runs, not to the state a new device starts with: its event log and
// lock. Phase 2: the telemetry outbox joins them.
var notCopied = map[string]bool{"events.jsonl": true, "lock": true}

// readTree reads the state directory dir.
func readTree(t testing.TB, dir string) *tree {
	t.Helper()
	tr := &tree{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || notCopied[rel] {
			return err
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
