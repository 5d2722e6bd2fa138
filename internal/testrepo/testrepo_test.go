package testrepo

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/repo"
	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
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
	var published []repo.DeltaResult
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
	if rep := repo.Verify(afero.NewOsFs(), r.Dir, r.Root, repo.VerifyOptions{}); !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
}
