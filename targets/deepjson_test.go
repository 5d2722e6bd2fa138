package targets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
)

// deepDocs are hostile documents that a key of limited power (a delegated
// team key on the device side; anyone who hands a release team a bundle
// on the repository side) can get parsed: nesting far past any format's,
// long keys, many keys.
func deepDocs() map[string]string {
	published := `{"schema_version":1,"model_id":"m","version":"1.0.0","build_timestamp":"2024-01-01T00:00:00Z","files":[{"path":"a","sha256":"` + strings.Repeat("0", 64) + `","size":1}],`
	return map[string]string{
		// 60 KB of nested arrays in an unknown field: 970 MB before.
		"deep arrays (published)":  published + `"x":` + strings.Repeat("[", 30<<10) + strings.Repeat("]", 30<<10) + `}`,
		"deep objects (published)": published + `"x":` + strings.Repeat(`{"a":`, 10<<10) + "1" + strings.Repeat("}", 10<<10) + `}`,
		// 400 KB in a known field of a bundle manifest: past 5.8 GB before.
		"deep arrays (bundle)":  `{"model_id":"m","version":"1.0.0","files":` + strings.Repeat("[", 200<<10) + strings.Repeat("]", 200<<10) + `}`,
		"deep objects (bundle)": `{"model_id":"m","version":"1.0.0","annotations":` + strings.Repeat(`{"a":`, 60<<10) + "1" + strings.Repeat("}", 60<<10) + `}`,
	}
}

// TestDeepJSONRefused: deeply nested manifests are refused by the depth
// limit, with an ErrManifest error that says so, using little memory.
func TestDeepJSONRefused(t *testing.T) {
	for name, doc := range deepDocs() {
		t.Run(name, func(t *testing.T) {
			parse := ParsePublishedManifest
			if strings.Contains(name, "bundle") {
				parse = ParseBundleManifest
			}
			alloc := allocated(func() {
				_, err := parse([]byte(doc))
				if !errors.Is(err, ErrManifest) || !errors.Is(err, jsonlimit.ErrTooDeep) {
					t.Fatalf("error %v, want ErrManifest and jsonlimit.ErrTooDeep", err)
				}
			})
			t.Logf("%d-byte document: %d KiB allocated", len(doc), alloc>>10)
			if alloc > 4<<20 {
				t.Fatalf("%d KiB allocated for a %d-byte document", alloc>>10, len(doc))
			}
		})
	}
	// Custom metadata from signed targets metadata, the device's first parser.
	deep := `{"kind":"model-payload","schema_version":1,"model_id":"det","version":"1.0.0","file":"w.bin","x":` + strings.Repeat("[", 30<<10) + strings.Repeat("]", 30<<10) + `}`
	raw := json.RawMessage(deep)
	if _, err := ParseCustom("models/det/1.0.0/w.bin", &raw); !errors.Is(err, ErrCustom) || !errors.Is(err, jsonlimit.ErrTooDeep) {
		t.Fatalf("deep custom metadata: %v", err)
	}
}

// TestKeyCheckLinear: the key checker itself, below any depth limit, uses
// memory linear in the document (it joined a path string at every level:
// quadratic), so the depth limit is a second line, not the only one.
func TestKeyCheckLinear(t *testing.T) {
	const depth = 9000 // under encoding/json's own limit of 10,000
	doc := `{"x":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
	var m Manifest
	alloc := allocated(func() {
		kc := keyChecker{dec: json.NewDecoder(bytes.NewReader([]byte(doc)))}
		if err := kc.check(reflect.TypeOf(&m), false); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("%d levels: %d KiB allocated", depth, alloc>>10)
	// Quadratic was depth^2 = 81 MB; linear is a few hundred KiB.
	if alloc > 8<<20 {
		t.Fatalf("%d KiB allocated for %d levels", alloc>>10, depth)
	}
}

// TestShallowJSONAccepted: the limits refuse nothing a real document
// holds: the deepest legitimate nesting, long keys and many keys.
func TestShallowJSONAccepted(t *testing.T) {
	t.Parallel()
	published := `{"schema_version":1,"model_id":"m","version":"1.0.0","build_timestamp":"2024-01-01T00:00:00Z","files":[{"path":"a","sha256":"` + strings.Repeat("0", 64) + `","size":1}]`
	var many strings.Builder
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&many, `,"k%d":1`, i)
	}
	for name, doc := range map[string]string{
		"future field 60 levels deep": published + `,"future":` + strings.Repeat("[", 60) + strings.Repeat("]", 60) + `}`,
		"a long unknown key":          published + `,"` + strings.Repeat("k", 512<<10) + `":1}`,
		"many unknown keys":           published + many.String() + `}`,
		"brackets inside strings":     published + `,"s":"` + strings.Repeat(`[{\"`, 5000) + `"}`,
	} {
		if _, err := ParsePublishedManifest([]byte(doc)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// One level too many is refused (the manifest object itself is 1).
	doc := published + `,"future":` + strings.Repeat("[", jsonlimit.MaxDepth) + strings.Repeat("]", jsonlimit.MaxDepth) + `}`
	if _, err := ParsePublishedManifest([]byte(doc)); !errors.Is(err, jsonlimit.ErrTooDeep) {
		t.Fatalf("%d levels: %v", jsonlimit.MaxDepth+1, err)
	}
}

// allocated returns the bytes f allocates (tests that call it are not
// parallel: the count is the process's).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
