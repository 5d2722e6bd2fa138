package keys

import (
	"fmt"
	"path/filepath"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
)

// Reencrypt writes the key file NAME.key of d again with today's key
// derivation for its class (kdfParams), keeping the key itself (its ID,
// its NAME.pub): what moves online keys written before 2026-12 (scrypt
// N=2^15, 32 MiB) to onlineParams (8 MiB). The current passphrase comes
// from d.Passphrase; the new one from newPass (asked with confirmation),
// or is the current one when newPass is nil. A key encrypted as an
// offline key stays one; offline makes an online key offline. The file
// is replaced atomically (written, synced, renamed), so a reader sees
// the old file or the new one, never a part of either.
func (d *Dir) Reencrypt(name string, newPass PassphraseFunc, offline bool) (*Key, error) {
	if err := d.checkDir(); err != nil {
		return nil, err
	}
	if name == "" || filepath.Base(name) != name || name[0] == '.' {
		return nil, fmt.Errorf("key name %q: not a file name in the key directory", name)
	}
	if d.Passphrase == nil {
		return nil, fmt.Errorf("key %s needs a passphrase and none was given", name)
	}
	p := filepath.Join(d.Path, name+KeySuffix)
	f, err := readKeyFile(d.FS, p)
	if err != nil {
		return nil, err
	}
	purpose := fmt.Sprintf("key %s (%s)", f.Name, ShortID(f.KeyID))
	pass, err := d.Passphrase(purpose, false)
	if err != nil {
		return nil, err
	}
	k, err := f.Decrypt(pass)
	if err != nil {
		return nil, err
	}
	if newPass != nil {
		if pass, err = newPass("new passphrase of "+purpose, true); err != nil {
			return nil, err
		}
	}
	k.Offline = k.Offline || offline
	data, err := EncodeFile(k, pass)
	if err != nil {
		return nil, err
	}
	if err := atomicfs.WriteFile(d.FS, p, data, 0o600); err != nil {
		return nil, err
	}
	return k, nil
}
