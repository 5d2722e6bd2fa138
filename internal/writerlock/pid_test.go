package writerlock

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestHolder: the PID written after taking a lock is what a second
// process reads; a cleared, empty or garbled file names no PID.
func TestHolder(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := Holder(f); got != Unknown {
		t.Errorf("empty file: %q", got)
	}
	f.WriteAt([]byte("a much longer line that was there before\n"), 0)
	WritePID(f)
	if got, want := Holder(f), fmt.Sprintf("PID %d", os.Getpid()); got != want {
		t.Errorf("after WritePID: %q, want %q", got, want)
	}
	ClearPID(f)
	if got := Holder(f); got != Unknown {
		t.Errorf("after ClearPID: %q", got)
	}
	for _, garbage := range []string{"-5\n", "0\n", "12x\n", "99999999999999999999999999999\n"} {
		f.Truncate(0)
		f.WriteAt([]byte(garbage), 0)
		if got := Holder(f); got != Unknown {
			t.Errorf("%q: %q", garbage, got)
		}
	}
}
