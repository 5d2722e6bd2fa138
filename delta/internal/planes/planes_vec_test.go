//go:build (amd64 || arm64) && !purego

package planes

import "testing"

// The assembly is what runs here: were the build tags to stop selecting
// planes_asm.go, TestVectorMatchesGeneric would compare the generic code
// with itself and pass.
func TestAssemblySelected(t *testing.T) {
	t.Parallel()
	out, p := make([]byte, 4*vectorWords), make([]byte, vectorWords)
	if n := bytesBulk(out[:vectorWords], p, XOR); n != vectorWords {
		t.Errorf("bytesBulk did %d words, want %d", n, vectorWords)
	}
	if n := words2Bulk(out[:2*vectorWords], p, p, Insert); n != vectorWords {
		t.Errorf("words2Bulk did %d words, want %d", n, vectorWords)
	}
	if n := words4Bulk(out, p, p, p, p, Insert); n != vectorWords {
		t.Errorf("words4Bulk did %d words, want %d", n, vectorWords)
	}
}
