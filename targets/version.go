package targets

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed semantic version (https://semver.org, 2.0.0).
// Build metadata is kept for display but, as the specification requires,
// ignored by Compare.
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // dot-separated pre-release identifiers
	Build               string
	raw                 string
}

// maxVersionLen bounds what ParseVersion looks at; real versions are short.
const maxVersionLen = 128

// ParseVersion parses a strict semantic version: MAJOR.MINOR.PATCH with
// optional -PRERELEASE and +BUILD, no leading "v", no leading zeros.
func ParseVersion(s string) (Version, error) {
	return parseVersion(s, false)
}

// ParseMinVersion parses a minimum version as found in compatibility
// fields: like ParseVersion, but MINOR and PATCH may be left out
// ("2", "2.14"), which reads as zero.
func ParseMinVersion(s string) (Version, error) {
	return parseVersion(s, true)
}

func parseVersion(s string, lenient bool) (Version, error) {
	v := Version{raw: s}
	if s == "" {
		return v, fmt.Errorf("empty version")
	}
	if len(s) > maxVersionLen {
		return v, fmt.Errorf("version longer than %d characters", maxVersionLen)
	}
	rest := s
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		v.Build = rest[i+1:]
		rest = rest[:i]
		if err := checkIdentifiers(v.Build, false); err != nil {
			return v, fmt.Errorf("version %q: build metadata: %v", s, err)
		}
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		pre := rest[i+1:]
		rest = rest[:i]
		if err := checkIdentifiers(pre, true); err != nil {
			return v, fmt.Errorf("version %q: pre-release: %v", s, err)
		}
		v.Pre = strings.Split(pre, ".")
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 && !(lenient && len(parts) >= 1 && len(parts) <= 3) {
		return v, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH", s)
	}
	nums := [3]uint64{}
	for i, p := range parts {
		n, err := parseNumeric(p)
		if err != nil {
			return v, fmt.Errorf("version %q: %v", s, err)
		}
		nums[i] = n
	}
	v.Major, v.Minor, v.Patch = nums[0], nums[1], nums[2]
	return v, nil
}

func parseNumeric(p string) (uint64, error) {
	if p == "" {
		return 0, fmt.Errorf("empty numeric component")
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("component %q is not a number", p)
		}
	}
	if len(p) > 1 && p[0] == '0' {
		return 0, fmt.Errorf("component %q has a leading zero", p)
	}
	n, err := strconv.ParseUint(p, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("component %q out of range", p)
	}
	return n, nil
}

func checkIdentifiers(s string, noLeadingZeros bool) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return fmt.Errorf("empty identifier")
		}
		numeric := true
		for _, c := range id {
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				numeric = false
			default:
				return fmt.Errorf("identifier %q has character %q", id, c)
			}
		}
		if noLeadingZeros && numeric && len(id) > 1 && id[0] == '0' {
			return fmt.Errorf("numeric identifier %q has a leading zero", id)
		}
	}
	return nil
}

// String returns the version as it was parsed.
func (v Version) String() string {
	if v.raw != "" {
		return v.raw
	}
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

// Compare orders versions by semantic version precedence: -1 if v < w,
// 0 if they have equal precedence, +1 if v > w.
func (v Version) Compare(w Version) int {
	for _, d := range [][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return 1 // a release outranks its pre-releases
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		if c := compareIdentifier(v.Pre[i], w.Pre[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(v.Pre) < len(w.Pre):
		return -1
	case len(v.Pre) > len(w.Pre):
		return 1
	}
	return 0
}

func compareIdentifier(a, b string) int {
	an, bn := isNumeric(a), isNumeric(b)
	switch {
	case an && bn:
		// Numeric identifiers of any length (semver sets no bound) compare
		// by value: without leading zeros, the longer one is larger.
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	case an:
		return -1 // numeric identifiers have lower precedence
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

func isNumeric(id string) bool {
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return id != ""
}
