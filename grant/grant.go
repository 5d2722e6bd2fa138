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
	"runtime"
	"sync"
	"time"

	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/modelcrypt"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
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
	// Workers seal and write envelopes in parallel; 0: 4 × GOMAXPROCS
	// (each envelope waits on an fsync, during which another worker
	// seals).
	Workers int
	// Progress, if set, is called with the envelopes done of those to
	// write, from one goroutine at a time.
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
	// Bytes is the size of the envelopes written.
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
// randomised) under caches that have it. Each new envelope is written to
// a temporary file, fsynced and renamed, so a crash leaves only complete
// envelopes under envelope names (and temporary files, removed by the
// next grant); the directory is fsynced once, at the end.
func Grant(r *repo.Repository, keys ContentKeys, modelID, version string, opts Options) (*Result, error) {
	start := time.Now()
	res := &Result{ModelID: modelID, Version: version, Devices: len(opts.Devices)}
	err := r.WithPublishedVersion(modelID, version, func(b *repo.Beside) error {
		ck, err := contentKey(b.Custom, keys, modelID, version)
		if err != nil {
			return err
		}
		dir := filepath.Join(b.TargetsDir, filepath.FromSlash(targets.EnvelopeDir(modelID, version)))
		present, err := listEnvelopes(b.Fs, dir)
		if err != nil {
			return err
		}
		sealer, err := modelcrypt.NewSealer(modelcrypt.Grant{ModelID: modelID, Version: version, ContentKey: ck.String()})
		if err != nil {
			return err
		}
		w := &writer{fs: b.Fs, dir: dir, sealer: sealer}
		wanted := make(map[string]bool, len(opts.Devices))
		var todo []job
		for _, d := range opts.Devices {
			name := modelcrypt.EnvelopeName(d.Recipient)
			if wanted[name] {
				continue
			}
			wanted[name] = true
			if fi, ok := present[name]; ok && fi.Mode().IsRegular() && fi.Size() > 0 && fi.Size() <= modelcrypt.MaxEnvelopeSize {
				res.Kept++
				continue
			}
			todo = append(todo, job{d: d, name: name})
		}
		if res.Bytes, err = w.writeAll(todo, opts.Workers, opts.Progress); err != nil {
			return err
		}
		res.Granted = len(todo)
		if opts.Prune {
			for name := range present {
				if wanted[name] {
					continue
				}
				if err := b.Fs.Remove(filepath.Join(dir, name)); err != nil {
					return fmt.Errorf("prune: %w", err)
				}
				res.Pruned++
			}
		}
		return atomicfs.SyncDir(b.Fs, dir)
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

// job is one envelope to write.
type job struct {
	d    modelcrypt.Device
	name string
}

// batchSize is how many envelopes are made durable together (one
// filesystem sync, then their renames): it bounds the temporary files a
// crash can leave and the work it loses.
const batchSize = 8192

// writer seals and writes envelopes of one grant.
type writer struct {
	fs     afero.Fs
	dir    string
	sealer *modelcrypt.Sealer
}

// writeAll writes the envelopes of todo and returns their total size.
// Per batch: workers seal each envelope and write it to a temporary file
// (atomicfs.TempPrefix + its name) in parallel; the batch is made durable
// with one filesystem sync (syncFiles), not one fsync per file, which on
// a journalling filesystem costs a journal commit each; then each
// temporary file is renamed to its name. A crash therefore leaves only
// complete envelopes under envelope names. On the first failure the grant
// stops; envelopes renamed already stay (each is complete).
func (w *writer) writeAll(todo []job, workers int, progress func(done, total int64)) (int64, error) {
	if workers <= 0 {
		workers = 4 * runtime.GOMAXPROCS(0)
	}
	var total int64
	for start := 0; start < len(todo); start += batchSize {
		batch := todo[start:min(start+batchSize, len(todo))]
		n, err := w.writeTemps(batch, workers)
		if err != nil {
			return total, err
		}
		temps := make([]string, len(batch))
		for i, j := range batch {
			temps[i] = w.temp(j)
		}
		if err := syncFiles(w.fs, w.dir, temps); err != nil {
			return total, err
		}
		for i, j := range batch {
			if err := w.fs.Rename(temps[i], filepath.Join(w.dir, j.name)); err != nil {
				return total, fmt.Errorf("%w: %s: %v", ErrEnvelopeDir, j.name, err)
			}
		}
		total += n
		if progress != nil {
			progress(int64(start+len(batch)), int64(len(todo)))
		}
	}
	return total, nil
}

func (w *writer) temp(j job) string {
	return filepath.Join(w.dir, atomicfs.TempPrefix+j.name)
}

// writeTemps seals the batch's envelopes into their temporary files with
// workers in parallel and returns their total size.
func (w *writer) writeTemps(batch []job, workers int) (int64, error) {
	jobs := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	var first error
	for range min(workers, len(batch)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				n, err := w.writeTemp(j)
				mu.Lock()
				total += int64(n)
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range batch {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	return total, first
}

// writeTemp seals one envelope into its temporary file (not synced).
func (w *writer) writeTemp(j job) (int, error) {
	data, err := w.sealer.Seal(j.d.Recipient)
	if err != nil {
		return 0, fmt.Errorf("envelope for %s: %w", j.d.Recipient, err)
	}
	f, err := w.fs.OpenFile(w.temp(j), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		w.fs.Remove(w.temp(j))
		return 0, err
	}
	return len(data), nil
}

// syncEach fsyncs each file named.
func syncEach(fs afero.Fs, names []string) error {
	for _, name := range names {
		f, err := fs.Open(name)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
