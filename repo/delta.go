package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// DefaultDeltaMinSaving is the share of a file's bytes a patch must save
// to be published when AddOptions.DeltaMinSaving is 0: a patch is
// published only when it is at most 70% of the file it rebuilds.
const DefaultDeltaMinSaving = 0.30

// DeltaResult reports one patch AddTarget considered.
type DeltaResult struct {
	// File is the payload file the patch rebuilds; Base the version whose
	// file it applies to.
	File string `json:"file"`
	Base string `json:"base"`
	// Target is the patch's target path (targets.DeltaPath), published or not.
	Target string `json:"target"`
	// Length is the patch's length (0 when none was computed); FileLength
	// the length of the file it rebuilds. Percent is Length as a share of
	// FileLength in percent, rounded to one decimal.
	Length     int64   `json:"length"`
	FileLength int64   `json:"file_length"`
	Percent    float64 `json:"percent"`
	// Published reports whether the patch became a target; SHA256 is set
	// when it did. Reason says why it was not.
	Published bool   `json:"published"`
	SHA256    string `json:"sha256,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// percent is part/whole in percent, rounded to one decimal.
func percent(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return math.Round(1000*float64(part)/float64(whole)) / 10
}

func formatPercent(p float64) string {
	return fmt.Sprintf("%.1f", p)
}

// checkDeltaOptions validates the delta options before anything is read.
func checkDeltaOptions(opts *AddOptions) (float64, error) {
	saving := opts.DeltaMinSaving
	if saving == 0 {
		saving = DefaultDeltaMinSaving
	}
	if math.IsNaN(saving) || saving <= 0 || saving >= 1 {
		return 0, fmt.Errorf("delta minimum saving %v: must be between 0 and 1 (exclusive), e.g. 0.30 for 30%%", opts.DeltaMinSaving)
	}
	if len(opts.DeltaFrom) > targets.MaxDeltaBases {
		return 0, fmt.Errorf("%w: at most %d base versions, got %d", ErrDeltaBase, targets.MaxDeltaBases, len(opts.DeltaFrom))
	}
	for _, b := range opts.DeltaFrom {
		if _, err := targets.ParseVersion(b); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrDeltaBase, err)
		}
	}
	return saving, nil
}

// deltaBase is a published version to compute patches from, with the
// signed targets of its payload files.
type deltaBase struct {
	version string // as published (the path component)
	files   map[string]*metadata.TargetFiles
}

// resolveDeltaBases checks that each requested base is a published version
// of the model, older than the new one, named once, and returns the bases
// with their payload targets. It runs before anything is written.
func resolveDeltaBases(st *state, m *targets.Manifest, from []string) ([]deltaBase, error) {
	if len(from) == 0 {
		return nil, nil
	}
	nv, err := targets.ParseVersion(m.Version)
	if err != nil {
		return nil, err
	}
	published := targets.PublishedVersions(st.targets.Signed.Targets)[m.ModelID]
	var list []string
	for _, pv := range published {
		list = append(list, pv.String())
	}
	var out []deltaBase
	seen := map[string]string{}
	for _, b := range from {
		bv, err := targets.ParseVersion(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrDeltaBase, err)
		}
		if bv.Compare(nv) >= 0 {
			return nil, fmt.Errorf("%w: %s %s is not older than the version being published, %s", ErrDeltaBase, m.ModelID, b, m.Version)
		}
		var match string
		for _, pv := range published {
			if pv.Compare(bv) == 0 {
				match = pv.String()
			}
		}
		if match == "" {
			if len(list) == 0 {
				return nil, fmt.Errorf("%w: %s %s is not published (no version of %s is)", ErrDeltaBase, m.ModelID, b, m.ModelID)
			}
			return nil, fmt.Errorf("%w: %s %s is not published (published: %s)", ErrDeltaBase, m.ModelID, b, strings.Join(list, ", "))
		}
		if prev, dup := seen[match]; dup {
			return nil, fmt.Errorf("%w: %s given twice (%s, %s)", ErrDeltaBase, match, prev, b)
		}
		seen[match] = b
		mp := targets.ManifestPath(m.ModelID, match)
		mtf := st.targets.Signed.Targets[mp]
		if mtf == nil {
			return nil, fmt.Errorf("%w: %s %s: no %s target", ErrDeltaBase, m.ModelID, match, mp)
		}
		c, err := targets.ParseCustom(mp, mtf.Custom)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrDeltaBase, m.ModelID, match, err)
		}
		db := deltaBase{version: match, files: map[string]*metadata.TargetFiles{}}
		for _, f := range c.Files {
			if tf := st.targets.Signed.Targets[targets.TargetPath(m.ModelID, match, f)]; tf != nil {
				db.files[f] = tf
			}
		}
		out = append(out, db)
	}
	return out, nil
}

// publishDeltas computes, for each base and each payload file of the new
// version that the base also has, a patch from the base's stored file to
// the new one, and stores it as a target when it saves at least minSaving
// of the file's bytes. newTargets holds the new version's payload targets
// (already stored); the patch targets are added to it. Only target files
// are written here, never metadata.
func (r *Repository) publishDeltas(m *targets.Manifest, files []string, bases []deltaBase, minSaving float64, newTargets map[string]*metadata.TargetFiles, progress func(string, int64, int64)) ([]DeltaResult, map[string][]targets.DeltaRef, error) {
	var results []DeltaResult
	refs := map[string][]targets.DeltaRef{}
	for _, b := range bases {
		for _, name := range files {
			newTF := newTargets[targets.TargetPath(m.ModelID, m.Version, name)]
			dr := DeltaResult{File: name, Base: b.version, Target: targets.DeltaPath(m.ModelID, m.Version, b.version, name), FileLength: newTF.Length}
			baseTF := b.files[name]
			if baseTF == nil {
				dr.Reason = fmt.Sprintf("%s has no %s", b.version, name)
				results = append(results, dr)
				continue
			}
			tf, err := r.storeDelta(dr.Target, baseTF, newTF, minSaving, &dr, progress)
			if err != nil {
				return nil, nil, err
			}
			if tf != nil {
				custom, err := (&targets.Custom{Kind: targets.KindDelta, SchemaVersion: targets.SchemaVersion, ModelID: m.ModelID,
					Version: m.Version, File: name, BaseVersion: b.version}).Marshal()
				if err != nil {
					return nil, nil, err
				}
				tf.Custom = custom
				newTargets[tf.Path] = tf
				refs[name] = append(refs[name], targets.DeltaRef{Base: b.version, Target: tf.Path})
			}
			results = append(results, dr)
		}
	}
	for f := range refs {
		sort.Slice(refs[f], func(i, j int) bool {
			vi, _ := targets.ParseVersion(refs[f][i].Base)
			vj, _ := targets.ParseVersion(refs[f][j].Base)
			return vi.Compare(vj) < 0
		})
	}
	if len(refs) == 0 {
		refs = nil
	}
	return results, refs, nil
}

// storedTarget opens a target's bytes under its consistent-snapshot name.
func (r *Repository) storedTarget(tf *metadata.TargetFiles) (afero.File, error) {
	name := filepath.Join(r.dir, TargetsDir, filepath.FromSlash(consistentName(tf.Path, tf.Hashes["sha256"])))
	f, err := r.fs.Open(name)
	if err != nil {
		return nil, fmt.Errorf("stored target %s: %w", tf.Path, err)
	}
	return f, nil
}

// countingReaderAt reports the bytes read through it.
type countingReaderAt struct {
	r    io.ReaderAt
	n    int64
	each func(n int64)
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	if c.each != nil {
		c.each(c.n)
	}
	return n, err
}

// storeDelta diffs the stored base file against the stored new file into
// a temporary file under the patch's target directory. It keeps the patch
// (under its consistent-snapshot name) only when it saves enough, after
// checking that its header names exactly the signed base and new files and
// that it applies; otherwise it removes it and says why in dr.
func (r *Repository) storeDelta(targetPath string, baseTF, newTF *metadata.TargetFiles, minSaving float64, dr *DeltaResult, progress func(string, int64, int64)) (*metadata.TargetFiles, error) {
	base, err := r.storedTarget(baseTF)
	if err != nil {
		return nil, err
	}
	defer base.Close()
	nf, err := r.storedTarget(newTF)
	if err != nil {
		return nil, err
	}
	defer nf.Close()

	dir := filepath.Join(r.dir, TargetsDir, filepath.FromSlash(path.Dir(targetPath)))
	tmp, err := atomicfs.Create(r.fs, dir, 0o644)
	if err != nil {
		return nil, err
	}
	defer tmp.Abort()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, h)}
	var src io.ReaderAt = nf
	label := fmt.Sprintf("delta %s from %s", dr.File, dr.Base)
	// Progress counts the bytes of the new file read, which Diff reads
	// about twice (hashed, then diffed); it completes once, at the end.
	total, last := 2*newTF.Length, int64(-1)
	report := func(done int64) {
		if progress != nil && done != last {
			last = done
			progress(label, done, total)
		}
	}
	report(0)
	if progress != nil {
		src = &countingReaderAt{r: nf, each: func(n int64) { report(min(n, max(total-1, 0))) }}
	}
	if _, err := delta.Diff(base, baseTF.Length, src, newTF.Length, cw, delta.Options{}); err != nil {
		return nil, fmt.Errorf("computing %s: %w", label, err)
	}
	report(total)
	dr.Length = cw.n
	dr.Percent = percent(cw.n, newTF.Length)
	if float64(cw.n) > (1-minSaving)*float64(newTF.Length) {
		saved := 100 - dr.Percent
		if saved <= 0 {
			dr.Reason = fmt.Sprintf("saves nothing (the patch is not smaller than the file; %s%% needed)", formatPercent(100*minSaving))
		} else {
			dr.Reason = fmt.Sprintf("saves only %s%% (%s%% needed)", formatPercent(saved), formatPercent(100*minSaving))
		}
		tmp.Abort()
		r.removeEmptyDirs(dir, 2) // deltas/<base>/ and deltas/, if this left them empty
		return nil, nil
	}
	if err := r.checkPatch(tmp.Name(), cw.n, base, baseTF, newTF); err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	sum := h.Sum(nil)
	final := filepath.Join(r.dir, TargetsDir, filepath.FromSlash(consistentName(targetPath, sum)))
	if err := tmp.Commit(final); err != nil {
		return nil, err
	}
	dr.Published, dr.SHA256 = true, hex.EncodeToString(sum)
	return &metadata.TargetFiles{Length: cw.n, Hashes: metadata.Hashes{"sha256": sum}, Path: targetPath}, nil
}

// checkPatch makes sure a patch about to be published does what its
// metadata will say: its header names the signed length and SHA-256 of the
// base and of the new file, and applying it to the stored base rebuilds
// the new file (Apply checks the output's length and SHA-256). A patch
// that fails here would make every device fall back to a full download.
func (r *Repository) checkPatch(patchName string, patchLen int64, base io.ReaderAt, baseTF, newTF *metadata.TargetFiles) error {
	pf, err := r.fs.Open(patchName)
	if err != nil {
		return err
	}
	defer pf.Close()
	hdr, err := delta.ReadHeader(pf, patchLen)
	if err != nil {
		return fmt.Errorf("the patch just written is unreadable: %w", err)
	}
	if hdr.BaseLength != baseTF.Length || !bytes.Equal(hdr.BaseSHA256[:], baseTF.Hashes["sha256"]) {
		return fmt.Errorf("stored target %s does not match its signed length and SHA-256 (run mrepo verify)", baseTF.Path)
	}
	if hdr.TargetLength != newTF.Length || !bytes.Equal(hdr.TargetSHA256[:], newTF.Hashes["sha256"]) {
		return fmt.Errorf("the patch rebuilds another file than %s (changed while publishing?)", newTF.Path)
	}
	if _, err := delta.Apply(base, baseTF.Length, pf, patchLen, io.Discard, delta.Limits{MaxOutput: newTF.Length}); err != nil {
		return fmt.Errorf("the patch just computed does not apply: %w", err)
	}
	return nil
}

// removeEmptyDirs removes dir and up to levels-1 of its parents while
// they are empty.
func (r *Repository) removeEmptyDirs(dir string, levels int) {
	for i := 0; i < levels; i++ {
		if empty, err := afero.IsEmpty(r.fs, dir); err != nil || !empty {
			return
		}
		if r.fs.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
