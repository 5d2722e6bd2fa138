package repofiles

import (
	"crypto/sha256"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func TestConsistentName(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	got := ConsistentName("models/m/1.0.0/model.bin", sum[:])
	want := "models/m/1.0.0/2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881.model.bin"
	if got != want {
		t.Errorf("ConsistentName = %s, want %s", got, want)
	}
}

func TestRootVersions(t *testing.T) {
	fs := afero.NewMemMapFs()
	for _, n := range []string{"2.root.json", "10.root.json", "1.root.json", "0.root.json", "01.root.json", "root.json", "3.targets.json"} {
		if err := afero.WriteFile(fs, "/m/"+n, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := RootVersions(fs, "/m")
	if err != nil || !reflect.DeepEqual(vs, []int64{1, 2, 10}) {
		t.Errorf("RootVersions = %v, %v", vs, err)
	}
}

func TestReadBounded(t *testing.T) {
	fs := afero.NewMemMapFs()
	_ = afero.WriteFile(fs, "/small.json", []byte(`{"a":1}`), 0o644)
	_ = afero.WriteFile(fs, "/big.json", []byte(`{"a":"`+strings.Repeat("x", 100)+`"}`), 0o644)
	if data, err := ReadBounded(fs, "/small.json", 7); err != nil || string(data) != `{"a":1}` {
		t.Errorf("ReadBounded(small) = %q, %v", data, err)
	}
	if _, err := ReadBounded(fs, "/big.json", 64); err == nil || !strings.Contains(err.Error(), "larger than 64 bytes") {
		t.Errorf("ReadBounded(big) error %v", err)
	}
}

func TestClientLimit(t *testing.T) {
	if ClientLimit(metadata.TIMESTAMP) != 16384 || ClientLimit("bin-0a") != ClientLimit(metadata.TARGETS) {
		t.Error("ClientLimit")
	}
}

// lyingFs reports every file's size as size (a file that changes between
// Stat and read, or a store that misreports it).
type lyingFs struct {
	afero.Fs
	size int64
}

type lyingFile struct {
	afero.File
	size int64
}

type lyingInfo struct {
	os.FileInfo
	size int64
}

func (l lyingFs) Open(name string) (afero.File, error) {
	f, err := l.Fs.Open(name)
	return lyingFile{f, l.size}, err
}

func (f lyingFile) Stat() (os.FileInfo, error) {
	fi, err := f.File.Stat()
	return lyingInfo{fi, f.size}, err
}

func (i lyingInfo) Size() int64 { return i.size }

// TestReadBoundedSizeMisreported: the buffer is sized by Stat, the limit
// by the bytes read: a file that reports fewer bytes than it has is still
// refused past the limit, and one that reports more is read as it is.
func TestReadBoundedSizeMisreported(t *testing.T) {
	fs := afero.NewMemMapFs()
	big := `{"a":"` + strings.Repeat("x", 100) + `"}`
	_ = afero.WriteFile(fs, "/big.json", []byte(big), 0o644)
	for _, size := range []int64{0, 1, 1 << 40, -1} {
		if _, err := ReadBounded(lyingFs{fs, size}, "/big.json", 64); err == nil || !strings.Contains(err.Error(), "larger than 64 bytes") {
			t.Errorf("size reported %d: ReadBounded(big) error %v", size, err)
		}
		if data, err := ReadBounded(lyingFs{fs, size}, "/big.json", 1000); err != nil || string(data) != big {
			t.Errorf("size reported %d: ReadBounded(big, 1000) = %d bytes, %v", size, len(data), err)
		}
	}
}
