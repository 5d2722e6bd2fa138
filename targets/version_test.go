package targets

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseVersionAccepts(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in                  string
		major, minor, patch uint64
		pre                 []string
		build               string
	}{
		{"0.0.0", 0, 0, 0, nil, ""},
		{"1.2.3", 1, 2, 3, nil, ""},
		{"10.20.30", 10, 20, 30, nil, ""},
		{"1.0.0-alpha", 1, 0, 0, []string{"alpha"}, ""},
		{"1.0.0-alpha.1", 1, 0, 0, []string{"alpha", "1"}, ""},
		{"1.0.0-0.3.7", 1, 0, 0, []string{"0", "3", "7"}, ""},
		{"1.0.0-x.7.z.92", 1, 0, 0, []string{"x", "7", "z", "92"}, ""},
		{"1.0.0-x-y-z.--", 1, 0, 0, []string{"x-y-z", "--"}, ""},
		{"1.0.0-0A.is.legal", 1, 0, 0, []string{"0A", "is", "legal"}, ""},
		{"1.0.0+20130313144700", 1, 0, 0, nil, "20130313144700"},
		{"1.0.0-beta+exp.sha.5114f85", 1, 0, 0, []string{"beta"}, "exp.sha.5114f85"},
		{"1.0.0+21AF26D3----117B344092BD", 1, 0, 0, nil, "21AF26D3----117B344092BD"},
		{"1.0.0+001", 1, 0, 0, nil, "001"}, // leading zeros are fine in build metadata
		{"1.0.0-rc-1+build-2", 1, 0, 0, []string{"rc-1"}, "build-2"},
		{"18446744073709551615.0.0", 18446744073709551615, 0, 0, nil, ""},
		{"1.0.0-99999999999999999999999", 1, 0, 0, []string{"99999999999999999999999"}, ""},
	} {
		v, err := ParseVersion(c.in)
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", c.in, err)
			continue
		}
		if v.Major != c.major || v.Minor != c.minor || v.Patch != c.patch || !reflect.DeepEqual(v.Pre, c.pre) || v.Build != c.build {
			t.Errorf("ParseVersion(%q) = %d.%d.%d pre %q build %q", c.in, v.Major, v.Minor, v.Patch, v.Pre, v.Build)
		}
		if v.String() != c.in {
			t.Errorf("ParseVersion(%q).String() = %q", c.in, v.String())
		}
	}
}

func TestParseVersionRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", "1", "1.2", "1.2.3.4", "v1.2.3", "V1.2.3", "01.2.3", "1.02.3", "1.2.03", "00.0.0",
		"1.2.3-", "1.2.3+", "1.2.3-+b", "1.2.3-01", "1.2.3-alpha.01", "1.2.3-a..b", "1.2.3-.a", "1.2.3-a.",
		"1.2.3-a_b", "1.2.3+a..b", "1.2.3+a_b", "1.2.3+b+c", " 1.2.3", "1.2.3 ", "-1.2.3", "1.-2.3",
		"+1.2.3", "1.2.3-ü", "1..3", ".1.2.3", "1.2.3.", "a.b.c", "1.2.x", "١.٢.٣",
		"18446744073709551616.0.0", // overflows uint64
		"1.0.0-" + strings.Repeat("a", 130),
	} {
		if v, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) = %+v, want error", in, v)
		}
	}
}

func TestParseMinVersion(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want string // equal precedence
	}{
		{"2", "2.0.0"},
		{"2.14", "2.14.0"},
		{"2.14.1", "2.14.1"},
		{"2.14.1-rc.1", "2.14.1-rc.1"},
		{"3-beta", "3.0.0-beta"},
		{"0", "0.0.0"},
	} {
		v, err := ParseMinVersion(c.in)
		if err != nil {
			t.Errorf("ParseMinVersion(%q): %v", c.in, err)
			continue
		}
		w, _ := ParseVersion(c.want)
		if v.Compare(w) != 0 {
			t.Errorf("ParseMinVersion(%q) = %d.%d.%d%v, want %s", c.in, v.Major, v.Minor, v.Patch, v.Pre, c.want)
		}
	}
	for _, in := range []string{"", "2.", ".2", "1.2.3.4", "v2", "02", "2.x", "2..1"} {
		if _, err := ParseMinVersion(in); err == nil {
			t.Errorf("ParseMinVersion(%q) accepted, want error", in)
		}
	}
	// Strict parsing never accepts the short forms.
	if _, err := ParseVersion("2.14"); err == nil {
		t.Error(`ParseVersion("2.14") accepted`)
	}
}

// TestVersionPrecedence checks the ordering rules of semver.org 2.0.0
// section 11, using the specification's own examples and the edge cases
// of each rule. Every list is strictly increasing.
func TestVersionPrecedence(t *testing.T) {
	t.Parallel()
	chains := [][]string{
		// 11.2: major, minor, patch compared numerically.
		{"1.0.0", "2.0.0", "2.1.0", "2.1.1", "2.10.0", "10.0.0"},
		// 11.3: a pre-release has lower precedence than the release.
		{"1.0.0-alpha", "1.0.0"},
		// 11.4: the specification's example.
		{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"},
		// 11.4.1: numeric identifiers compare numerically, not as text,
		// including values beyond 64 bits.
		{"1.0.0-2", "1.0.0-10", "1.0.0-18446744073709551615", "1.0.0-18446744073709551616", "1.0.0-99999999999999999999", "1.0.0-100000000000000000000"},
		// 11.4.2: alphanumeric identifiers compare in ASCII order.
		{"1.0.0-Z", "1.0.0-a", "1.0.0-a-", "1.0.0-ab", "1.0.0-b"},
		// 11.4.3: numeric identifiers have lower precedence than alphanumeric
		// ones, whatever their value or the characters involved.
		{"1.0.0-1", "1.0.0-100000000000000000000", "1.0.0--", "1.0.0-0a", "1.0.0-A"},
		// 11.4.4: a larger set of pre-release fields has higher precedence.
		{"1.0.0-a", "1.0.0-a.0", "1.0.0-a.0.0", "1.0.0-a.1"},
		// Pre-release of a higher version beats a lower release.
		{"1.9.9", "2.0.0-0", "2.0.0"},
	}
	for _, chain := range chains {
		vs := make([]Version, len(chain))
		for i, s := range chain {
			v, err := ParseVersion(s)
			if err != nil {
				t.Fatalf("ParseVersion(%q): %v", s, err)
			}
			vs[i] = v
		}
		for i := range vs {
			if c := vs[i].Compare(vs[i]); c != 0 {
				t.Errorf("%s vs itself = %d", chain[i], c)
			}
			for j := i + 1; j < len(vs); j++ {
				if c := vs[i].Compare(vs[j]); c != -1 {
					t.Errorf("%s vs %s = %d, want -1", chain[i], chain[j], c)
				}
				if c := vs[j].Compare(vs[i]); c != 1 {
					t.Errorf("%s vs %s = %d, want 1", chain[j], chain[i], c)
				}
			}
		}
	}
}

// TestVersionBuildIgnored: 11 (and 10): build metadata does not figure in
// precedence.
func TestVersionBuildIgnored(t *testing.T) {
	t.Parallel()
	for _, pair := range [][2]string{
		{"1.0.0+a", "1.0.0+b"},
		{"1.0.0", "1.0.0+20130313144700"},
		{"1.0.0-rc.1+x", "1.0.0-rc.1+y.z"},
	} {
		a, _ := ParseVersion(pair[0])
		b, _ := ParseVersion(pair[1])
		if a.Compare(b) != 0 || b.Compare(a) != 0 {
			t.Errorf("%s vs %s = %d/%d, want 0", pair[0], pair[1], a.Compare(b), b.Compare(a))
		}
	}
}

func TestVersionStringWithoutRaw(t *testing.T) {
	t.Parallel()
	v := Version{Major: 1, Minor: 2, Patch: 3, Pre: []string{"rc", "1"}, Build: "b5"}
	if got := v.String(); got != "1.2.3-rc.1+b5" {
		t.Errorf("String() = %q", got)
	}
	if got := (Version{Major: 4}).String(); got != "4.0.0" {
		t.Errorf("String() = %q", got)
	}
}
