package targetstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/afero"
)

// manyFilesBundle writes a bundle of n payload files f000.bin... whose
// manifest lists each with its SHA-256, except that the files named in
// wrong are declared with another hash.
func manyFilesBundle(t *testing.T, fs afero.Fs, n int, wrong ...int) *Bundle {
	t.Helper()
	files := map[string]string{}
	var list []string
	for i := range n {
		name, data := fmt.Sprintf("f%03d.bin", i), fmt.Sprintf("file %d", i)
		files[name] = data
		sum := hexSHA([]byte(data))
		for _, w := range wrong {
			if w == i {
				sum = hexSHA([]byte("something else"))
			}
		}
		list = append(list, fmt.Sprintf(`{"path":%q,"sha256":%q}`, name, sum))
	}
	files["manifest.json"] = `{"model_id":"det","version":"1.0.0","files":[` + strings.Join(list, ",") + `]}`
	writeDir(t, fs, "/b", files)
	b, err := ReadBundle(fs, "/b")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPutPayloadsManyFiles: the files of a bundle of 100 are stored
// (several at once) under their consistent names, and the results come in
// the bundle's order whatever order the workers finished in.
func TestPutPayloadsManyFiles(t *testing.T) {
	fs := afero.NewMemMapFs()
	b := manyFilesBundle(t, fs, 100)
	s := Store{Fs: fs, Dir: "/repo"}
	_, entries, _, err := s.PutPayloads(b, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 100 {
		t.Fatalf("%d entries", len(entries))
	}
	for i, e := range entries {
		if e.Path != b.Files[i] || e.SHA256 != hexSHA([]byte(fmt.Sprintf("file %d", i))) {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	if got := storedFiles(t, s); len(got) != 100 || strings.Contains(strings.Join(got, " "), ".tmp-") {
		t.Errorf("stored %d files: %v", len(got), got)
	}
}

// TestPutPayloadsManyFilesRefused: when files contradict the manifest,
// the error names the first of them in bundle order (as a sequential copy
// would), and no file is left named or temporary.
func TestPutPayloadsManyFilesRefused(t *testing.T) {
	for range 5 { // the workers' interleaving differs from run to run
		fs := afero.NewMemMapFs()
		b := manyFilesBundle(t, fs, 60, 17, 43, 59)
		s := Store{Fs: fs, Dir: "/repo"}
		_, _, _, err := s.PutPayloads(b, nil, nil, nil)
		if !errors.Is(err, ErrBundle) || !strings.Contains(err.Error(), "f017.bin has SHA-256") {
			t.Fatalf("err = %v, want ErrBundle for f017.bin", err)
		}
		if got := storedFiles(t, s); len(got) != 0 {
			t.Fatalf("left %v", got)
		}
	}
}
