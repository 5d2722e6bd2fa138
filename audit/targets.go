package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/repofiles"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/telemetry"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// modelVersion gathers the targets of one model version.
type modelVersion struct {
	manifestPath string
	manifest     *targets.Custom
	manifestData []byte // set when the file verified
	payloads     map[string]*metadata.TargetFiles
	// plain holds the signed plaintext of each payload of an encrypted
	// version (targets.Plaintext), by file.
	plain       map[string]*targets.Plaintext
	payloadSeen map[string]bool
	deltas      map[string]*deltaTarget // by target path
}

// deltaTarget is a signed patch target and what its header says.
type deltaTarget struct {
	custom    *targets.Custom
	header    *delta.Header // nil if the file failed or its header did not parse
	headerErr error
}

// targetJob is one target to check: the checks that need no file bytes
// are done in order while the jobs are listed, the hashing in parallel.
type targetJob struct {
	role   string
	path   string
	tf     *metadata.TargetFiles
	custom *targets.Custom
	keep   bool      // keep the bytes (a manifest, to compare its content)
	patch  bool      // read the patch header (a delta target)
	pre    []Problem // found before reading the file
	res    targetResult
}

// targetResult is what reading one target file found.
type targetResult struct {
	data      []byte
	ok        bool
	problems  []Problem
	header    *delta.Header // patch header, when asked for
	headerErr error
}

// verifyTargetFiles checks every target's bytes and the model structure.
// Files are hashed by a few workers at once (hashing one file leaves the
// disk idle half the time); problems are reported in path order whatever
// the order the workers finish in.
func (v *verifier) verifyTargetFiles(root *metadata.Metadata[metadata.RootType], roles []verifiedRole) {
	var jobs []*targetJob
	newPaths := map[string]bool{} // incremental: targets the baseline did not list
	for i, r := range roles {
		r.fresh = v.fresh(root, r)
		roles[i].fresh = r.fresh
		paths := make([]string, 0, len(r.md.Signed.Targets))
		for p := range r.md.Signed.Targets {
			if isNew, ok := r.fresh[p]; r.fresh == nil || ok {
				paths = append(paths, p)
				newPaths[p] = isNew
			}
		}
		sort.Strings(paths)
		for _, p := range paths {
			j := &targetJob{role: r.name, path: p, tf: r.md.Signed.Targets[p]}
			if r.outside(p) {
				j.pre = append(j.pre, mkProblem(DelegationViolation, r.name, p, "role %s is not delegated this path; clients will not find it", r.name))
			}
			_, index := targets.IsVersionIndexPath(p)
			if strings.HasPrefix(p, targets.ModelsDir+"/") && !index {
				c, err := targets.ParseCustom(p, j.tf.Custom)
				switch {
				case errors.Is(err, targets.ErrControl):
					j.pre = append(j.pre, mkProblem(ControlInvalid, r.name, p, "%v", err))
				case err != nil:
					j.pre = append(j.pre, mkProblem(customCode(j.tf.Custom), r.name, p, "%v", err))
				default:
					j.custom = c
				}
			}
			j.keep = j.custom != nil && j.custom.Kind == targets.KindManifest && j.tf.Length <= targets.MaxManifestSize ||
				index && j.tf.Length <= targets.MaxVersionIndexSize ||
				p == telemetry.SamplingTarget && j.tf.Length <= telemetry.MaxSamplingBytes
			// An encrypted patch's header is inside its ciphertext: only
			// a content key holder can read it.
			j.patch = j.custom != nil && j.custom.Kind == targets.KindDelta && j.custom.Plaintext == nil
			jobs = append(jobs, j)
		}
	}

	workers := min(runtime.GOMAXPROCS(0), 4, len(jobs))
	next := make(chan *targetJob)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for j := range next {
				j.res = v.checkTargetFile(root, j.path, j.tf, j.keep, j.patch, buf)
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()

	v.collectControls(jobs)
	models := map[string]*modelVersion{} // key: models/<id>/<version>
	for _, j := range jobs {
		v.rep.Targets++
		v.rep.TargetBytes += j.tf.Length
		for _, pr := range append(j.pre, j.res.problems...) {
			v.add(pr)
		}
		if j.custom == nil {
			continue
		}
		pp, _ := targets.ParseTargetPath(j.path)
		dir := targets.TargetDir(pp.ModelID, pp.Version)
		mv := models[dir]
		if mv == nil {
			mv = &modelVersion{payloads: map[string]*metadata.TargetFiles{}, plain: map[string]*targets.Plaintext{}, payloadSeen: map[string]bool{}, deltas: map[string]*deltaTarget{}}
			models[dir] = mv
		}
		switch j.custom.Kind {
		case targets.KindManifest:
			mv.manifestPath, mv.manifest = j.path, j.custom
			if j.res.ok {
				mv.manifestData = j.res.data
			}
		case targets.KindPayload:
			mv.payloads[pp.File] = j.tf
			if j.custom.Plaintext != nil {
				mv.plain[pp.File] = j.custom.Plaintext
			}
		case targets.KindDelta:
			mv.deltas[j.path] = &deltaTarget{custom: j.custom, header: j.res.header, headerErr: j.res.headerErr}
		}
	}
	dirs := make([]string, 0, len(models))
	for d := range models {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		// Incremental: a version first published since the baseline has
		// every target in the roles read; the checks across versions
		// need them all, and are left to a full verify.
		if v.base == nil || newPaths[models[d].manifestPath] {
			v.checkModelVersion(d, models[d])
		}
	}
	v.checkSampling(jobs)
	if v.base != nil {
		return
	}
	for _, d := range dirs {
		v.checkDeltas(models[d], models)
		v.checkEncryption(models[d], models)
	}
	v.checkEnvelopes(models)
	v.checkPrecedence(models)
	v.checkEpochs(models)
	v.checkVersionIndexes(jobs, models)
}

// checkPrecedence reports versions of one model that have the same semver
// precedence: they differ only in build metadata, so neither is newer,
// and a device cannot choose between them (mrepo add-target refuses to
// publish such a version; another tool may not).
func (v *verifier) checkPrecedence(models map[string]*modelVersion) {
	byModel := publishedByModel(models)
	for _, id := range slices.Sorted(maps.Keys(byModel)) {
		vs := byModel[id]
		for i := 1; i < len(vs); i++ {
			if vs[i].v.Compare(vs[i-1].v) == 0 {
				v.problem(VersionAmbiguous, "", vs[i].path, "%s %s has the same precedence as %s %s (they differ only in build metadata, which semantic versioning ignores): devices cannot tell which is newer; remove one and publish a higher version", id, vs[i].v, id, vs[i-1].v)
			}
		}
		folded := map[string]string{}
		for _, p := range vs {
			k := targets.FoldName(p.v.String())
			if other, ok := folded[k]; ok {
				v.problem(VersionAmbiguous, "", p.path, "%s %s differs only in case from %s %s: their directories collide on case-insensitive filesystems (SD cards), and devices ignore both", id, p.v, id, other)
				continue
			}
			folded[k] = p.v.String()
		}
	}
}

// checkTargetFile streams one target's bytes through SHA-256, bounded by
// the signed length. It returns the bytes only when asked (manifests), and
// the patch header of a delta target when asked. It runs on worker
// goroutines, so it reports problems in its result.
func (v *verifier) checkTargetFile(root *metadata.Metadata[metadata.RootType], p string, tf *metadata.TargetFiles, keep, patch bool, buf []byte) targetResult {
	var res targetResult
	fail := func(code Code, format string, args ...any) targetResult {
		res.problems = append(res.problems, mkProblem(code, "", p, format, args...))
		return res
	}
	want := tf.Hashes["sha256"]
	if len(want) != sha256.Size {
		return fail(MetadataInvalid, "no SHA-256 hash in the signed metadata")
	}
	if len(tf.Hashes) > 1 {
		fail(MetadataInvalid, "hashes other than sha256: go-tuf clients then pick the file name prefix at random")
	}
	rel := p
	if root.Signed.ConsistentSnapshot {
		rel = repofiles.ConsistentName(p, want)
	}
	f, err := v.fs.Open(filepath.Join(v.dir, repofiles.TargetsDir, filepath.FromSlash(rel)))
	if err != nil {
		return fail(TargetMissing, "targets/%s: %v", rel, errors.Unwrap(err))
	}
	defer f.Close()
	h := sha256.New()
	var kept bytes.Buffer
	var w io.Writer = h
	if keep {
		w = io.MultiWriter(h, &kept)
	}
	n, err := io.CopyBuffer(struct{ io.Writer }{w}, io.LimitReader(f, tf.Length+1), buf)
	if err != nil {
		return fail(TargetMissing, "reading targets/%s: %v", rel, err)
	}
	if n != tf.Length {
		return fail(LengthMismatch, "targets/%s: signed length %d, file has %s", rel, tf.Length, lengthDesc(n, tf.Length))
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return fail(HashMismatch, "targets/%s: SHA-256 %s, signed %s", rel, hex.EncodeToString(got), hex.EncodeToString(want))
	}
	res.data, res.ok = kept.Bytes(), true
	if patch {
		res.header, res.headerErr = delta.ReadHeader(f, tf.Length)
	}
	return res
}

func lengthDesc(n, want int64) string {
	if n > want {
		return "more"
	}
	return fmt.Sprintf("%d", n)
}

// checkModelVersion checks that a model version's manifest, its signed
// custom metadata and its payload targets agree with each other.
func (v *verifier) checkModelVersion(dir string, mv *modelVersion) {
	if mv.manifest == nil {
		v.problem(ManifestMismatch, "", dir, "payload or delta targets without a %s target", targets.ManifestName)
		return
	}
	p := mv.manifestPath
	for _, name := range mv.manifest.Files {
		if mv.payloads[name] == nil {
			v.problem(ManifestMismatch, "", p, "lists %s, which is not a signed payload target", name)
		}
		mv.payloadSeen[name] = true
	}
	for name := range mv.payloads {
		if !mv.payloadSeen[name] {
			v.problem(ManifestMismatch, "", dir+"/"+name, "payload target not listed by the manifest")
		}
	}
	if mv.manifestData == nil {
		return // its bytes already failed; nothing trustworthy to compare
	}
	m, err := targets.ParsePublishedManifest(mv.manifestData)
	if err != nil {
		v.problem(ManifestInvalid, "", p, "%v", err)
		return
	}
	if m.ModelID != mv.manifest.ModelID || m.Version != mv.manifest.Version {
		v.problem(ManifestMismatch, "", p, "manifest names %s %s", m.ModelID, m.Version)
	}
	if !reflect.DeepEqual(m.Compat, mv.manifest.Compat) {
		v.problem(ManifestMismatch, "", p, "compatibility fields differ between the manifest and the signed custom metadata")
	}
	if m.BuildTimestamp != mv.manifest.BuildTimestamp {
		v.problem(ManifestMismatch, "", p, "build_timestamp differs between the manifest and the signed custom metadata")
	}
	if !reflect.DeepEqual(m.SortedFileNames(), mv.manifest.Files) {
		v.problem(ManifestMismatch, "", p, "file list differs between the manifest and the signed custom metadata")
	}
	if !reflect.DeepEqual(m.Encrypted, mv.manifest.Encrypted) {
		v.problem(EncryptionInvalid, "", p, "encrypted differs between the manifest and the signed custom metadata")
	}
	for _, f := range m.Files {
		id, ok := mv.installed(f.Path)
		if !ok {
			continue
		}
		if *f.Size != id.length || f.SHA256 != id.sha256 {
			v.problem(ManifestMismatch, "", p, "%s: manifest says %d bytes %s, signed %s says %d bytes %s",
				f.Path, *f.Size, short(f.SHA256), id.what, id.length, short(id.sha256))
		}
	}
}

// checkDeltas checks a model version's patches against its manifest's
// signed list of them and against the files they connect: every listed
// patch is a signed delta target, every delta target is listed (a device
// uses only listed ones), its base version is published with that file,
// and its header names exactly the signed base and new files.
func (v *verifier) checkDeltas(mv *modelVersion, models map[string]*modelVersion) {
	listed := map[string]bool{}
	if mv.manifest != nil {
		files := make([]string, 0, len(mv.manifest.Deltas))
		for f := range mv.manifest.Deltas {
			files = append(files, f)
		}
		sort.Strings(files)
		for _, f := range files {
			for _, ref := range mv.manifest.Deltas[f] {
				listed[ref.Target] = true
				if mv.deltas[ref.Target] == nil {
					v.problem(DeltaMissing, "", mv.manifestPath, "lists a patch of %s from %s, %s, which is not a signed %s target", f, ref.Base, ref.Target, targets.KindDelta)
				}
			}
		}
	}
	paths := make([]string, 0, len(mv.deltas))
	for p := range mv.deltas {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		d := mv.deltas[p]
		c := d.custom
		if mv.manifest != nil && !listed[p] {
			v.problem(DeltaUnlisted, "", p, "not listed in the deltas of %s; devices never use it", mv.manifestPath)
		}
		// A patch connects plaintexts: an encrypted file's is its signed
		// plaintext field.
		var baseID, newID *fileID
		base := models[targets.TargetDir(c.ModelID, c.BaseVersion)]
		switch {
		case base == nil || base.manifest == nil:
			v.problem(DeltaBadBase, "", p, "base version %s of %s is not published", c.BaseVersion, c.ModelID)
		case !slices.Contains(base.manifest.Files, c.File) || base.payloads[c.File] == nil:
			v.problem(DeltaBadBase, "", p, "base version %s has no %s", c.BaseVersion, c.File)
		default:
			if id, ok := base.installed(c.File); ok {
				baseID = &id
			}
		}
		if id, ok := mv.installed(c.File); ok {
			newID = &id
		}
		if mv.manifest != nil && (newID == nil || !slices.Contains(mv.manifest.Files, c.File)) {
			v.problem(DeltaInvalid, "", p, "rebuilds %s, which is not a payload file of %s %s", c.File, c.ModelID, c.Version)
			newID = nil
		}
		switch {
		case d.headerErr != nil:
			v.problem(DeltaInvalid, "", p, "patch header: %v", d.headerErr)
		case d.header == nil:
			// The file itself failed (missing, length, hash): already reported.
		default:
			h := d.header
			// A compact patch names the first HashPrefix bytes of each.
			unhex := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
			if baseID != nil && !h.BaseIs(baseID.length, unhex(baseID.sha256)) {
				v.problem(DeltaBadBase, "", p, "the patch applies to a file of %d bytes with SHA-256 %s, not to %s (%d bytes, %s)",
					h.BaseLength, short(hex.EncodeToString(h.BaseSHA256[:h.HashPrefix])), baseID.path, baseID.length, short(baseID.sha256))
			}
			if newID != nil && !h.TargetIs(newID.length, unhex(newID.sha256)) {
				v.problem(DeltaInvalid, "", p, "the patch rebuilds a file of %d bytes with SHA-256 %s, not %s (%d bytes, %s)",
					h.TargetLength, short(hex.EncodeToString(h.TargetSHA256[:h.HashPrefix])), newID.path, newID.length, short(newID.sha256))
			}
		}
	}
}

// collectControls reports the rollout controls of every manifest target
// whose custom metadata parsed. When two roles list the same manifest,
// the first in delegation order wins, as on a device.
func (v *verifier) collectControls(jobs []*targetJob) {
	custom := map[string]*json.RawMessage{}
	for _, j := range jobs {
		if j.custom == nil || j.custom.Kind != targets.KindManifest {
			continue
		}
		if _, seen := custom[j.path]; !seen {
			custom[j.path] = j.tf.Custom
		}
	}
	byModel := targets.ControlsByModel(custom, func(p string) *json.RawMessage { return custom[p] })
	ids := make([]string, 0, len(byModel))
	for id := range byModel {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		v.rep.Controls = append(v.rep.Controls, ModelControls{ModelID: id, Versions: byModel[id]})
	}
}
