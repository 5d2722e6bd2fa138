package atomicfs

import (
	"reflect"
	"testing"
)

// TestBatch: files added to a batch have no final name until Commit,
// which names them all; Abort removes what was added and not renamed.
func TestBatch(t *testing.T) {
	for name, setup := range filesystems(t) {
		t.Run(name, func(t *testing.T) {
			fs, dir := setup(t)
			b := NewBatch(fs)
			for _, n := range []string{"a", "b"} {
				f, err := Create(fs, dir, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				f.Write([]byte(n))
				if err := b.Add(f, dir+"/"+n); err != nil {
					t.Fatal(err)
				}
			}
			if got := listFiles(t, fs, dir); len(got) != 2 || !IsTemp(got[0]) || !IsTemp(got[1]) {
				t.Fatalf("before Commit: %v", got)
			}
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			if got := listFiles(t, fs, dir); !reflect.DeepEqual(got, []string{"a", "b"}) {
				t.Fatalf("after Commit: %v", got)
			}

			aborted := NewBatch(fs)
			f, err := Create(fs, dir, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if err := aborted.Add(f, dir+"/c"); err != nil {
				t.Fatal(err)
			}
			aborted.Abort()
			if got := listFiles(t, fs, dir); !reflect.DeepEqual(got, []string{"a", "b"}) {
				t.Fatalf("after Abort: %v", got)
			}
		})
	}
}
