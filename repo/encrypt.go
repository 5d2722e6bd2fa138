package repo

import (
	"github.com/edgetuf/edgetuf/release"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// EncryptOptions (AddOptions.Encrypt) are package release's request.
type EncryptOptions = release.Encrypt

// encryption checks opts.Encrypt, resolves the content keys of a
// publication (release.ForPublication) and gives each encrypted delta
// base its key; it returns the new version's encryption (nil for a
// plaintext version).
func encryption(view map[string]*metadata.TargetFiles, m *targets.Manifest, bases []targetstore.DeltaBase, rbases []release.Base, opts AddOptions) (*targetstore.EncryptedFiles, error) {
	if err := opts.Encrypt.Check(); err != nil {
		return nil, err
	}
	keys, err := release.ForPublication(opts.ContentKeys, view, m, rbases, opts.Encrypt != nil)
	if err != nil {
		return nil, err
	}
	for i := range bases {
		if bases[i].Encrypted != nil {
			bases[i].Encrypted.Key = keys.Base[bases[i].Version]
		}
	}
	if keys.Key == nil {
		return nil, nil
	}
	return &targetstore.EncryptedFiles{Key: keys.Key, Plain: map[string]*targets.Plaintext{}}, nil
}
