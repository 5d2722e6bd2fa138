package release

import (
	"errors"
	"fmt"

	"filippo.io/age/tag"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Encrypt asks for a version to be published encrypted (mrepo add-target
// --encrypt, docs/encryption.md): every payload file and patch becomes an
// age file for the version's own content key.
type Encrypt struct {
	// Delivery is how devices obtain the content key: targets.DeliveryFleet,
	// DeliveryDevice (mrepo grant) or DeliveryKeyServer (mrepo keyserver).
	Delivery string
	// FleetRecipient is the fleet key's recipient (delivery fleet only,
	// required there): its envelope is published with the version.
	FleetRecipient *tag.Recipient
}

// Check validates the request before anything is read (nil: no
// encryption, valid).
func (e *Encrypt) Check() error {
	if e == nil {
		return nil
	}
	switch e.Delivery {
	case targets.DeliveryFleet:
		if e.FleetRecipient == nil {
			return errors.New("delivery fleet needs the fleet key's recipient")
		}
	case targets.DeliveryDevice, targets.DeliveryKeyServer:
		if e.FleetRecipient != nil {
			return fmt.Errorf("a fleet recipient is for delivery fleet, not %s", e.Delivery)
		}
	case "":
		return errors.New("encryption needs a delivery: fleet, device or keyserver")
	default:
		return fmt.Errorf("unknown delivery %q: want fleet, device or keyserver", e.Delivery)
	}
	return nil
}

// Plaintexts returns the signed plaintext (length and SHA-256) of each
// payload file of the published encrypted version whose manifest target
// custom metadata is c; nil if the version is not encrypted. A payload
// of an encrypted version without one is an error.
func Plaintexts(view map[string]*metadata.TargetFiles, c *targets.Custom) (map[string]*targets.Plaintext, error) {
	if c.Encrypted == nil {
		return nil, nil
	}
	out := map[string]*targets.Plaintext{}
	for _, f := range c.Files {
		p := targets.TargetPath(c.ModelID, c.Version, f)
		tf := view[p]
		if tf == nil {
			continue
		}
		pc, err := targets.ParseCustom(p, tf.Custom)
		if err != nil {
			return nil, err
		}
		if pc.Plaintext == nil {
			return nil, fmt.Errorf("%s of encrypted version %s %s has no plaintext length and SHA-256", p, c.ModelID, c.Version)
		}
		out[f] = pc.Plaintext
	}
	return out, nil
}

// NewestEncrypted is the newest published encrypted version of modelID
// ("" if none).
func NewestEncrypted(view map[string]*metadata.TargetFiles, modelID string) string {
	vs := targets.PublishedVersions(view)[modelID]
	for i := len(vs) - 1; i >= 0; i-- {
		mp := targets.ManifestPath(modelID, vs[i].String())
		if tf := view[mp]; tf != nil {
			if c, err := targets.ParseCustom(mp, tf.Custom); err == nil && c.Encrypted != nil {
				return vs[i].String()
			}
		}
	}
	return ""
}

// KeyStore is the content key store as a publication uses it
// (*contentkeys.Store): a stored version's key, and the key to publish a
// version with. Package release only calls it; it reads no files.
type KeyStore interface {
	Get(modelID, version string) (*modelcrypt.ContentKey, error)
	ForVersion(modelID, version, previous string) (*modelcrypt.ContentKey, error)
}

// Publication is what the content keys of one publication are: the new
// version's key (nil unless encrypted) and each encrypted delta base's
// key, by base version.
type Publication struct {
	Key  *modelcrypt.ContentKey
	Base map[string]*modelcrypt.ContentKey
}

// ForPublication finds, before any file is stored, the content keys a
// publication of m needs: the key of every encrypted base (Get) and, when
// encrypt is set, the new version's own (ForVersion, checked against the
// model's newest encrypted version in view). open opens the store; it is
// called only if a key is needed (a passphrase prompt comes only then).
// An encrypted base of a plaintext version is refused (ErrDeltaBase).
// A failure (no store, a wrong passphrase, a base key missing) changes
// nothing.
func ForPublication(open func() (KeyStore, error), view map[string]*metadata.TargetFiles, m *targets.Manifest, bases []Base, encrypt bool) (*Publication, error) {
	var store KeyStore
	get := func() (s KeyStore, err error) {
		switch {
		case store != nil:
		case open == nil:
			err = errors.New("content keys: no content key store given (mrepo: --keys and the content key passphrase)")
		default:
			store, err = open()
		}
		return store, err
	}
	// A plaintext version gets no patch from an encrypted base: the patch
	// would be published in plaintext, and a patch reveals its base (its
	// XOR and SUB regions hold new^old and new-old, and the new file is
	// public). Refused before the store is opened.
	for _, b := range bases {
		if b.Custom.Encrypted != nil && !encrypt {
			return nil, fmt.Errorf("%w: %s %s is encrypted and %s is not: a plaintext patch from it would reveal its plaintext (publish %s encrypted, or without a patch from %s)", ErrDeltaBase, m.ModelID, b.Version, m.Version, m.Version, b.Version)
		}
	}
	p := &Publication{Base: map[string]*modelcrypt.ContentKey{}}
	for _, b := range bases {
		if b.Custom.Encrypted == nil {
			continue
		}
		s, err := get()
		if err == nil {
			p.Base[b.Version], err = s.Get(m.ModelID, b.Version)
		}
		if err != nil {
			return nil, fmt.Errorf("delta base %s is encrypted: %w", b.Version, err)
		}
	}
	if !encrypt {
		return p, nil
	}
	s, err := get()
	if err == nil {
		p.Key, err = s.ForVersion(m.ModelID, m.Version, NewestEncrypted(view, m.ModelID))
	}
	return p, err
}
