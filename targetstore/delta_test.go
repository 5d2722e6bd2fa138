package targetstore

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/modelpairs"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// deltaStore stores version 1.0.0 of det with files base, and 2.0.0 with
// files next, and returns the stores' targets of 1.0.0 as a DeltaBase and
// those of 2.0.0 by target path.
func deltaStore(t *testing.T, base, next map[string][]byte) (Store, DeltaBase, map[string]*metadata.TargetFiles) {
	t.Helper()
	s := Store{Fs: afero.NewMemMapFs(), Dir: "/repo"}
	db := DeltaBase{Version: "1.0.0", Files: map[string]*metadata.TargetFiles{}}
	for name, data := range base {
		tf, err := s.Put(targets.TargetPath("det", "1.0.0", name), bytes.NewReader(data), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Files[name] = tf
	}
	newTargets := map[string]*metadata.TargetFiles{}
	for name, data := range next {
		tf, err := s.Put(targets.TargetPath("det", "2.0.0", name), bytes.NewReader(data), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		newTargets[tf.Path] = tf
	}
	return s, db, newTargets
}

// TestPutDeltas: a patch that saves enough is stored, checked and listed;
// one that saves too little is removed with the directories it made; a
// file the base lacks gets no patch.
func TestPutDeltas(t *testing.T) {
	w1, w2 := modelpairs.Bytes("tail", 32<<10, 1) // the last layers retrained
	s, base, newTargets := deltaStore(t,
		map[string][]byte{"model.bin": w1, "labels.txt": []byte("cat\n")},
		map[string][]byte{"model.bin": w2, "labels.txt": []byte("dog\n"), "extra.bin": []byte("x")})
	m := &targets.Manifest{ModelID: "det", Version: "2.0.0"}
	files := []string{"model.bin", "labels.txt", "extra.bin"}
	var progressed []string
	results, refs, err := s.PutDeltas(m, files, []DeltaBase{base}, DeltaPolicy{MinSaving: DefaultDeltaMinSaving}, newTargets, nil, func(label string, done, total int64) {
		if len(progressed) == 0 || progressed[len(progressed)-1] != label {
			progressed = append(progressed, label)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 {
		t.Fatalf("results %+v", results)
	}
	mr, lr, xr := results[0], results[1], results[2]
	if !mr.Published || mr.Target != "models/det/2.0.0/deltas/1.0.0/model.bin" || mr.Length == 0 || mr.FileLength != int64(len(w2)) || mr.SHA256 == "" || mr.Percent >= 70 {
		t.Errorf("model.bin: %+v", mr)
	}
	if lr.Published || !strings.HasPrefix(lr.Reason, "saves nothing (the patch is not smaller than the file; 30.0% needed)") || lr.Length == 0 {
		t.Errorf("labels.txt: %+v", lr)
	}
	if xr.Published || xr.Reason != "1.0.0 has no extra.bin" || xr.Length != 0 {
		t.Errorf("extra.bin: %+v", xr)
	}
	if want := []string{"delta model.bin from 1.0.0", "delta labels.txt from 1.0.0"}; !reflect.DeepEqual(progressed, want) {
		t.Errorf("progress labels %q, want %q", progressed, want)
	}
	wantRefs := map[string][]targets.DeltaRef{"model.bin": {{Base: "1.0.0", Target: mr.Target}}}
	if !reflect.DeepEqual(refs, wantRefs) {
		t.Errorf("refs %v, want %v", refs, wantRefs)
	}

	// The patch is a target with its custom metadata, and rebuilds w2.
	tf := newTargets[mr.Target]
	if tf == nil {
		t.Fatalf("no target %s in %v", mr.Target, newTargets)
	}
	c, err := targets.ParseCustom(tf.Path, tf.Custom)
	if err != nil || c.Kind != targets.KindDelta || c.File != "model.bin" || c.BaseVersion != "1.0.0" {
		t.Errorf("custom %+v, %v", c, err)
	}
	pf, err := s.Open(tf)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	var out bytes.Buffer
	if _, err := delta.Apply(bytes.NewReader(w1), int64(len(w1)), pf, tf.Length, &out, delta.Limits{}); err != nil || !bytes.Equal(out.Bytes(), w2) {
		t.Errorf("applying the stored patch: %v, rebuilt %d bytes", err, out.Len())
	}

	// The skipped patch left nothing, not even its directory.
	for _, f := range storedFiles(t, s) {
		if strings.Contains(f, "labels.txt") && strings.Contains(f, "deltas") || strings.Contains(f, ".tmp-") {
			t.Errorf("left %s", f)
		}
	}
}

// TestPutDeltasNothingSaved: when no patch is kept, no deltas directory
// is left and refs is nil.
func TestPutDeltasNothingSaved(t *testing.T) {
	w1, w2 := modelpairs.Bytes("different", 4096, 1)
	s, base, newTargets := deltaStore(t, map[string][]byte{"model.bin": w1}, map[string][]byte{"model.bin": w2})
	m := &targets.Manifest{ModelID: "det", Version: "2.0.0"}
	results, refs, err := s.PutDeltas(m, []string{"model.bin"}, []DeltaBase{base}, DeltaPolicy{MinSaving: 0.5}, newTargets, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if refs != nil || len(results) != 1 || results[0].Published || !strings.Contains(results[0].Reason, "50.0% needed") {
		t.Fatalf("results %+v, refs %v", results, refs)
	}
	if ok, _ := afero.Exists(s.Fs, "/repo/targets/models/det/2.0.0/deltas"); ok {
		t.Errorf("deltas directory left behind: %v", storedFiles(t, s))
	}
}

// TestPutDeltasRefusesTamperedBase: a stored base whose bytes no longer
// match their signed hash refuses the publication instead of storing a
// patch no device could apply.
func TestPutDeltasRefusesTamperedBase(t *testing.T) {
	w1, w2 := modelpairs.Bytes("tail", 16<<10, 2)
	s, base, newTargets := deltaStore(t, map[string][]byte{"model.bin": w1}, map[string][]byte{"model.bin": w2})
	f, err := s.Open(base.Files["model.bin"])
	if err != nil {
		t.Fatal(err)
	}
	name := f.Name()
	f.Close()
	tampered := append([]byte(nil), w1...)
	tampered[0] ^= 1
	if err := afero.WriteFile(s.Fs, name, tampered, 0o644); err != nil {
		t.Fatal(err)
	}
	m := &targets.Manifest{ModelID: "det", Version: "2.0.0"}
	_, _, err = s.PutDeltas(m, []string{"model.bin"}, []DeltaBase{base}, DeltaPolicy{MinSaving: DefaultDeltaMinSaving}, newTargets, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "stored target models/det/1.0.0/model.bin does not match its signed length and SHA-256") {
		t.Fatalf("err = %v", err)
	}
	for _, p := range storedFiles(t, s) {
		if strings.Contains(p, "deltas") {
			t.Errorf("stored %s", p)
		}
	}
}

// TestPutDeltasFastApply: DeltaPolicy.FastApply reaches Diff: the patch of
// a small retrained fp16 model is larger without adaptive blocks.
func TestPutDeltasFastApply(t *testing.T) {
	length := map[bool]int64{}
	for _, fast := range []bool{false, true} {
		s, base, newTargets := deltaStore(t,
			map[string][]byte{"model.bin": modelpairs.RetrainedHalves(1, 64<<10)},
			map[string][]byte{"model.bin": modelpairs.RetrainedHalves(2, 64<<10)})
		m := &targets.Manifest{ModelID: "det", Version: "2.0.0"}
		results, _, err := s.PutDeltas(m, []string{"model.bin"}, []DeltaBase{base}, DeltaPolicy{MinSaving: 0.01, FastApply: fast}, newTargets, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(results) != 1 || !results[0].Published {
			t.Fatalf("FastApply %v: results %+v", fast, results)
		}
		length[fast] = results[0].Length
	}
	if length[true] <= length[false] {
		t.Errorf("patch %d bytes with FastApply, %d without: want larger", length[true], length[false])
	}
}
