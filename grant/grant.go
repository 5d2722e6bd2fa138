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
	"regexp"
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
	// Bytes is the size of all the version's envelopes after the grant.
	Bytes int64 `json:"bytes"`
	// Seconds is the wall time of the grant, key decryption included.
	Seconds float64 `json:"seconds"`
}

// envelopeName matches the names EnvelopeName gives.
var envelopeName = regexp.MustCompile(`^[0-9a-f]{64}\.age$`)

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
	err := r.WithPublishedVersion(modelID, version, func(b *repo.Beside) error {
		ck, err := contentKey(b.Custom, keys, modelID, version)
		if err != nil {
			return err
		}
		fs, dir := b.Store.Fs, b.Store.EnvelopeDir(modelID, version)
		present, err := listEnvelopes(fs, dir)
		if err != nil {
			return err
		}
		wanted := make(map[string]bool, len(opts.Devices))
		var todo []*tag.Recipient
		for _, d := range opts.Devices {
			name := modelcrypt.EnvelopeName(d.Recipient)
			if wanted[name] {
				continue
			}
			wanted[name] = true
			if fi, ok := present[name]; ok {
				if fi.IsDir() {
					return fmt.Errorf("%w: %s is a directory", ErrEnvelopeDir, filepath.Join(dir, name))
				}
				if fi.Mode().IsRegular() && fi.Size() > 0 && fi.Size() <= modelcrypt.MaxEnvelopeSize {
					res.Kept++
					continue
				}
			}
			todo = append(todo, d.Recipient)
		}
		if err := writeAll(b.Store, modelID, version, todo, ck, opts.Progress); err != nil {
			return err
		}
		res.Granted = len(todo)
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
		if err := atomicfs.SyncDir(fs, dir); err != nil {
			return err
		}
		res.Bytes, err = envelopeBytes(fs, dir)
		return err
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
// temporary files a crashed grant left in it, and returns its envelopes
// by name. Other files are left for mrepo verify to report.
func listEnvelopes(fs afero.Fs, dir string) (map[string]os.FileInfo, error) {
	if fi, err := fs.Stat(dir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrEnvelopeDir, dir)
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := atomicfs.RemoveStale(fs, dir); err != nil {
		return nil, err
	}
	infos, err := afero.ReadDir(fs, dir)
	if err != nil {
		return nil, err
	}
	present := make(map[string]os.FileInfo, len(infos))
	for _, fi := range infos {
		if envelopeName.MatchString(fi.Name()) {
			present[fi.Name()] = fi
		}
	}
	return present, nil
}

// batchSize is how many envelopes are written together
// (targetstore.Store.PutEnvelopes: sealed in parallel, made durable with
// one filesystem sync, renamed): it bounds the temporary files a crash
// leaves and the work it loses, and paces the progress reports.
const batchSize = 8192

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

// envelopeBytes is the total size of the envelopes in dir.
func envelopeBytes(fs afero.Fs, dir string) (int64, error) {
	infos, err := afero.ReadDir(fs, dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, fi := range infos {
		if envelopeName.MatchString(fi.Name()) {
			n += fi.Size()
		}
	}
	return n, nil
}
