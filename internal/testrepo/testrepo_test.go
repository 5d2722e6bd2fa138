package testrepo

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgetuf/edgetuf/audit"
	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/edgetuf/edgetuf/targetstore"
	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestPublishWithDeltas: the helper the client tests use publishes a
// version with a patch per file that the base has and that saves enough,
// and the repository verifies.
func TestPublishWithDeltas(t *testing.T) {
	t.Parallel()
	r := New(t)
	v1 := make([]byte, 64<<10)
	rand.NewChaCha8([32]byte{1}).Read(v1)
	v2 := append([]byte(nil), v1...)
	for i := 0; i < len(v2); i += 997 {
		v2[i] ^= 0x5a
	}
	r.Publish(t, "det", "1.0.0", map[string][]byte{"model.bin": v1, "labels.txt": []byte("a\n")}, targets.Compat{})
	res := r.PublishWithDeltas(t, "det", "1.1.0", map[string][]byte{"model.bin": v2, "labels.txt": []byte("a\nb\n")}, targets.Compat{}, []string{"1.0.0"})
	if len(res.Deltas) != 2 {
		t.Fatalf("deltas %+v", res.Deltas)
	}
	var published []targetstore.DeltaResult
	for _, d := range res.Deltas {
		if d.Published {
			published = append(published, d)
		}
	}
	if len(published) != 1 || published[0].File != "model.bin" || published[0].Target != targets.DeltaPath("det", "1.1.0", "1.0.0", "model.bin") {
		t.Fatalf("published deltas %+v", published)
	}
	patch, err := os.ReadFile(r.TargetFile(t, published[0].Target))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := delta.Apply(bytes.NewReader(v1), int64(len(v1)), bytes.NewReader(patch), int64(len(patch)), &out, delta.Limits{VerifyBase: true}); err != nil || !bytes.Equal(out.Bytes(), v2) {
		t.Fatalf("patch does not rebuild 1.1.0's model.bin: %v", err)
	}
	// PublishOpts passes any option through.
	res = r.PublishOpts(t, "det", "1.2.0", map[string][]byte{"model.bin": v1}, targets.Compat{}, repo.AddOptions{DeltaFrom: []string{"1.1.0"}, DeltaMinSaving: 0.999})
	if len(res.Deltas) != 1 || res.Deltas[0].Published {
		t.Fatalf("deltas %+v", res.Deltas)
	}
	if rep := audit.Verify(afero.NewOsFs(), r.Dir, r.Root, audit.Options{}); !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
}

// TestTemplateCopies: repositories of one kind are copies of one ceremony
// (same pinned root and keys), each in its own directory with its own
// keyring, so what one test publishes or rotates is not in another's.
func TestTemplateCopies(t *testing.T) {
	t.Parallel()
	a, b := New(t), New(t)
	if a.Dir == b.Dir || !bytes.Equal(a.Root, b.Root) || len(a.Keys) != 3 {
		t.Fatalf("dirs %s %s, same root %v, %d online keys", a.Dir, b.Dir, bytes.Equal(a.Root, b.Root), len(a.Keys))
	}
	for id := range a.Keys {
		if b.Keys[id] == nil {
			t.Fatalf("key %s only in one copy", id)
		}
		delete(a.Keys, id)
		if b.Keys[id] == nil {
			t.Fatal("the copies share one keyring")
		}
		break
	}
	b.Publish(t, "det", "1.0.0", map[string][]byte{"model.bin": []byte("weights")}, targets.Compat{})
	if _, err := os.Stat(filepath.Join(b.Dir, "metadata", "timestamp.json")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(a.Dir, "targets"))
	if len(entries) != 0 {
		t.Fatalf("publishing into one copy changed another: %v", entries)
	}
	if rep := audit.Verify(afero.NewOsFs(), b.Dir, b.Root, audit.Options{}); !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}

	// Root keys, when asked for, are the root role's keys.
	r, rk := NewWithRootKeys(t, 3, 2)
	root, err := metadata.Root().FromBytes(r.Root)
	if err != nil {
		t.Fatal(err)
	}
	role := root.Signed.Roles[metadata.ROOT]
	if role.Threshold != 2 || len(role.KeyIDs) != 3 || len(rk) != 3 {
		t.Fatalf("root role %+v, %d root keys", role, len(rk))
	}
	for _, id := range role.KeyIDs {
		if rk[id] == nil || r.Keys[id] != nil {
			t.Fatalf("root key %s: in root keyring %v, in online keyring %v", id, rk[id] != nil, r.Keys[id] != nil)
		}
	}
	if bytes.Equal(r.Root, a.Root) {
		t.Fatal("two kinds of repository share a template")
	}
}
