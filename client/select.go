package client

import (
	"github.com/edgetuf/edgetuf/client/internal/epochgate"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"github.com/edgetuf/edgetuf/client/internal/versions"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"sort"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// candidate is one published version of a model, known from signed
// metadata only.
type candidate struct {
	version  targets.Version
	manifest *metadata.TargetFiles
	custom   *targets.Custom
	// key and envelope: the content key of an encrypted version, once
	// obtained in this run (contentKey).
	key      *modelcrypt.ContentKey
	envelope []byte
}

// candidates lists the published versions of a model, newest first. It
// loads every delegated role that may sign a manifest of the model
// (loadRolesFor), then resolves each manifest path that any loaded role
// lists through the delegation tree with go-tuf's own lookup (pre-order,
// depth first, in delegation order, stopping after a terminating
// delegation, as the TUF specification says), and uses only the entry
// that lookup returns: a version listed by a role that is not trusted for
// its path, or shadowed by an earlier role, is never used.
func (c *Client) candidates(s *tufsession.Session, modelID string) ([]candidate, error) {
	if err := s.LoadRolesFor(modelID); err != nil {
		return nil, err
	}
	var out []candidate
	for p := range s.AllLoadedTargets() {
		pp, err := targets.ParseTargetPath(p)
		if err != nil || pp.ModelID != modelID || pp.File != targets.ManifestName {
			continue
		}
		tf, err := s.TargetInfo(p)
		if err != nil {
			if CodeOf(err) == TargetNotFound {
				continue // listed by a role that is not trusted for it
			}
			return nil, err
		}
		custom, err := targets.ParseCustom(p, tf.Custom)
		if err != nil || custom.Kind != targets.KindManifest || tf.Length > targets.MaxManifestSize {
			continue // not something this client may act on
		}
		v, _ := targets.ParseVersion(pp.Version)
		out = append(out, candidate{version: v, manifest: tf, custom: custom})
	}
	sort.Slice(out, func(i, j int) bool { return newerFirst(out[i].version, out[j].version) })
	out = versions.DropCaseCollisions(out, func(c candidate) targets.Version { return c.version })
	return epochgate.Filter(c.store, modelID, out, func(c candidate) epochgate.Listed {
		return epochgate.Listed{Version: c.version, Epoch: c.custom.Epoch, Revoked: c.custom.Revoked != nil}
	})
}

// newerFirst is the order of versions on every device
// (versions.NewerFirst).
var newerFirst = versions.NewerFirst
