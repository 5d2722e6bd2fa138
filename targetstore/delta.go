package targetstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/atomicfs"
	"github.com/edgetuf/edgetuf/internal/patchstat"
	"github.com/edgetuf/edgetuf/release"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// DefaultDeltaMinSaving is the share of a file's bytes a patch must save
// to be published unless the publisher says otherwise (repo's
// AddOptions.DeltaMinSaving, mrepo add-target --delta-min-saving): a
// patch is published only when it is at most 70% of the file it rebuilds.
const DefaultDeltaMinSaving = 0.30

// DeltaPolicy says which patches PutDeltas publishes and how it computes
// them.
type DeltaPolicy struct {
	// MinSaving is the share of a file's bytes a patch must save.
	MinSaving float64
	// FastApply computes patches with delta.Options.FastApply: no
	// adaptive blocks, which devices decode at a few MB/s.
	FastApply bool
}

// DeltaResult reports one patch PutDeltas considered (add-target's
// report, also as JSON: the field names are part of mrepo's output).
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

// formatPercent is how a patch's saving is stated in DeltaResult.Reason.
func formatPercent(p float64) string {
	return fmt.Sprintf("%.1f", p)
}

// DeltaBase is a published version to compute patches from, with the
// signed targets of its payload files by file name.
type DeltaBase struct {
	Version string // as published (the path component)
	Files   map[string]*metadata.TargetFiles
	// Encrypted is set when the base version is encrypted: its files are
	// decrypted (and checked) before they are diffed.
	Encrypted *EncryptedFiles
}

// DeltaBasesOf gives each base version (package release's, resolved in
// view, the signed targets clients resolve) its payload targets and, for
// an encrypted base, its files' signed plaintexts (the caller sets the
// content key).
func DeltaBasesOf(view map[string]*metadata.TargetFiles, modelID string, bases []release.Base) ([]DeltaBase, error) {
	out := make([]DeltaBase, len(bases))
	for i, b := range bases {
		out[i] = DeltaBase{Version: b.Version, Files: map[string]*metadata.TargetFiles{}}
		for _, f := range b.Custom.Files {
			if tf := view[targets.TargetPath(modelID, b.Version, f)]; tf != nil {
				out[i].Files[f] = tf
			}
		}
		plain, err := release.Plaintexts(view, b.Custom)
		if err != nil {
			return nil, err
		}
		if plain != nil {
			out[i].Encrypted = &EncryptedFiles{Plain: plain}
		}
	}
	return out, nil
}

// PutDeltas computes, for each base and each payload file of the new
// version m that the base also has, a patch from the base's stored file
// to the new one, and stores it as a target (targets.DeltaPath, with its
// custom metadata) when it saves at least policy.MinSaving of the file's bytes.
// newTargets holds the new version's payload targets (already stored);
// the patch targets are added to it. It returns a result for every patch
// considered, published or not, and the published ones by file, as the
// manifest target's custom metadata lists them (nil if none). Only target
// files are written here, never metadata.
//
// Patches are always computed between plaintexts: an encrypted base's
// file (DeltaBase.Encrypted) and, when the new version is encrypted (enc
// not nil), the new file are decrypted into TmpDir first. The patch of an
// encrypted version is published encrypted under its content key, with
// the patch's plaintext length and SHA-256 in its custom metadata, and
// the minimum saving compares the encrypted patch with the encrypted file.
func (s Store) PutDeltas(m *targets.Manifest, files []string, bases []DeltaBase, policy DeltaPolicy, newTargets map[string]*metadata.TargetFiles, enc *EncryptedFiles, progress func(string, int64, int64)) ([]DeltaResult, map[string][]targets.DeltaRef, error) {
	var results []DeltaResult
	refs := map[string][]targets.DeltaRef{}
	for _, b := range bases {
		for _, name := range files {
			newTF := newTargets[targets.TargetPath(m.ModelID, m.Version, name)]
			dr := DeltaResult{File: name, Base: b.Version, Target: targets.DeltaPath(m.ModelID, m.Version, b.Version, name), FileLength: newTF.Length}
			baseTF := b.Files[name]
			if baseTF == nil {
				dr.Reason = fmt.Sprintf("%s has no %s", b.Version, name)
				results = append(results, dr)
				continue
			}
			tf, plain, err := s.putDelta(dr.Target, name, b, newTF, enc, policy, &dr, progress)
			if err != nil {
				return nil, nil, err
			}
			if tf != nil {
				c := &targets.Custom{Kind: targets.KindDelta, SchemaVersion: targets.SchemaVersion, ModelID: m.ModelID,
					Version: m.Version, File: name, BaseVersion: b.Version}
				if plain != nil {
					c.Plaintext, c.Critical = plain, []string{targets.FieldPlaintext}
				}
				custom, err := c.Marshal()
				if err != nil {
					return nil, nil, err
				}
				tf.Custom = custom
				newTargets[tf.Path] = tf
				refs[name] = append(refs[name], targets.DeltaRef{Base: b.Version, Target: tf.Path})
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

// putDelta diffs the base file's plaintext against the new file's into a
// temporary file (under the patch's target directory; in TmpDir when the
// new version is encrypted). It keeps the patch (under its
// consistent-snapshot name, encrypted under enc's key if enc is set) only
// when it saves enough, after checking that its header names exactly the
// signed plaintexts of the base and new files and that it applies;
// otherwise it removes it and says why in dr. For an encrypted patch it
// also returns the patch's plaintext.
func (s Store) putDelta(targetPath, file string, b DeltaBase, newTF *metadata.TargetFiles, enc *EncryptedFiles, policy DeltaPolicy, dr *DeltaResult, progress func(string, int64, int64)) (*metadata.TargetFiles, *targets.Plaintext, error) {
	base, err := s.openPlain(b.Files[file], file, b.Encrypted)
	if err != nil {
		return nil, nil, err
	}
	defer base.close()
	nf, err := s.openPlain(newTF, file, enc)
	if err != nil {
		return nil, nil, err
	}
	defer nf.close()

	dir := s.dir(targetPath)
	var tmp *atomicfs.File
	if enc != nil {
		tmp, err = s.tmpFile()
	} else {
		tmp, err = atomicfs.Create(s.Fs, dir, 0o644)
	}
	if err != nil {
		return nil, nil, err
	}
	defer tmp.Abort()
	// A plaintext patch is hashed as it is written; an encrypted one's
	// plaintext is hashed when it is encrypted (putEncrypted), and the
	// target's hash is the ciphertext's.
	h := sha256.New()
	cw := &patchstat.Writer{W: io.MultiWriter(tmp, h)}
	if enc != nil {
		cw.W = tmp
	}
	var src io.ReaderAt = nf.f
	label := fmt.Sprintf("delta %s from %s", dr.File, dr.Base)
	// Progress counts the bytes of the new file read, which Diff reads
	// about twice (hashed, then diffed); it completes once, at the end.
	total, last := 2*nf.tf.Length, int64(-1)
	report := func(done int64) {
		if progress != nil && done != last {
			last = done
			progress(label, done, total)
		}
	}
	report(0)
	if progress != nil {
		src = &patchstat.ReaderAt{R: nf.f, Each: func(n int64) { report(min(n, max(total-1, 0))) }}
	}
	if _, err := delta.Diff(base.f, base.tf.Length, src, nf.tf.Length, cw, delta.Options{FastApply: policy.FastApply}); err != nil {
		return nil, nil, fmt.Errorf("computing %s: %w", label, err)
	}
	report(total)
	tooLong := func(n int64) bool {
		dr.Length = n
		dr.Percent = patchstat.Percent(n, newTF.Length)
		if float64(n) <= (1-policy.MinSaving)*float64(newTF.Length) {
			return false
		}
		saved := 100 - dr.Percent
		if saved <= 0 {
			dr.Reason = fmt.Sprintf("saves nothing (the patch is not smaller than the file; %s%% needed)", formatPercent(100*policy.MinSaving))
		} else {
			dr.Reason = fmt.Sprintf("saves only %s%% (%s%% needed)", formatPercent(saved), formatPercent(100*policy.MinSaving))
		}
		return true
	}
	dropped := func() (*metadata.TargetFiles, *targets.Plaintext, error) {
		tmp.Abort()
		s.removeEmptyDirs(dir, 2) // deltas/<base>/ and deltas/, if this left them empty
		return nil, nil, nil
	}
	if enc == nil && tooLong(cw.N) {
		return dropped()
	}
	if err := s.checkPatch(tmp.Name(), cw.N, base.f, base.tf, nf.tf); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", label, err)
	}
	if enc != nil {
		return s.encryptPatch(targetPath, tmp.Name(), enc, func(n int64) bool { return !tooLong(n) }, dr, dropped)
	}
	sum := h.Sum(nil)
	if err := tmp.Commit(s.path(targetPath, sum)); err != nil {
		return nil, nil, err
	}
	dr.Published, dr.SHA256 = true, hex.EncodeToString(sum)
	return &metadata.TargetFiles{Length: cw.N, Hashes: metadata.Hashes{"sha256": sum}, Path: targetPath}, nil, nil
}

// encryptPatch stores the checked plaintext patch in the file plainName
// encrypted under enc's key as targetPath, if keep accepts the
// ciphertext's length (otherwise it calls dropped).
func (s Store) encryptPatch(targetPath, plainName string, enc *EncryptedFiles, keep func(int64) bool, dr *DeltaResult, dropped func() (*metadata.TargetFiles, *targets.Plaintext, error)) (*metadata.TargetFiles, *targets.Plaintext, error) {
	pf, err := s.Fs.Open(plainName)
	if err != nil {
		return nil, nil, err
	}
	defer pf.Close()
	tf, plain, err := s.putEncrypted(targetPath, pf, -1, nil, nil, enc.Key.Recipient(), keep)
	if err != nil {
		return nil, nil, err
	}
	if tf == nil {
		return dropped()
	}
	dr.Published, dr.SHA256 = true, hex.EncodeToString(tf.Hashes["sha256"])
	return tf, plain, nil
}

// checkPatch makes sure a patch about to be published does what its
// metadata will say: its header names the signed length and SHA-256 of the
// base and of the new file, and applying it to the stored base rebuilds
// the new file (Apply checks the output's length and SHA-256). A patch
// that fails here would make every device fall back to a full download.
func (s Store) checkPatch(patchName string, patchLen int64, base io.ReaderAt, baseTF, newTF *metadata.TargetFiles) error {
	pf, err := s.Fs.Open(patchName)
	if err != nil {
		return err
	}
	defer pf.Close()
	hdr, err := delta.ReadHeader(pf, patchLen)
	if err != nil {
		return fmt.Errorf("the patch just written is unreadable: %w", err)
	}
	if !hdr.BaseIs(baseTF.Length, baseTF.Hashes["sha256"]) {
		return fmt.Errorf("stored target %s does not match its signed length and SHA-256 (run mrepo verify)", baseTF.Path)
	}
	if !hdr.TargetIs(newTF.Length, newTF.Hashes["sha256"]) {
		return fmt.Errorf("the patch rebuilds another file than %s (changed while publishing?)", newTF.Path)
	}
	if _, err := delta.Apply(base, baseTF.Length, pf, patchLen, io.Discard, delta.Limits{MaxOutput: newTF.Length, BaseSHA256: baseTF.Hashes["sha256"], TargetSHA256: newTF.Hashes["sha256"]}); err != nil {
		return fmt.Errorf("the patch just computed does not apply: %w", err)
	}
	return nil
}

// removeEmptyDirs removes dir and up to levels-1 of its parents while
// they are empty.
func (s Store) removeEmptyDirs(dir string, levels int) {
	for i := 0; i < levels; i++ {
		if empty, err := afero.IsEmpty(s.Fs, dir); err != nil || !empty {
			return
		}
		if s.Fs.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}
