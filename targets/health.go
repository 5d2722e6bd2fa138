package targets

import (
	"fmt"
)

// Output formats of a test vector.
const (
	// FormatBytes: the output must equal the expected file byte for byte.
	FormatBytes = "bytes"
	// FormatFloat32: the output is an array of IEEE 754 float32 values,
	// little-endian, 4 bytes each, nothing else (what numpy's
	// tofile("<f4") and Go's binary.Write with LittleEndian write); it is
	// compared element by element.
	FormatFloat32 = "float32le"
)

// MaxVectors bounds the test vectors of one version; each one runs the
// health command once.
const MaxVectors = 32

// MaxVectorOutput bounds the output of one test vector in bytes (16 Mi
// float32 values): a device reads at most this much (the expected size,
// in fact) from what the health command wrote.
const MaxVectorOutput = 64 << 20

// Health is the optional "health" section of a manifest: golden test
// vectors that the device runs through the application's health command
// after activating the version, so that a model whose files verify but
// which computes garbage is rolled back (docs/manifest.md, "Test
// vectors"). A device reads it from the installed, verified manifest; it
// is not in the signed custom metadata, which a device needs before it
// downloads, and which could not hold its floating-point tolerances.
type Health struct {
	Vectors []Vector `json:"vectors"`
}

// Vector is one test input and what the output must satisfy.
type Vector struct {
	// Name identifies the vector in messages: 1-64 characters of
	// A-Z a-z 0-9 . _ -, unique in the manifest.
	Name string `json:"name"`
	// Input is a payload file of the bundle, handed to the health command.
	Input string `json:"input"`
	// Format is FormatBytes or FormatFloat32.
	Format string `json:"format"`
	// Expect is a payload file holding the expected output; with
	// FormatBytes it is required, with FormatFloat32 it is required unless
	// Count is given.
	Expect string `json:"expect,omitempty"`
	// Count is the number of float32 values of the output when there is
	// no Expect file (only Range and Finite are checked).
	Count int64 `json:"count,omitempty"`
	// Tolerance of the element-wise comparison with Expect (float32le
	// only); absent: every element must equal the expected one exactly.
	Tolerance *Tolerance `json:"tolerance,omitempty"`
	// Range every output element must lie in (float32le only).
	Range *Range `json:"range,omitempty"`
	// Finite: no output element may be NaN or infinite (float32le only).
	Finite bool `json:"finite,omitempty"`
}

// Tolerance: an output element got matches the expected want if
// |got - want| <= Abs + Rel * |want| (numpy's isclose). NaN matches
// nothing.
type Tolerance struct {
	Abs float64 `json:"abs,omitempty"`
	Rel float64 `json:"rel,omitempty"`
}

// Range bounds output elements: Min <= x <= Max, for each bound given.
type Range struct {
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
}

// OutputSize is the size in bytes of the output v expects, given the
// size of its Expect file (ignored without one).
func (v *Vector) OutputSize(expectSize int64) int64 {
	if v.Expect != "" {
		return expectSize
	}
	return 4 * v.Count
}

// validate checks the section of m. When m lists payload files (a
// published manifest, or a bundle manifest with "files"), every file a
// vector names must be one of them, and an expected output's size, when
// known, must fit its format.
func (h *Health) validate(m *Manifest) error {
	if len(h.Vectors) == 0 {
		return fmt.Errorf("health.vectors is empty")
	}
	if len(h.Vectors) > MaxVectors {
		return fmt.Errorf("health: more than %d vectors", MaxVectors)
	}
	names := map[string]bool{}
	for i := range h.Vectors {
		v := &h.Vectors[i]
		if !variantPattern.MatchString(v.Name) {
			return fmt.Errorf("health.vectors[%d]: name %.70q: 1-64 characters of A-Z a-z 0-9 . _ -", i, v.Name)
		}
		if names[v.Name] {
			return fmt.Errorf("health: vector name %q is used twice", v.Name)
		}
		names[v.Name] = true
		if err := v.validate(m); err != nil {
			return fmt.Errorf("health vector %q: %v", v.Name, err)
		}
	}
	return nil
}

func (v *Vector) validate(m *Manifest) error {
	expectSize := int64(-1)
	for _, ref := range []struct{ field, name string }{{"input", v.Input}, {"expect", v.Expect}} {
		if ref.name == "" {
			continue
		}
		if err := CheckFileName(ref.name); err != nil {
			return fmt.Errorf("%s: %v", ref.field, err)
		}
		if len(m.Files) == 0 {
			continue
		}
		f := m.File(ref.name)
		if f == nil {
			return fmt.Errorf("%s %q is not a payload file of the bundle", ref.field, ref.name)
		}
		if ref.field == "expect" && f.Size != nil {
			expectSize = *f.Size
		}
	}
	if v.Input == "" {
		return fmt.Errorf("input is missing")
	}
	switch v.Format {
	case FormatBytes:
		if v.Expect == "" {
			return fmt.Errorf("format bytes needs expect")
		}
		if v.Count != 0 || v.Tolerance != nil || v.Range != nil || v.Finite {
			return fmt.Errorf("count, tolerance, range and finite apply to format float32le only")
		}
	case FormatFloat32:
		if err := v.validateFloat32(); err != nil {
			return err
		}
	case "":
		return fmt.Errorf("format is missing (bytes or float32le)")
	default:
		return fmt.Errorf("format %.40q: want bytes or float32le", v.Format)
	}
	if expectSize >= 0 {
		switch {
		case expectSize == 0:
			return fmt.Errorf("expect %q is empty", v.Expect)
		case expectSize > MaxVectorOutput:
			return fmt.Errorf("expect %q is %d bytes, more than %d", v.Expect, expectSize, MaxVectorOutput)
		case v.Format == FormatFloat32 && expectSize%4 != 0:
			return fmt.Errorf("expect %q is %d bytes, not a whole number of float32 values (4 bytes each)", v.Expect, expectSize)
		}
	}
	return nil
}

func (v *Vector) validateFloat32() error {
	switch {
	case v.Expect != "" && v.Count != 0:
		return fmt.Errorf("give expect or count, not both (the expected file's size is the output's)")
	case v.Expect == "" && (v.Count <= 0 || v.Count > MaxVectorOutput/4):
		return fmt.Errorf("without expect, count (the number of output values) must be 1-%d", MaxVectorOutput/4)
	case v.Expect == "" && v.Range == nil && !v.Finite:
		return fmt.Errorf("checks nothing: give expect, range or finite")
	case v.Tolerance != nil && v.Expect == "":
		return fmt.Errorf("tolerance needs expect")
	}
	if t := v.Tolerance; t != nil && (t.Abs < 0 || t.Rel < 0) {
		return fmt.Errorf("tolerance abs and rel must not be negative")
	}
	if r := v.Range; r != nil {
		if r.Min == nil && r.Max == nil {
			return fmt.Errorf("range needs min, max or both")
		}
		if r.Min != nil && r.Max != nil && *r.Min > *r.Max {
			return fmt.Errorf("range min %g is above max %g", *r.Min, *r.Max)
		}
	}
	return nil
}
