package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadOwnStatus(t *testing.T) {
	s, err := read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.anon <= 0 || s.file <= 0 {
		t.Fatalf("read = %+v, want anonymous and file-backed pages", s)
	}
}

func TestRunReportsAndKeepsExitCode(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report")
	code, err := run([]string{"sh", "-c", "exit 3"}, out, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) != 14 || f[0] != "seconds" || f[2] != "peak_kib" || f[3] == "0" || f[12] != "samples" {
		t.Errorf("report %q", b)
	}
}
