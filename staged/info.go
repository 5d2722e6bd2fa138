package staged

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Info is one staged file, for status.
type Info struct {
	Role       string           `json:"role"`
	Version    int64            `json:"version"`
	Expires    time.Time        `json:"expires"`
	File       string           `json:"file"`
	Signatures *SignatureStatus `json:"signatures,omitempty"`
	Problem    string           `json:"problem,omitempty"`
}

// List lists the staged files of the repository in dir, with their
// signatures so far against cur (the repository's newest root), for status.
func List(fs afero.Fs, dir string, cur *metadata.Metadata[metadata.RootType]) []Info {
	var out []Info
	for _, role := range TopLevelRoles {
		p := Path(dir, role)
		data, err := repofiles.ReadBounded(fs, p, repofiles.MaxMetadataSize)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		si := Info{Role: role, File: p}
		if err != nil {
			si.Problem = err.Error()
			out = append(out, si)
			continue
		}
		sm, err := Parse(data, role)
		if err != nil {
			si.Problem = err.Error()
			out = append(out, si)
			continue
		}
		si.Version, si.Expires = sm.Version(), sm.Expires()
		if role == metadata.ROOT && cur.Signed.Version != sm.Version()-1 {
			if cur.Signed.Version == sm.Version() {
				si.Problem = "published, but the rotation may be incomplete: run mrepo publish-staged --role root"
			} else {
				si.Problem = fmt.Sprintf("stale: the repository's root is v%d", cur.Signed.Version)
			}
		} else {
			si.Signatures = CheckSignatures(sm, cur)
		}
		out = append(out, si)
	}
	return out
}
