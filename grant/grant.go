// Package grant publishes per-device key envelopes (mrepo grant, key
// delivery "device", docs/encryption.md): the content key of one
// encrypted model version, wrapped for every enrolled device, one small
// age file per device beside the version's payload, under
// targets/models/<model_id>/<version>/keys/<modelcrypt.EnvelopeName>.
//
// Envelopes are not targets and change no metadata: a device checks the
// key an envelope gives it against the recipient the signed metadata
// names (targets.Encryption.Recipient), so a grant to 100,000 devices
// adds 100,000 small files and no signed bytes. The ciphertext of the
// version is never read or rewritten.
package grant

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age/tag"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/spf13/afero"
)

// Refusals of Grant: nothing is written.
var (
	// ErrNotEncrypted: the version is published in plaintext.
	ErrNotEncrypted = errors.New("the version is not encrypted")
	// ErrDelivery: the version's content key is not delivered by
	// per-device envelopes (its signed delivery is fleet or keyserver).
	ErrDelivery = errors.New("the version's key delivery is not \"device\"")
	// ErrKeyMismatch: the stored content key is not the one whose
	// recipient the version's signed metadata names.
	ErrKeyMismatch = errors.New("the stored content key is not the version's")
	// ErrEnvelopeDir: something other than envelopes blocks the
	// version's envelope directory (a file where it should be, a
	// directory under an envelope's name).
	ErrEnvelopeDir = errors.New("the envelope directory is unusable")
	// ErrRevoked: the version is revoked by the kill switch; no device
	// may install it, so its key is granted to none (the key service
	// refuses it too).
	ErrRevoked = errors.New("the version is revoked")
	// ErrNoDevices: Prune with an empty device list, which would remove
	// every envelope (an empty or truncated devices file is far more
	// likely a mistake than revoking the whole fleet).
	ErrNoDevices = errors.New("no devices to grant: with prune, every envelope would be removed")
)

// ContentKeys gives a version's content key; *contentkeys.Store does.
type ContentKeys interface {
	Get(modelID, version string) (*modelcrypt.ContentKey, error)
}

// Options of a grant.
type Options struct {
	// Devices are the enrolled devices (modelcrypt.ParseDevices).
	Devices []modelcrypt.Device
	// Prune removes the envelopes of devices not in Devices.
	Prune bool
	// Progress, if set, is called with the envelopes written of those to
	// write, after each batch.
	Progress func(done, total int64)
}

// Result of a grant.
type Result struct {
	ModelID string `json:"model_id"`
	Version string `json:"version"`
	// Devices is the number of devices in the devices file.
	Devices int `json:"devices"`
	// Granted: envelopes written; Kept: already present, left as they
	// were; Pruned: removed (Options.Prune).
	Granted int `json:"granted"`
	Kept    int `json:"kept"`
	Pruned  int `json:"pruned"`
	// Bytes is the size of the listed devices' envelopes (written and
	// kept).
	Bytes int64 `json:"bytes"`
	// Seconds is the wall time of the grant, key decryption included.
	Seconds float64 `json:"seconds"`
}

// Grant writes, for every device of opts.Devices that has none yet, the
// envelope of modelID@version's content key (from keys), under the
// repository's writer lock. It refuses a version that is not published
// (rollout.ErrNotPublished), not encrypted (ErrNotEncrypted), not of
// delivery "device" (ErrDelivery), or whose stored key is not the signed
// one (ErrKeyMismatch).
//
// An envelope already present is kept as it is: it holds the same key
// for the same device (a version's content key never changes), and
// rewriting it would only change its bytes (age encryption is
// randomised) under caches that have it. New envelopes are written in
// batches by targetstore.Store.PutEnvelopes (sealed on every CPU, written
// to temporary files, made durable with one filesystem sync, renamed), so
// a crash leaves only complete envelopes under envelope names, and
// temporary files that the next grant removes; the directory is fsynced
// once more at the end, after pruning.
func Grant(r *repo.Repository, keys ContentKeys, modelID, version string, opts Options) (*Result, error) {
	start := time.Now()
	res := &Result{ModelID: modelID, Version: version, Devices: len(opts.Devices)}
	if opts.Prune && len(opts.Devices) == 0 {
		return nil, ErrNoDevices
	}
	err := r.WithPublishedVersion(modelID, version, func(custom *targets.Custom, store targetstore.Store) error {
		ck, err := contentKey(custom, keys, modelID, version)
		if err != nil {
			return err
		}
		fs, dir := store.Fs, store.EnvelopeDir(modelID, version)
		present, err := listEnvelopes(fs, dir)
		if err != nil {
			return err
		}
		wanted := make(map[string]bool, len(opts.Devices))
		var todo []*tag.Recipient
		var names []string
		for _, d := range opts.Devices {
			name := modelcrypt.EnvelopeName(d.Recipient)
			if wanted[name] {
				continue
			}
			wanted[name] = true
			if present[name] {
				size, ok, err := complete(fs, filepath.Join(dir, name))
				if err != nil {
					return err
				}
				if ok {
					res.Kept++
					res.Bytes += size
					continue
				}
			}
			todo = append(todo, d.Recipient)
			names = append(names, name)
		}
		if err := writeAll(store, modelID, version, todo, ck, opts.Progress); err != nil {
			return err
		}
		res.Granted = len(todo)
		for _, name := range names {
			fi, err := fs.Stat(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			res.Bytes += fi.Size()
		}
		if opts.Prune {
			for name := range present {
				if wanted[name] {
					continue
				}
				if err := fs.Remove(filepath.Join(dir, name)); err != nil {
					return fmt.Errorf("prune: %w", err)
				}
				res.Pruned++
			}
		}
		return atomicfs.SyncDir(fs, dir)
	})
	if err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// contentKey checks the version's signed encryption field and returns its
// stored content key.
func contentKey(c *targets.Custom, keys ContentKeys, modelID, version string) (*modelcrypt.ContentKey, error) {
	enc := c.Encrypted
	if enc == nil {
		return nil, fmt.Errorf("%w: %s %s", ErrNotEncrypted, modelID, version)
	}
	if enc.Delivery != targets.DeliveryDevice {
		return nil, fmt.Errorf("%w: %s %s is delivered by %q", ErrDelivery, modelID, version, enc.Delivery)
	}
	if c.Revoked != nil {
		return nil, fmt.Errorf("%w: %s %s", ErrRevoked, modelID, version)
	}
	ck, err := keys.Get(modelID, version)
	if err != nil {
		return nil, err
	}
	if ck.Recipient() != enc.Recipient {
		return nil, fmt.Errorf("%w: %s %s is signed for %s, the stored key is %s's", ErrKeyMismatch, modelID, version, enc.Recipient, ck.Recipient())
	}
	return ck, nil
}

// listEnvelopes creates the envelope directory if need be, removes the
// temporary files a crashed grant left in it, and returns the names of
// its envelopes. It lists names only: a file's type and size are looked
// at when its device is listed (complete), so that granting again to
// 100,000 devices costs one listing and a stat each. Other files are left
// for mrepo verify to report.
func listEnvelopes(fs afero.Fs, dir string) (map[string]bool, error) {
	if fi, err := fs.Stat(dir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrEnvelopeDir, dir)
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	d, err := fs.Open(dir)
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	present := make(map[string]bool, len(names))
	for _, name := range names {
		switch {
		case atomicfs.IsTemp(name):
			if err := fs.Remove(filepath.Join(dir, name)); err != nil {
				return nil, err
			}
		case modelcrypt.IsEnvelopeName(name):
			present[name] = true
		}
	}
	return present, nil
}

// complete reports whether the file at path is a complete envelope to
// keep (a regular file of a possible size: grant renames only complete
// ones, but something else may have put a file there) and its size. A
// directory under an envelope's name is ErrEnvelopeDir.
func complete(fs afero.Fs, path string) (int64, bool, error) {
	fi, err := lstat(fs, path)
	if err != nil {
		return 0, false, err
	}
	if fi.IsDir() {
		return 0, false, fmt.Errorf("%w: %s is a directory", ErrEnvelopeDir, path)
	}
	ok := fi.Mode().IsRegular() && fi.Size() > 0 && fi.Size() <= modelcrypt.MaxEnvelopeSize
	return fi.Size(), ok, nil
}

// lstat does not follow a link where fs can tell one (a link under an
// envelope's name is replaced, not kept).
func lstat(fs afero.Fs, path string) (os.FileInfo, error) {
	if l, ok := fs.(afero.Lstater); ok {
		fi, _, err := l.LstatIfPossible(path)
		return fi, err
	}
	return fs.Stat(path)
}

// batchSize is how many envelopes are written together
// (targetstore.Store.PutEnvelopes: sealed in parallel, made durable with
// one filesystem sync, renamed): it bounds the temporary files a crash
// leaves and the work it loses, and paces the progress reports.
var batchSize = 8192

// writeAll writes the envelopes of the recipients in batches.
func writeAll(store targetstore.Store, modelID, version string, todo []*tag.Recipient, key *modelcrypt.ContentKey, progress func(done, total int64)) error {
	for start := 0; start < len(todo); start += batchSize {
		batch := todo[start:min(start+batchSize, len(todo))]
		if _, err := store.PutEnvelopes(modelID, version, batch, key); err != nil {
			return err
		}
		if progress != nil {
			progress(int64(start+len(batch)), int64(len(todo)))
		}
	}
	return nil
}
