package repo

import (
	"errors"
	"fmt"

	"filippo.io/age/tag"
	"github.com/edgetuf/edgetuf/contentkeys"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/rollout"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// EncryptOptions publish a version encrypted (AddOptions.Encrypt,
// docs/encryption.md): every payload file and patch is an age file for
// the version's own content key, created in the content key store.
type EncryptOptions struct {
	// Delivery is how devices obtain the content key: targets.DeliveryFleet,
	// DeliveryDevice (mrepo grant) or DeliveryKeyServer (mrepo keyserver).
	Delivery string
	// FleetRecipient is the fleet key's recipient (delivery fleet only,
	// required there): its envelope is published with the version.
	FleetRecipient *tag.Recipient
}

// check validates the options before anything is read.
func (o *EncryptOptions) check() error {
	switch o.Delivery {
	case targets.DeliveryFleet:
		if o.FleetRecipient == nil {
			return errors.New("encrypt: delivery fleet needs the fleet key's recipient")
		}
	case targets.DeliveryDevice, targets.DeliveryKeyServer:
		if o.FleetRecipient != nil {
			return fmt.Errorf("encrypt: a fleet recipient is for delivery fleet, not %s", o.Delivery)
		}
	case "":
		return errors.New("encrypt: a delivery (fleet, device or keyserver) is required")
	default:
		return fmt.Errorf("encrypt: unknown delivery %q (fleet, device or keyserver)", o.Delivery)
	}
	return nil
}

// versionKeys resolves, before any file is stored, the content keys a
// publication needs: the key of every encrypted delta base (bases gets
// them) and, for an encrypted version, its own key. A failure (no key
// store, a wrong passphrase, a base key missing) changes nothing.
//
// The new version's key is created in the store unless a key for it is
// stored already: that can only be left by a publication of this
// version that failed or was killed (the version is not published, or
// the checks before would have refused it), and its ciphertexts were
// never signed. Before creating one, the passphrase must open the key
// of the model's newest encrypted version if the store holds it, so a
// mistyped passphrase does not start a second one.
func versionKeys(view map[string]*metadata.TargetFiles, m *targets.Manifest, bases []targetstore.DeltaBase, opts AddOptions) (*modelcrypt.ContentKey, error) {
	var store *contentkeys.Store
	open := func() (*contentkeys.Store, error) {
		if store != nil {
			return store, nil
		}
		if opts.ContentKeys == nil {
			return nil, errors.New("content keys: no content key store given (mrepo: --keys and the content key passphrase)")
		}
		s, err := opts.ContentKeys()
		if err != nil {
			return nil, err
		}
		store = s
		return s, nil
	}
	for i := range bases {
		enc, err := encryptedFiles(view, m.ModelID, bases[i].Version)
		if err != nil {
			return nil, err
		}
		if enc == nil {
			continue
		}
		s, err := open()
		if err != nil {
			return nil, fmt.Errorf("delta base %s is encrypted: %w", bases[i].Version, err)
		}
		if enc.Key, err = s.Get(m.ModelID, bases[i].Version); err != nil {
			return nil, fmt.Errorf("delta base %s is encrypted: %w", bases[i].Version, err)
		}
		bases[i].Encrypted = enc
	}
	if opts.Encrypt == nil {
		return nil, nil
	}
	s, err := open()
	if err != nil {
		return nil, err
	}
	key, err := s.Get(m.ModelID, m.Version)
	if err == nil || !errors.Is(err, contentkeys.ErrNotFound) {
		return key, err
	}
	if prev := newestEncrypted(view, m.ModelID); prev != "" {
		if _, err := s.Get(m.ModelID, prev); err != nil && !errors.Is(err, contentkeys.ErrNotFound) {
			return nil, fmt.Errorf("the content key passphrase does not open the key of %s %s: %w", m.ModelID, prev, err)
		}
	}
	return s.Create(m.ModelID, m.Version)
}

// encryptedFiles returns the signed plaintexts of the payload files of a
// published version, nil if it is not encrypted (Key is left for the
// caller).
func encryptedFiles(view map[string]*metadata.TargetFiles, modelID, version string) (*targetstore.EncryptedFiles, error) {
	mc, err := manifestCustom(view, modelID, version)
	if err != nil {
		return nil, err
	}
	if mc.Encrypted == nil {
		return nil, nil
	}
	enc := &targetstore.EncryptedFiles{Plain: map[string]*targets.Plaintext{}}
	for _, f := range mc.Files {
		p := targets.TargetPath(modelID, version, f)
		tf := view[p]
		if tf == nil {
			continue
		}
		c, err := targets.ParseCustom(p, tf.Custom)
		if err != nil {
			return nil, err
		}
		if c.Plaintext == nil {
			return nil, fmt.Errorf("%s of encrypted version %s %s has no plaintext length and SHA-256", p, modelID, version)
		}
		enc.Plain[f] = c.Plaintext
	}
	return enc, nil
}

// newestEncrypted is the newest published encrypted version of modelID
// ("" if none).
func newestEncrypted(view map[string]*metadata.TargetFiles, modelID string) string {
	vs := targets.PublishedVersions(view)[modelID]
	for i := len(vs) - 1; i >= 0; i-- {
		if c, err := manifestCustom(view, modelID, vs[i].String()); err == nil && c.Encrypted != nil {
			return vs[i].String()
		}
	}
	return ""
}

// manifestCustom returns the signed custom metadata of the manifest
// target of a published version (rollout.ErrNotPublished if there is
// none).
func manifestCustom(view map[string]*metadata.TargetFiles, modelID, version string) (*targets.Custom, error) {
	mpath := targets.ManifestPath(modelID, version)
	tf := view[mpath]
	if tf == nil {
		return nil, fmt.Errorf("%w: %s %s", rollout.ErrNotPublished, modelID, version)
	}
	return targets.ParseCustom(mpath, tf.Custom)
}
