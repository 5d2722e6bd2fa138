package repo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/status"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// weights returns n pseudo-random bytes, the same for the same seed: a
// model file that compresses to nothing on its own.
func weights(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1}).Read(b)
	return b
}

// finetune returns a copy of b with about one byte in a hundred changed
// and a few bytes appended, as a retrained model's weights differ from
// the previous version's.
func finetune(b []byte, seed uint64) []byte {
	out := append([]byte(nil), b...)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < len(out)/100; i++ {
		out[rng.IntN(len(out))] ^= byte(1 + rng.IntN(255))
	}
	return append(out, "appended"...)
}

var (
	w3 = weights(3, 64<<10)
	w4 = finetune(w3, 4)
)

// deltaRepo is a clone of the published fixture (det 1.0.0 and 2.0.0)
// with det 3.0.0 published too, whose model.onnx is w3.
func deltaRepo(t *testing.T) (afero.Fs, string, *Repository) {
	t.Helper()
	fs, dir := clone(t, publishedTree)
	r := openAt(t, fs, dir, t0)
	writeBundle(t, fs, "/bundle-3", `{"model_id":"det","version":"3.0.0"}`, map[string][]byte{"model.onnx": w3, "labels.txt": []byte("cat\ndog\n")})
	if _, err := r.AddTarget("/bundle-3", getFixture(t).kr, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	return fs, dir, r
}

func deltaByKey(ds []targetstore.DeltaResult) map[string]targetstore.DeltaResult {
	out := map[string]targetstore.DeltaResult{}
	for _, d := range ds {
		out[d.File+"@"+d.Base] = d
	}
	return out
}

// applyStored applies a published patch to the stored base file.
func applyStored(t *testing.T, fs afero.Fs, dir, basePath, patchPath string) []byte {
	t.Helper()
	base := readAll(t, fs, findTarget(t, fs, dir, basePath))
	patch := readAll(t, fs, findTarget(t, fs, dir, patchPath))
	var out bytes.Buffer
	if _, err := delta.Apply(bytes.NewReader(base), int64(len(base)), bytes.NewReader(patch), int64(len(patch)), &out, delta.Limits{VerifyBase: true}); err != nil {
		t.Fatalf("applying %s to %s: %v", patchPath, basePath, err)
	}
	return out.Bytes()
}

func TestAddTargetDeltas(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	mem, dir, _ := deltaRepo(t)
	fs := &renameLog{Fs: mem}
	r := openAt(t, fs, dir, t0)
	extra := weights(9, 1000)
	writeBundle(t, fs, "/bundle-4", `{"model_id":"det","version":"4.0.0"}`,
		map[string][]byte{"model.onnx": w4, "labels.txt": []byte("cat\ndog\nbird\n"), "extra.bin": extra})

	var progress []string
	res, err := r.AddTarget("/bundle-4", f.kr, AddOptions{DeltaFrom: []string{"3.0.0", "1.0.0"}, Progress: func(file string, done, total int64) {
		if strings.HasPrefix(file, "delta ") && done == total {
			progress = append(progress, file)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}

	// The result reports every pair of file and base.
	patch := targets.DeltaPath("det", "4.0.0", "3.0.0", "model.onnx")
	got := deltaByKey(res.Deltas)
	if len(res.Deltas) != 6 || len(got) != 6 {
		t.Fatalf("deltas %+v", res.Deltas)
	}
	d := got["model.onnx@3.0.0"]
	if !d.Published || d.Target != patch || d.FileLength != int64(len(w4)) || d.Length <= 0 || float64(d.Length) > 0.7*float64(len(w4)) ||
		d.Percent != math.Round(1000*float64(d.Length)/float64(len(w4)))/10 || len(d.SHA256) != 64 || d.Reason != "" {
		t.Errorf("model.onnx from 3.0.0: %+v", d)
	}
	t.Logf("patch of a fine-tuned 64 KiB file: %d bytes (%.1f%%)", d.Length, d.Percent)
	for key, want := range map[string]string{
		"labels.txt@3.0.0": "saves nothing",
		"extra.bin@3.0.0":  "3.0.0 has no extra.bin",
		"model.onnx@1.0.0": "saves",
		"extra.bin@1.0.0":  "1.0.0 has no extra.bin",
	} {
		if g := got[key]; g.Published || !strings.Contains(g.Reason, want) || g.SHA256 != "" {
			t.Errorf("%s: %+v, want skipped: %q", key, g, want)
		}
	}
	if g := got["extra.bin@3.0.0"]; g.Length != 0 || g.FileLength != int64(len(extra)) {
		t.Errorf("absent base file: %+v", g)
	}
	if g := got["model.onnx@1.0.0"]; g.Length == 0 || g.Percent < 70 {
		t.Errorf("patch from an unrelated file: %+v", g)
	}
	if want := []string{"delta model.onnx from 3.0.0", "delta labels.txt from 3.0.0", "delta model.onnx from 1.0.0", "delta labels.txt from 1.0.0"}; !sameSet(progress, want) {
		t.Errorf("progress completed for %q, want %q", progress, want)
	}

	// The patch is a signed target with its own custom metadata, listed by
	// the manifest target, and in the result's targets.
	st := current(t, fs, dir)
	tf := st.targets.Signed.Targets[patch]
	if tf == nil || tf.Length != d.Length || fmt.Sprintf("%x", []byte(tf.Hashes["sha256"])) != d.SHA256 {
		t.Fatalf("patch target %+v", tf)
	}
	c, err := targets.ParseCustom(patch, tf.Custom)
	if err != nil {
		t.Fatal(err)
	}
	if want := (&targets.Custom{Kind: targets.KindDelta, SchemaVersion: 1, ModelID: "det", Version: "4.0.0", File: "model.onnx", BaseVersion: "3.0.0"}); !reflect.DeepEqual(c, want) {
		t.Errorf("patch custom %+v, want %+v", c, want)
	}
	var raw map[string]any
	json.Unmarshal(*tf.Custom, &raw)
	if len(raw) != 6 {
		t.Errorf("patch custom has fields %v", raw)
	}
	mc, err := targets.ParseCustom(targets.ManifestPath("det", "4.0.0"), st.targets.Signed.Targets[targets.ManifestPath("det", "4.0.0")].Custom)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]targets.DeltaRef{"model.onnx": {{Base: "3.0.0", Target: patch}}}; !reflect.DeepEqual(mc.Deltas, want) {
		t.Errorf("manifest deltas %+v, want %+v", mc.Deltas, want)
	}
	if got := modelTargets(st, "det", "4.0.0"); !reflect.DeepEqual(got, []string{
		"models/det/4.0.0/deltas/3.0.0/model.onnx", "models/det/4.0.0/extra.bin", "models/det/4.0.0/labels.txt",
		"models/det/4.0.0/manifest.json", "models/det/4.0.0/model.onnx"}) {
		t.Errorf("4.0.0 targets %q", got)
	}
	found := false
	for _, pt := range res.Targets {
		found = found || (pt.Path == patch && pt.SHA256 == d.SHA256 && pt.Length == d.Length)
	}
	if !found {
		t.Errorf("result targets %+v lack the patch", res.Targets)
	}

	// The patch rebuilds the new file from the base version's.
	if out := applyStored(t, fs, dir, targets.TargetPath("det", "3.0.0", "model.onnx"), patch); !bytes.Equal(out, w4) {
		t.Error("the patch applied to 3.0.0's model.onnx does not give 4.0.0's")
	}

	// Skipped patches leave nothing behind: no file, no empty directory.
	deltasDir := filepath.Join(dir, TargetsDir, "models", "det", "4.0.0", "deltas")
	entries, _ := afero.ReadDir(fs, deltasDir)
	if len(entries) != 1 || entries[0].Name() != "3.0.0" {
		t.Errorf("deltas/ holds %v", entries)
	}
	files, _ := afero.ReadDir(fs, filepath.Join(deltasDir, "3.0.0"))
	if len(files) != 1 || files[0].Name() != d.SHA256+".model.onnx" {
		t.Errorf("deltas/3.0.0 holds %v", files)
	}

	// Write order: every target file (patch included) before the metadata.
	var order []string
	for _, n := range fs.names {
		rel, _ := filepath.Rel(dir, n)
		if strings.HasPrefix(rel, "metadata/") {
			order = append(order, rel)
		} else {
			order = append(order, "target")
		}
	}
	if want := []string{"target", "target", "target", "target", "target", "metadata/5.targets.json", "metadata/5.snapshot.json", "metadata/timestamp.json"}; !reflect.DeepEqual(order, want) {
		t.Errorf("write order %q, want %q", order, want)
	}

	requireVerifies(t, fs, dir, t0)
	rep, err := statusOf(r, status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []status.Delta{{Version: "4.0.0", Base: "3.0.0", Patches: 1, Bytes: d.Length}}; len(rep.Models) != 1 || !reflect.DeepEqual(rep.Models[0].Deltas, want) {
		t.Errorf("status models %+v", rep.Models)
	}
	for _, w := range rep.Warnings {
		if strings.Contains(w, "delta") || strings.Contains(w, "patch") {
			t.Errorf("status warning %q", w)
		}
	}

	// A later version may take patches from several bases; they are listed
	// oldest base first.
	w5 := finetune(w4, 5)
	writeBundle(t, fs, "/bundle-5", `{"model_id":"det","version":"5.0.0"}`, map[string][]byte{"model.onnx": w5})
	res5, err := r.AddTarget("/bundle-5", f.kr, AddOptions{DeltaFrom: []string{"4.0.0", "3.0.0"}, DeltaMinSaving: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res5.Deltas) != 2 || !res5.Deltas[0].Published || !res5.Deltas[1].Published {
		t.Fatalf("5.0.0 deltas %+v", res5.Deltas)
	}
	st = current(t, fs, dir)
	mc, _ = targets.ParseCustom(targets.ManifestPath("det", "5.0.0"), st.targets.Signed.Targets[targets.ManifestPath("det", "5.0.0")].Custom)
	if want := []targets.DeltaRef{{Base: "3.0.0", Target: targets.DeltaPath("det", "5.0.0", "3.0.0", "model.onnx")}, {Base: "4.0.0", Target: targets.DeltaPath("det", "5.0.0", "4.0.0", "model.onnx")}}; mc == nil || !reflect.DeepEqual(mc.Deltas["model.onnx"], want) {
		t.Errorf("5.0.0 deltas %+v", mc)
	}
	for _, base := range []string{"3.0.0", "4.0.0"} {
		if out := applyStored(t, fs, dir, targets.TargetPath("det", base, "model.onnx"), targets.DeltaPath("det", "5.0.0", base, "model.onnx")); !bytes.Equal(out, w5) {
			t.Errorf("patch from %s does not rebuild 5.0.0", base)
		}
	}
	requireVerifies(t, fs, dir, t0)
}

// TestAddTargetDeltaSavingRule: a patch that does not save enough is not
// published, and the version is published without it.
func TestAddTargetDeltaSavingRule(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	for _, c := range []struct {
		name   string
		model  []byte
		saving float64
		reason string
	}{
		{"new architecture", weights(42, 64<<10), 0, "saves nothing"},
		{"saving under a high threshold", w4, 0.999, "% (99.9% needed)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, dir, r := deltaRepo(t)
			writeBundle(t, fs, "/bundle-4", `{"model_id":"det","version":"4.0.0"}`, map[string][]byte{"model.onnx": c.model})
			res, err := r.AddTarget("/bundle-4", f.kr, AddOptions{DeltaFrom: []string{"3.0.0"}, DeltaMinSaving: c.saving})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Deltas) != 1 {
				t.Fatalf("deltas %+v", res.Deltas)
			}
			d := res.Deltas[0]
			if d.Published || d.Length == 0 || !strings.Contains(d.Reason, c.reason) || !strings.HasPrefix(d.Reason, "saves") {
				t.Errorf("delta %+v, want skipped: %q", d, c.reason)
			}
			t.Logf("%s: %d of %d bytes: %s", c.name, d.Length, d.FileLength, d.Reason)
			st := current(t, fs, dir)
			mc, _ := targets.ParseCustom(targets.ManifestPath("det", "4.0.0"), st.targets.Signed.Targets[targets.ManifestPath("det", "4.0.0")].Custom)
			if mc == nil || mc.Deltas != nil {
				t.Errorf("manifest custom %+v", mc)
			}
			if got := modelTargets(st, "det", "4.0.0"); len(got) != 2 {
				t.Errorf("targets %q", got)
			}
			if _, err := fs.Stat(filepath.Join(dir, TargetsDir, "models", "det", "4.0.0", "deltas")); !os.IsNotExist(err) {
				t.Errorf("deltas directory left behind: %v", err)
			}
			requireVerifies(t, fs, dir, t0)
		})
	}
}

// TestAddTargetDeltaRefusals: bad base versions and bad options refuse
// the whole publication before anything is written.
func TestAddTargetDeltaRefusals(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	many := make([]string, targets.MaxDeltaBases+1)
	for i := range many {
		many[i] = fmt.Sprintf("0.0.%d", i)
	}
	for _, c := range []struct {
		name    string
		model   string
		from    []string
		saving  float64
		want    error
		wantMsg string
	}{
		{name: "unknown version", from: []string{"1.5.0"}, want: ErrDeltaBase, wantMsg: "det 1.5.0 is not published (published: 1.0.0, 2.0.0, 3.0.0)"},
		{name: "one of two unknown", from: []string{"3.0.0", "2.5.0"}, want: ErrDeltaBase, wantMsg: "det 2.5.0 is not published"},
		{name: "the version itself", from: []string{"4.0.0"}, want: ErrDeltaBase, wantMsg: "det 4.0.0 is not older than the version being published, 4.0.0"},
		{name: "newer version", from: []string{"5.0.0"}, want: ErrDeltaBase, wantMsg: "not older"},
		{name: "same base twice", from: []string{"3.0.0", "3.0.0+rebuild"}, want: ErrDeltaBase, wantMsg: "3.0.0 given twice"},
		{name: "not a version", from: []string{"v3"}, want: ErrDeltaBase, wantMsg: `"v3"`},
		{name: "another model's version", model: "cls", from: []string{"1.0.0"}, want: ErrDeltaBase, wantMsg: "cls 1.0.0 is not published (no version of cls is)"},
		{name: "too many bases", from: many, want: ErrDeltaBase, wantMsg: "at most 32 base versions"},
		{name: "saving of 1", from: []string{"3.0.0"}, saving: 1, wantMsg: "must be between 0 and 1"},
		{name: "saving above 1", from: []string{"3.0.0"}, saving: 1.5, wantMsg: "must be between 0 and 1"},
		{name: "negative saving", from: []string{"3.0.0"}, saving: -0.3, wantMsg: "must be between 0 and 1"},
		{name: "NaN saving", from: []string{"3.0.0"}, saving: math.NaN(), wantMsg: "must be between 0 and 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, dir, r := deltaRepo(t)
			model := c.model
			if model == "" {
				model = "det"
			}
			writeBundle(t, fs, "/bundle", `{"model_id":"`+model+`","version":"4.0.0"}`, map[string][]byte{"model.onnx": w4})
			before := fileSnapshot(t, fs, dir)
			res, err := r.AddTarget("/bundle", f.kr, AddOptions{DeltaFrom: c.from, DeltaMinSaving: c.saving})
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.wantMsg) {
				t.Fatalf("err = %v (result %+v), want %v mentioning %q", err, res, c.want, c.wantMsg)
			}
			if d := snapshotDiff(before, fileSnapshot(t, fs, dir)); len(d) > 0 {
				t.Errorf("refused AddTarget changed the repository: %v", d)
			}
		})
	}
}

// TestAddTargetDeltaCorruptBase: a stored base file that no longer matches
// its signed hash is not diffed into a patch that no device could apply.
func TestAddTargetDeltaCorruptBase(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir, r := deltaRepo(t)
	base := findTarget(t, fs, dir, targets.TargetPath("det", "3.0.0", "model.onnx"))
	damaged := append([]byte(nil), w3...)
	damaged[100] ^= 1
	afero.WriteFile(fs, base, damaged, 0o644)
	writeBundle(t, fs, "/bundle", `{"model_id":"det","version":"4.0.0"}`, map[string][]byte{"model.onnx": w4})
	before := current(t, fs, dir).targets.Signed.Version
	_, err := r.AddTarget("/bundle", f.kr, AddOptions{DeltaFrom: []string{"3.0.0"}})
	if err == nil || !strings.Contains(err.Error(), "does not match its signed length and SHA-256") {
		t.Fatalf("err = %v", err)
	}
	if current(t, fs, dir).targets.Signed.Version != before {
		t.Error("metadata written")
	}
	if _, err := fs.Stat(filepath.Join(dir, TargetsDir, "models", "det", "4.0.0")); !os.IsNotExist(err) {
		t.Errorf("the new version's directory is left behind: %v", err)
	}
}

// TestVerifyDeltaProblems forges delta listings and patches, each validly
// signed, and checks that verify names what is wrong.
func TestVerifyDeltaProblems(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	man4 := targets.ManifestPath("det", "4.0.0")
	patch := targets.DeltaPath("det", "4.0.0", "3.0.0", "model.onnx")
	setDeltas := func(t *testing.T, st *state, mutate func(map[string][]targets.DeltaRef) map[string][]targets.DeltaRef) {
		tf := st.targets.Signed.Targets[man4]
		c, err := targets.ParseCustom(man4, tf.Custom)
		if err != nil {
			t.Fatal(err)
		}
		c.Deltas = mutate(c.Deltas)
		if tf.Custom, err = c.Marshal(); err != nil {
			t.Fatal(err)
		}
	}
	// addPatch signs data as the patch of file from base, with delta custom
	// metadata, and lists it in the manifest when list is set.
	addPatch := func(t *testing.T, fs afero.Fs, dir string, st *state, base, file string, data []byte, list bool) string {
		p := targets.DeltaPath("det", "4.0.0", base, file)
		c, _ := (&targets.Custom{Kind: targets.KindDelta, SchemaVersion: 1, ModelID: "det", Version: "4.0.0", File: file, BaseVersion: base}).Marshal()
		st.targets.Signed.Targets[p] = &metadata.TargetFiles{Path: p, Custom: c}
		replaceTarget(t, fs, dir, st, p, data)
		if list {
			setDeltas(t, st, func(d map[string][]targets.DeltaRef) map[string][]targets.DeltaRef {
				d[file] = append(d[file], targets.DeltaRef{Base: base, Target: p})
				return d
			})
		}
		return p
	}
	patchBytes := func(t *testing.T, fs afero.Fs, dir string) []byte {
		return readAll(t, fs, findTarget(t, fs, dir, patch))
	}

	for _, c := range []struct {
		name   string
		code   audit.Code
		target string
		msg    string
		tamper func(t *testing.T, fs afero.Fs, dir string)
	}{
		{name: "patch not listed by the manifest", code: audit.DeltaUnlisted, target: patch, msg: "not listed in the deltas of " + man4,
			tamper: func(t *testing.T, fs afero.Fs, dir string) {
				republish(t, fs, dir, func(st *state) {
					setDeltas(t, st, func(map[string][]targets.DeltaRef) map[string][]targets.DeltaRef { return nil })
				})
			}},
		{name: "listed patch not signed", code: audit.DeltaMissing, target: man4, msg: "lists a patch of model.onnx from 3.0.0",
			tamper: func(t *testing.T, fs afero.Fs, dir string) {
				republish(t, fs, dir, func(st *state) { delete(st.targets.Signed.Targets, patch) })
			}},
		{name: "listed patch is not a delta target", code: audit.DeltaMissing, target: man4, msg: "not a signed model-delta target",
			tamper: func(t *testing.T, fs afero.Fs, dir string) {
				republish(t, fs, dir, func(st *state) {
					raw := json.RawMessage(bytes.Replace(*st.targets.Signed.Targets[patch].Custom, []byte(`"model-delta"`), []byte(`"model-payload"`), 1))
					st.targets.Signed.Targets[patch].Custom = &raw
				})
			}},
		{name: "base version not published", code: audit.DeltaBadBase, target: targets.DeltaPath("det", "4.0.0", "3.5.0", "model.onnx"), msg: "base version 3.5.0 of det is not published",
			tamper: func(t *testing.T, fs afero.Fs, dir string) {
				republish(t, fs, dir, func(st *state) { addPatch(t, fs, dir, st, "3.5.0", "model.onnx", patchBytes(t, fs, dir), true) })
			}},
		{name: "base version lacks the file", code: audit.DeltaBadBase, target: targets.DeltaPath("det", "4.0.0", "3.0.0", "extra.bin"), msg: "base version 3.0.0 has no extra.bin",
			tamper: func(t *testing.T, fs afero.Fs, dir string) {
				republish(t, fs, dir, func(st *state) { addPatch(t, fs, dir, st, "3.0.0", "extra.bin", patchBytes(t, fs, dir), true) })
			}},
		{name: "patch made from another base", code: audit.DeltaBadBase, target: targets.DeltaPath("det", "4.0.0", "2.0.0", "model.onnx"), msg: "the patch applies to a file of 65536 bytes",
			tamper: func(t *testing.T, fs afero.Fs, dir string) {
				republish(t, fs, dir, func(st *state) { addPatch(t, fs, dir, st, "2.0.0", "model.onnx", patchBytes(t, fs, dir), true) })
			}},
		{name: "patch rebuilds another file", code: audit.DeltaInvalid, target: targets.DeltaPath("det", "4.0.0", "3.0.0", "labels.txt"), msg: "the patch rebuilds a file of",
			tamper: func(t *testing.T, fs afero.Fs, dir string) {
				republish(t, fs, dir, func(st *state) {
					// A genuine patch between 3.0.0's and 4.0.0's labels, signed as the
					// patch of labels.txt but made for other bytes.
					var buf bytes.Buffer
					l3 := []byte("cat\ndog\n")
					other := []byte("cat\ndog\nmouse\n")
					if _, err := delta.Diff(bytes.NewReader(l3), int64(len(l3)), bytes.NewReader(other), int64(len(other)), &buf, delta.Options{}); err != nil {
						t.Fatal(err)
					}
					addPatch(t, fs, dir, st, "3.0.0", "labels.txt", buf.Bytes(), true)
				})
			}},
		{name: "patch header unreadable", code: audit.DeltaInvalid, target: patch, msg: "patch header",
			tamper: func(t *testing.T, fs afero.Fs, dir string) {
				republish(t, fs, dir, func(st *state) { replaceTarget(t, fs, dir, st, patch, []byte("not a patch at all")) })
			}},
		{name: "manifest lists a patch under a wrong name", code: audit.CustomInvalid, target: man4, msg: "deltas",
			tamper: func(t *testing.T, fs afero.Fs, dir string) {
				republish(t, fs, dir, func(st *state) {
					setDeltas(t, st, func(d map[string][]targets.DeltaRef) map[string][]targets.DeltaRef {
						d["model.onnx"][0].Target = targets.DeltaPath("det", "4.0.0", "3.0.0", "labels.txt")
						return d
					})
				})
			}},
		{name: "patch bytes changed", code: audit.HashMismatch, target: patch, msg: "SHA-256",
			tamper: func(t *testing.T, fs afero.Fs, dir string) {
				data := patchBytes(t, fs, dir)
				data[len(data)-1] ^= 1
				afero.WriteFile(fs, findTarget(t, fs, dir, patch), data, 0o644)
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fs, dir, r := deltaRepo(t)
			writeBundle(t, fs, "/bundle-4", `{"model_id":"det","version":"4.0.0"}`,
				map[string][]byte{"model.onnx": w4, "labels.txt": []byte("cat\ndog\nbird\n"), "extra.bin": []byte("extra")})
			if _, err := r.AddTarget("/bundle-4", f.kr, AddOptions{DeltaFrom: []string{"3.0.0"}}); err != nil {
				t.Fatal(err)
			}
			requireVerifies(t, fs, dir, t0)
			c.tamper(t, fs, dir)
			rep := audit.Verify(fs, dir, f.rootJSON, audit.Options{Now: t0.Add(time.Hour)})
			for _, p := range rep.Problems {
				if p.Code == c.code && p.Target == c.target && strings.Contains(p.Message, c.msg) {
					if !strings.HasPrefix(p.String(), string(c.code)+": "+c.target+": ") {
						t.Errorf("problem line %q", p.String())
					}
					return
				}
			}
			t.Fatalf("no %s problem for %s mentioning %q; got:\n%s", c.code, c.target, c.msg, problemList(rep))
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestStatusDeltaWarnings: status (not a gate) warns about a patch its
// manifest does not list and a listed patch that is not a target.
func TestStatusDeltaWarnings(t *testing.T) {
	t.Parallel()
	f := getFixture(t)
	fs, dir, r := deltaRepo(t)
	writeBundle(t, fs, "/bundle-4", `{"model_id":"det","version":"4.0.0"}`, map[string][]byte{"model.onnx": w4})
	if _, err := r.AddTarget("/bundle-4", f.kr, AddOptions{DeltaFrom: []string{"3.0.0"}}); err != nil {
		t.Fatal(err)
	}
	patch := targets.DeltaPath("det", "4.0.0", "3.0.0", "model.onnx")
	man4 := targets.ManifestPath("det", "4.0.0")
	republish(t, fs, dir, func(st *state) {
		// Move the listing to another (absent) base: the real patch is
		// unlisted, and the listed one does not exist.
		tf := st.targets.Signed.Targets[man4]
		c, _ := targets.ParseCustom(man4, tf.Custom)
		c.Deltas["model.onnx"][0] = targets.DeltaRef{Base: "2.0.0", Target: targets.DeltaPath("det", "4.0.0", "2.0.0", "model.onnx")}
		tf.Custom, _ = c.Marshal()
	})
	st, err := statusOf(openAt(t, fs, dir, t0), status.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"delta target " + patch + " is not listed by its manifest (run mrepo verify)",
		man4 + " lists patch models/det/4.0.0/deltas/2.0.0/model.onnx, which is not a target (run mrepo verify)",
	}
	for _, w := range want {
		found := false
		for _, g := range st.Warnings {
			found = found || g == w
		}
		if !found {
			t.Errorf("no warning %q in %q", w, st.Warnings)
		}
	}
}
