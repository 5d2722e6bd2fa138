package repoconfig

import (
	"strings"
	"testing"

	"github.com/spf13/afero"
)

func readConfig(t *testing.T, bins string) (*Config, error) {
	t.Helper()
	fs := afero.NewMemMapFs()
	doc := `{"format":"` + Magic + `","expiry":{"root":"365d","targets":"90d","snapshot":"7d","timestamp":"1d"}` + bins + `}`
	if err := afero.WriteFile(fs, "/r/"+File, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return Read(fs, "/r")
}

// TestBinsConfig: mrepo.json's bins section is read strictly: a
// misspelt field, a threshold below 1 or a count that is not 0 or a
// power of two from 2 to 16384 make the file invalid.
func TestBinsConfig(t *testing.T) {
	c, err := readConfig(t, `,"bins":{"threshold":10000,"count":0}`)
	if err != nil || c.Bins == nil || c.Bins.Threshold != 10000 {
		t.Fatalf("Read = %+v, %v", c, err)
	}
	if c, err := readConfig(t, ``); err != nil || c.Bins != nil {
		t.Fatalf("without bins: %+v, %v", c, err)
	}
	for _, bad := range []string{
		`,"bins":{"treshold":10000,"count":0}`,
		`,"bins":{"threshold":0,"count":0}`,
		`,"bins":{"threshold":10,"count":3}`,
		`,"bins":{"threshold":10,"count":32768}`,
		`,"bins":{"threshold":10,"count":1}`,
		`,"bins":[]`,
	} {
		if _, err := readConfig(t, bad); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestBinCount(t *testing.T) {
	for _, c := range []struct {
		count, targets, want int
	}{
		{0, 0, 256}, {0, 256 * 64, 256}, {0, 256*64 + 1, 512}, {0, 201000, 4096}, {0, 1 << 30, MaxBins}, {16, 1 << 20, 16},
	} {
		b := &Bins{Threshold: 1, Count: c.count}
		if got := b.BinCount(c.targets); got != c.want {
			t.Errorf("BinCount(%d) with count %d = %d, want %d", c.targets, c.count, got, c.want)
		}
	}
	if err := CheckBinsCount(0, false); err == nil || !strings.Contains(err.Error(), "power of two") {
		t.Errorf("CheckBinsCount(0, false) = %v", err)
	}
}
