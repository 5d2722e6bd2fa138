package client

import (
	"github.com/edgetuf/edgetuf/client/internal/listing"
	"github.com/edgetuf/edgetuf/client/internal/tufsession"
	"github.com/edgetuf/edgetuf/client/internal/versions"
	"github.com/edgetuf/edgetuf/modelcrypt"

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

// candidates lists the published versions of a model, newest first,
// resolved on demand (package listing); also are versions listed whatever
// a version index says (the active one).
func (c *Client) candidates(s *tufsession.Session, modelID string, also ...string) (*listing.List[candidate], error) {
	return listing.Open(s, modelID, c.store, also, func(e listing.Entry) candidate {
		return candidate{version: e.Version, manifest: e.Manifest, custom: e.Custom}
	})
}

// newerFirst is the order of versions on every device
// (versions.NewerFirst).
var newerFirst = versions.NewerFirst
