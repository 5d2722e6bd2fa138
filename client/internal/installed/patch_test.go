package installed

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/delta"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestApplyPatchChecksWholeSignedHash: a compact patch names 8-byte
// prefixes of the hashes. A signed target whose SHA-256 shares the
// output's prefix but not the rest (what a forged prefix collision
// gives) is refused: ApplyPatch gives Apply the whole signed hash. A
// patch for another base is refused before the output file is created.
func TestApplyPatchChecksWholeSignedHash(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	base := make([]byte, 256<<10)
	for i := range base {
		base[i] = byte(r.Uint32())
	}
	rebuilt := append(bytes.Clone(base[100<<10:]), base[:100<<10]...)
	var patch bytes.Buffer
	if _, err := delta.Diff(bytes.NewReader(base), int64(len(base)), bytes.NewReader(rebuilt), int64(len(rebuilt)), &patch, delta.Options{}); err != nil {
		t.Fatal(err)
	}
	if patch.Len() > 64 {
		t.Fatalf("a %d-byte patch: not a compact one", patch.Len())
	}
	basePath, patchPath := filepath.Join(dir, "base"), filepath.Join(dir, "patch")
	os.WriteFile(basePath, base, 0o600)
	os.WriteFile(patchPath, patch.Bytes(), 0o600)
	b := Base{File: "model.bin", Version: "1.0.0", Path: basePath, Target: target(base)}

	good := target(rebuilt)
	collision := target(rebuilt)
	collision.Hashes["sha256"][31] ^= 1
	otherBase := b
	otherBase.Target = target(rebuilt[:len(base)])
	for _, c := range []struct {
		name    string
		b       Base
		tf      *metadata.TargetFiles
		code    codes.Code
		want    string
		created bool
	}{
		{"signed hash", b, good, "", "", true},
		{"signed hash shares only the prefix", b, collision, codes.DeltaFailed, "does not match the target", true},
		{"another base", otherBase, good, codes.DeltaFailed, "made for another base file", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "out")
			err := ApplyPatch(context.Background(), c.b, c.tf, patchPath, dest, 0)
			if codes.CodeOf(err) != c.code || c.want != "" && !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v (%s), want %s %q", err, codes.CodeOf(err), c.code, c.want)
			}
			if _, serr := os.Stat(dest); (serr == nil) != c.created {
				t.Fatalf("output file created: %v, want %v", serr == nil, c.created)
			}
			if err == nil {
				if got, _ := os.ReadFile(dest); !bytes.Equal(got, rebuilt) {
					t.Fatal("wrong output")
				}
			}
		})
	}
}
