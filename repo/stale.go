package repo

import (
	"path/filepath"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
)

// staleDirs are the directories whose temporary files, left by a crashed
// writer, the next writer removes (update.go). In a repository whose
// targets delegates to hash bins, targets/ holds every version's
// directory (300,000 entries at 100,000 versions: seconds to walk), so it
// is not walked: add-target and grant remove those of the model they
// write (removeStaleOf), the only place their own crash leaves them.
// Such files are never referenced, so devices never see them.
func (r *Repository) staleDirs(st *state) []string {
	if d := st.targets.Signed.Delegations; d != nil && d.SuccinctRoles != nil {
		return []string{MetadataDir, StagedDir, targetstore.TmpDir}
	}
	return []string{MetadataDir, TargetsDir, StagedDir, targetstore.TmpDir}
}

// removeStaleOf removes the temporary files under modelID's target
// directory (every version's, and its version index's).
func (r *Repository) removeStaleOf(modelID string) error {
	return atomicfs.RemoveStale(r.fs, filepath.Join(r.dir, TargetsDir, targets.ModelsDir, modelID))
}
