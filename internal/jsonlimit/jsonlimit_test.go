package jsonlimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// depthOf is the nesting depth of a valid JSON document by
// encoding/json's tokenizer: the reference CheckDepth must agree with.
func depthOf(t *testing.T, data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers of any size are valid JSON
	depth, max := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return max
		}
		if err != nil {
			t.Fatalf("depthOf a valid document: %v", err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '[' || d == '{' {
				depth++
				max = maxInt(max, depth)
			} else {
				depth--
			}
		}
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// FuzzCheckDepth: on every valid JSON document, CheckDepth agrees with
// encoding/json on the depth (strings with brackets, escapes and quotes
// included); on any bytes it never panics.
func FuzzCheckDepth(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `[[[]]]`, `{"a":{"b":[1,{"c":"]]]"}]}}`, `"[[[["`, `"\"[["`, `"\\"`, `["\\\"[",[[]]]`,
		`{"k":"\u005b"}`, strings.Repeat("[", 70) + strings.Repeat("]", 70), strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65),
		`{"` + strings.Repeat("k", 1000) + `":1}`, `]]]][[[[`, `"unterminated [[[`,
	} {
		f.Add([]byte(s), 64)
	}
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 0 || max > 1000 {
			return
		}
		err := CheckDepth(data, max)
		if err != nil && !errors.Is(err, ErrTooDeep) {
			t.Fatalf("error %v", err)
		}
		if !json.Valid(data) {
			return
		}
		if d := depthOf(t, data); (d > max) != (err != nil) {
			t.Fatalf("depth %d, max %d: CheckDepth says %v", d, max, err)
		}
	})
}

func TestCheck(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if err := Check([]byte(deep), 1<<20); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("%d levels: %v", MaxDepth+1, err)
	}
	if err := Check([]byte(ok), 1<<20); err != nil {
		t.Fatalf("%d levels: %v", MaxDepth, err)
	}
	if err := Check([]byte(ok), int64(len(ok)-1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("size: %v", err)
	}
	var v any
	if err := Unmarshal([]byte(deep), &v, 1<<20); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("Unmarshal: %v", err)
	}
	var s struct{ A int }
	if err := UnmarshalStrict([]byte(`{"A":1,"B":2}`), &s, 100); err == nil {
		t.Fatal("UnmarshalStrict accepted an unknown field")
	}
	if err := UnmarshalStrict([]byte(`{"A":1} {}`), &s, 100); err == nil {
		t.Fatal("UnmarshalStrict accepted trailing data")
	}
	if err := UnmarshalStrict([]byte(`{"A":1}`), &s, 100); err != nil || s.A != 1 {
		t.Fatalf("UnmarshalStrict: %v", err)
	}
}

// TestReadAllBounded: an oversized input is refused after reading one byte
// more than the limit, never all of it.
func TestReadAllBounded(t *testing.T) {
	t.Parallel()
	r := &countingReader{}
	if _, err := ReadAll(r, 1000); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless input: %v", err)
	}
	if r.n > 1001 {
		t.Fatalf("read %d bytes of an endless input with a limit of 1000", r.n)
	}
	p := filepath.Join(t.TempDir(), "f.json")
	os.WriteFile(p, []byte(`{"a":1}`), 0o600)
	if _, err := ReadFile(p, 6); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), p) {
		t.Fatalf("ReadFile over the limit: %v", err)
	}
	var v map[string]int
	if err := ReadJSONFile(p, &v, 7, true); err != nil || v["a"] != 1 {
		t.Fatalf("ReadJSONFile: %v %v", v, err)
	}
}

type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	c.n += len(p)
	return len(p), nil
}
