package anti_rollback

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgetuf/edgetuf/targets"
	"github.com/spf13/afero"
)

var _ Store = (*FileStore)(nil)

func ver(t testing.TB, s string) targets.Version {
	t.Helper()
	v, err := targets.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newStore(t *testing.T) *FileStore {
	return NewFileStore(filepath.Join(t.TempDir(), "anti-rollback"))
}

func wantFloor(t *testing.T, s *FileStore, model, want string) {
	t.Helper()
	v, ok, err := s.Floor(model)
	if err != nil {
		t.Fatalf("floor: %v", err)
	}
	if want == "" {
		if ok {
			t.Fatalf("floor %s, want none", v)
		}
		return
	}
	if !ok || v.String() != want {
		t.Fatalf("floor %v (%v), want %s", v, ok, want)
	}
}

func writeCopy(t *testing.T, s *FileStore, name, content string) {
	t.Helper()
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readCopy(t *testing.T, s *FileStore, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func rec(model, floor string) string {
	return `{"model_id":"` + model + `","floor":"` + floor + `"}` + "\n"
}

func TestEmptyStore(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	wantFloor(t, s, "det", "")
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Fatalf("reading created the directory (%v)", err)
	}
}

func TestRaiseWritesBothCopies(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if err := s.Raise("det", ver(t, "1.0.0")); err != nil {
		t.Fatal(err)
	}
	wantFloor(t, s, "det", "1.0.0")
	for _, name := range []string{"det.json", "det.json.bak"} {
		if got := readCopy(t, s, name); got != rec("det", "1.0.0") {
			t.Fatalf("%s = %q", name, got)
		}
		fi, err := os.Stat(filepath.Join(s.Dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, fi.Mode(), err)
		}
	}
	if err := s.Raise("det", ver(t, "2.0.0-rc.1")); err != nil {
		t.Fatal(err)
	}
	wantFloor(t, s, "det", "2.0.0-rc.1")
	// Models are independent.
	wantFloor(t, s, "other", "")
	if err := s.Raise("other", ver(t, "0.1.0")); err != nil {
		t.Fatal(err)
	}
	wantFloor(t, s, "det", "2.0.0-rc.1")
	wantFloor(t, s, "other", "0.1.0")
}

func TestRaiseRefusesLower(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ cur, lower string }{
		{"1.2.0", "1.1.9"},
		{"1.0.0", "1.0.0-rc.1"}, // a pre-release is lower than its release
		{"1.0.0-rc.2", "1.0.0-rc.1"},
		{"10.0.0", "9.99.99"},
	} {
		s := newStore(t)
		if err := s.Raise("det", ver(t, tc.cur)); err != nil {
			t.Fatal(err)
		}
		before := readCopy(t, s, "det.json") + readCopy(t, s, "det.json.bak")
		err := s.Raise("det", ver(t, tc.lower))
		if !errors.Is(err, ErrLower) {
			t.Fatalf("Raise %s over %s: %v, want ErrLower", tc.lower, tc.cur, err)
		}
		wantFloor(t, s, "det", tc.cur)
		if after := readCopy(t, s, "det.json") + readCopy(t, s, "det.json.bak"); after != before {
			t.Fatalf("a refused Raise changed the store: %q", after)
		}
	}
}

func TestRaiseEqualIsNoOp(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if err := s.Raise("det", ver(t, "1.2.0")); err != nil {
		t.Fatal(err)
	}
	// A read-only filesystem proves that nothing is written.
	s.fs = afero.NewReadOnlyFs(afero.NewOsFs())
	if err := s.Raise("det", ver(t, "1.2.0")); err != nil {
		t.Fatalf("equal Raise: %v", err)
	}
	// Build metadata does not order versions: equal too.
	if err := s.Raise("det", ver(t, "1.2.0+build.7")); err != nil {
		t.Fatalf("equal Raise with build metadata: %v", err)
	}
	if err := s.Raise("det", ver(t, "1.2.1")); err == nil {
		t.Fatal("a higher Raise wrote to a read-only filesystem?")
	}
	wantFloor(t, s, "det", "1.2.0")
}

func TestHigherCopyWins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ main, bak, want string }{
		{"1.0.0", "1.2.0", "1.2.0"},
		{"1.2.0", "1.0.0", "1.2.0"},
		{"1.0.0", "1.0.0-rc.1", "1.0.0"},
	} {
		s := newStore(t)
		writeCopy(t, s, "det.json", rec("det", tc.main))
		writeCopy(t, s, "det.json.bak", rec("det", tc.bak))
		wantFloor(t, s, "det", tc.want)
		// Raising to the floor brings the lower copy up.
		if err := s.Raise("det", ver(t, tc.want)); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"det.json", "det.json.bak"} {
			if got := readCopy(t, s, name); got != rec("det", tc.want) {
				t.Fatalf("%s = %q after repair", name, got)
			}
		}
		// And the lower value is now refused.
		lower := tc.main
		if lower == tc.want {
			lower = tc.bak
		}
		if err := s.Raise("det", ver(t, lower)); !errors.Is(err, ErrLower) {
			t.Fatalf("Raise %s: %v", lower, err)
		}
	}
}

func TestDamagedCopyFailsClosed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, content string }{
		{"garbage", "{garbage"},
		{"empty", ""},
		{"other model", rec("other", "9.0.0")},
		{"bad version", rec("det", "1.0")},
		{"no version", `{"model_id":"det"}`},
		{"wrong type", `{"model_id":"det","floor":7}`},
		{"too large", `{"model_id":"det","floor":"1.0.0","pad":"` + strings.Repeat("x", 5000) + `"}`},
		{"trailing data", rec("det", "1.0.0") + "{}"},
	} {
		for _, which := range []string{"det.json", "det.json.bak"} {
			t.Run(tc.name+"/"+which, func(t *testing.T) {
				s := newStore(t)
				if err := s.Raise("det", ver(t, "2.0.0")); err != nil {
					t.Fatal(err)
				}
				writeCopy(t, s, which, tc.content)
				if _, _, err := s.Floor("det"); err == nil {
					t.Fatal("a damaged copy read as valid")
				}
				// Raise does not paper over the damage either.
				if err := s.Raise("det", ver(t, "3.0.0")); err == nil || errors.Is(err, ErrLower) {
					t.Fatalf("Raise over a damaged copy: %v", err)
				}
				if got := readCopy(t, s, which); got != tc.content {
					t.Fatalf("the damaged copy was overwritten: %q", got)
				}
			})
		}
	}
	t.Run("directory", func(t *testing.T) {
		s := newStore(t)
		if err := os.MkdirAll(filepath.Join(s.Dir, "det.json"), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Floor("det"); err == nil {
			t.Fatal("a directory read as a floor")
		}
	})
}

func TestMissingCopyRepairedOnRaise(t *testing.T) {
	t.Parallel()
	for _, missing := range []string{"det.json", "det.json.bak"} {
		t.Run(missing, func(t *testing.T) {
			s := newStore(t)
			if err := s.Raise("det", ver(t, "1.5.0")); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(s.Dir, missing)); err != nil {
				t.Fatal(err)
			}
			// One copy is enough to read the floor.
			wantFloor(t, s, "det", "1.5.0")
			if err := s.Raise("det", ver(t, "1.5.0")); err != nil {
				t.Fatal(err)
			}
			if got := readCopy(t, s, missing); got != rec("det", "1.5.0") {
				t.Fatalf("%s = %q, want it repaired", missing, got)
			}
		})
	}
}

func TestInvalidModelID(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, id := range []string{"", "../escape", "a/b", ".hidden", strings.Repeat("m", 200)} {
		if _, _, err := s.Floor(id); err == nil {
			t.Fatalf("Floor(%q) accepted", id)
		}
		if err := s.Raise(id, ver(t, "1.0.0")); err == nil {
			t.Fatalf("Raise(%q) accepted", id)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(s.Dir)); len(entries) != 0 {
		t.Fatalf("files written: %v", entries)
	}
}

// renameFailFs fails the rename that would replace one file.
type renameFailFs struct {
	afero.Fs
	target string
}

func (f renameFailFs) Rename(oldname, newname string) error {
	if newname == f.target {
		return errors.New("injected: power cut")
	}
	return f.Fs.Rename(oldname, newname)
}

// TestTornRaiseNeverLowers: the backup is written first, so a Raise cut
// short between the two copies leaves the new floor readable (and never a
// lower one), and the next Raise completes the main copy.
func TestTornRaiseNeverLowers(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if err := s.Raise("det", ver(t, "1.0.0")); err != nil {
		t.Fatal(err)
	}
	s.fs = renameFailFs{Fs: afero.NewOsFs(), target: filepath.Join(s.Dir, "det.json")}
	if err := s.Raise("det", ver(t, "2.0.0")); err == nil {
		t.Fatal("the injected failure was not reported")
	}
	wantFloor(t, s, "det", "2.0.0")
	if got := readCopy(t, s, "det.json"); got != rec("det", "1.0.0") {
		t.Fatalf("main copy %q", got)
	}
	s.fs = afero.NewOsFs()
	if err := s.Raise("det", ver(t, "2.0.0")); err != nil {
		t.Fatal(err)
	}
	if got := readCopy(t, s, "det.json"); got != rec("det", "2.0.0") {
		t.Fatalf("main copy %q after the repair", got)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(s.Dir)
	if len(entries) != 2 {
		t.Fatalf("store holds %v", entries)
	}
}

// FuzzParseRecord: an accepted record names the model, holds a valid
// version that survives a write and read, and is small.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		rec("det", "1.0.0"), rec("det", "1.0.0-rc.1+b.2"), rec("other", "1.0.0"), rec("det", "01.0.0"),
		`{"model_id":"det","floor":"1.0.0","x":1}`, `{"MODEL_ID":"det","Floor":"1.0.0"}`,
		`{"model_id":"det","floor":"1.0.0"}{}`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseRecord("det", data)
		if err != nil {
			return
		}
		if len(data) > 4096 {
			t.Fatalf("accepted %d bytes", len(data))
		}
		again, err := targets.ParseVersion(v.String())
		if err != nil || again.Compare(v) != 0 || again.String() != v.String() {
			t.Fatalf("floor %q does not round-trip: %v", v, err)
		}
		// What was accepted can be stored and read back as the floor.
		s := NewFileStore(filepath.Join(t.TempDir(), "s"))
		if err := s.Raise("det", v); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Floor("det")
		if err != nil || !ok || got.Compare(v) != 0 {
			t.Fatalf("stored %s, read %s %v %v", v, got, ok, err)
		}
	})
}

// FuzzFloorTwoCopies: with two arbitrary copies, Floor is an error if
// either is damaged and otherwise the higher of the two; Raise never
// lowers it.
func FuzzFloorTwoCopies(f *testing.F) {
	f.Add([]byte(rec("det", "1.0.0")), []byte(rec("det", "2.0.0")), "1.5.0")
	f.Add([]byte(rec("det", "2.0.0")), []byte(nil), "2.0.0")
	f.Add([]byte("{"), []byte(rec("det", "2.0.0")), "3.0.0")
	f.Add([]byte(nil), []byte(nil), "0.0.1")
	f.Fuzz(func(t *testing.T, main, bak []byte, raise string) {
		s := NewFileStore(filepath.Join(t.TempDir(), "s"))
		os.MkdirAll(s.Dir, 0o700)
		var parsed []targets.Version
		damaged := false
		for i, data := range [][]byte{main, bak} {
			if len(data) == 0 {
				continue // missing
			}
			name := []string{"det.json", "det.json.bak"}[i]
			os.WriteFile(filepath.Join(s.Dir, name), data, 0o600)
			if v, err := parseRecord("det", data); err == nil {
				parsed = append(parsed, v)
			} else {
				damaged = true
			}
		}
		floor, ok, err := s.Floor("det")
		switch {
		case damaged:
			if err == nil {
				t.Fatalf("damaged copy: floor %s %v", floor, ok)
			}
			return
		case err != nil:
			t.Fatal(err)
		case ok != (len(parsed) > 0):
			t.Fatalf("ok %v with %d copies", ok, len(parsed))
		}
		for _, p := range parsed {
			if floor.Compare(p) < 0 {
				t.Fatalf("floor %s below a copy's %s", floor, p)
			}
		}
		v, err := targets.ParseVersion(raise)
		if err != nil {
			return
		}
		rerr := s.Raise("det", v)
		after, _, err := s.Floor("det")
		if err != nil {
			t.Fatal(err)
		}
		if ok && after.Compare(floor) < 0 {
			t.Fatalf("floor went down from %s to %s", floor, after)
		}
		if ok && v.Compare(floor) < 0 {
			if !errors.Is(rerr, ErrLower) {
				t.Fatalf("Raise %s under %s: %v", v, floor, rerr)
			}
			return
		}
		if rerr != nil || after.Compare(v) != 0 {
			t.Fatalf("Raise %s: %v, floor %s", v, rerr, after)
		}
		m, _ := os.ReadFile(filepath.Join(s.Dir, "det.json"))
		b, _ := os.ReadFile(filepath.Join(s.Dir, "det.json.bak"))
		if !bytes.Equal(m, b) && v.Compare(floor) > 0 {
			t.Fatalf("copies differ after Raise: %q %q", m, b)
		}
	})
}
