package archtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Size limits of issue 11: a package that outgrows them is doing more than
// one job and should be cut by job before the next feature lands in it. A
// file may exceed maxFileLines only if its doc comment says why, with the
// words "longer than 600 lines because".
const (
	maxPackageLines = 2500
	maxFileLines    = 600
)

func TestPackageAndFileSize(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			n := bytes.Count(data, []byte("\n"))
			total += n
			if n > maxFileLines && !bytes.Contains(data, []byte("longer than 600 lines because")) {
				t.Errorf("%s: %d lines (limit %d without a stated reason)", f, n, maxFileLines)
			}
		}
		if total > maxPackageLines {
			t.Errorf("%s: %d non-test lines (limit %d): cut it by job", dir, total, maxPackageLines)
		}
	}
}
