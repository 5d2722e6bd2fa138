// TF.js weight shards: their tensor tables live in the model.json next to
// them, not in the shard, so Create finds the manifests and hands Diff
// the regions of the paired tensors.

package deltafiles

import (
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/delta/container"
	"github.com/spf13/afero"
)

// manifestName is the TF.js model file looked for next to OLD and NEW.
const manifestName = "model.json"

// tensorRegions returns the regions of the TF.js tensors of OLD and NEW
// and the stats to report: from the manifests opts names (an error if
// they do not describe the files), else from a model.json next to each
// file when both name it (nothing if not), else nil: Diff then reads the
// files' own containers, if any.
func tensorRegions(fs afero.Fs, oldPath string, oldLen int64, newPath string, newLen int64, opts CreateOptions) ([]delta.Region, *delta.Stats, error) {
	if opts.NoContainers {
		return nil, nil, nil
	}
	explicit := opts.OldManifest != "" || opts.NewManifest != ""
	if explicit && (opts.OldManifest == "" || opts.NewManifest == "") {
		return nil, nil, errors.New("--old-manifest and --new-manifest go together")
	}
	oldM, newM := opts.OldManifest, opts.NewManifest
	if !explicit {
		oldM, newM = filepath.Join(filepath.Dir(oldPath), manifestName), filepath.Join(filepath.Dir(newPath), manifestName)
	}
	ot, oerr := shardTable(fs, oldM, oldPath, oldLen, explicit)
	nt, nerr := shardTable(fs, newM, newPath, newLen, explicit)
	if err := errors.Join(oerr, nerr); err != nil {
		if explicit {
			return nil, nil, err
		}
		return nil, nil, nil
	}
	pairs := container.PairTensors(ot, nt)
	regions := container.Moves(pairs)
	if regions == nil {
		regions = []delta.Region{} // not nil: Diff must not look for containers in the shard
	}
	return regions, &delta.Stats{Container: string(container.TFJS), PairedTensors: len(pairs), MovedTensors: len(regions)}, nil
}

// shardTable reads the tensors of the weight shard at shardPath (size
// bytes) from the TF.js manifest at manifestPath, which names the shard
// by its path relative to the manifest's directory. A manifest given on
// the command line (explicit) that names one shard describes the file
// whatever its name (a shard copied or renamed).
func shardTable(fs afero.Fs, manifestPath, shardPath string, size int64, explicit bool) (*container.Table, error) {
	f, n, err := openRegular(fs, manifestPath, "manifest")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if n > container.DefaultLimits.MaxHeader {
		return nil, fmt.Errorf("manifest %s: %d bytes: %w", manifestPath, n, container.ErrFormat)
	}
	data, err := io.ReadAll(io.LimitReader(f, container.DefaultLimits.MaxHeader))
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", manifestPath, err)
	}
	absM, err1 := filepath.Abs(filepath.Dir(manifestPath))
	absS, err2 := filepath.Abs(shardPath)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(absM, absS)
	if err != nil {
		return nil, err
	}
	t, err := container.ParseTFJS(data, path.Clean(filepath.ToSlash(rel)), size, container.DefaultLimits)
	if errors.Is(err, container.ErrUnknown) && explicit {
		if only, oerr := container.ParseTFJS(data, "", size, container.DefaultLimits); !errors.Is(oerr, container.ErrUnknown) {
			t, err = only, oerr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", manifestPath, err)
	}
	return t, nil
}

// TensorLine describes the tensors Create paired, or is "" when neither
// file was a model container.
func (r *CreateResult) TensorLine() string {
	if r.Stats == nil || r.Stats.Container == "" {
		return ""
	}
	return fmt.Sprintf("Tensors (%s): %d paired by name or shape, %d of them moved", r.Stats.Container, r.Stats.PairedTensors, r.Stats.MovedTensors)
}
