package targets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/edgetuf/edgetuf/internal/jsonlimit"
)

// decodeStrict decodes one JSON object of at most maxSize bytes into v.
// With strict set, fields v does not have are errors; without it they are
// ignored (forward compatibility). Either way, field names must match
// exactly (Go's decoder would otherwise accept "Model_ID" for
// "model_id"), no object may repeat a key (Go would keep the last one;
// other parsers keep the first), nothing may follow the object, and the
// document may nest at most jsonlimit.MaxDepth levels. Time and memory
// are linear in the size of the document.
func decodeStrict(data []byte, v any, strict bool, maxSize int64) error {
	if err := jsonlimit.Check(data, maxSize); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s", describeJSONError(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("not a JSON object")
	}
	kc := keyChecker{dec: json.NewDecoder(bytes.NewReader(data))}
	if err := kc.check(reflect.TypeOf(v), strict); err != nil {
		return err
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

var anyType = reflect.TypeOf((*any)(nil)).Elem()

// keyChecker walks one JSON value alongside the Go type it decodes into
// and rejects duplicate keys, keys that match a field only when case is
// ignored, and (when strict) keys that match no field. The path of the
// value being walked is kept as a stack of its parts and only joined
// into a string for an error message: joining it at every level cost
// memory quadratic in the depth (60 KB of nested arrays took 970 MB).
type keyChecker struct {
	dec  *json.Decoder
	path []string // object keys, or "[]" for array elements
}

// where names the value at the current path, with key appended if set.
func (k *keyChecker) where(key string) string {
	var b strings.Builder
	for _, p := range k.path {
		if p != "[]" && b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(key)
	return b.String()
}

func (k *keyChecker) check(t reflect.Type, strict bool) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := k.dec.Token()
	if err != nil {
		return jsonTokenError(err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar; its type is checked by the decoder
	}
	switch delim {
	case '[':
		elem := anyType
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			elem = t.Elem()
		}
		k.path = append(k.path, "[]")
		for k.dec.More() {
			if err := k.check(elem, strict); err != nil {
				return err
			}
		}
		k.path = k.path[:len(k.path)-1]
	case '{':
		var fields map[string]reflect.Type
		if t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		seen := map[string]bool{}
		for k.dec.More() {
			kt, err := k.dec.Token()
			if err != nil {
				return jsonTokenError(err)
			}
			key, _ := kt.(string)
			if seen[key] {
				return fmt.Errorf("field %q appears twice", k.where(key))
			}
			seen[key] = true
			elem := anyType
			switch {
			case fields != nil:
				if ft, ok := fields[key]; ok {
					elem = ft
					break
				}
				for name := range fields {
					if strings.EqualFold(name, key) {
						return fmt.Errorf("field %q: names are case-sensitive (did you mean %q?)", k.where(key), name)
					}
				}
				if strict {
					return fmt.Errorf("unknown field %q", k.where(key))
				}
			case t.Kind() == reflect.Map:
				elem = t.Elem()
			}
			k.path = append(k.path, key)
			if err := k.check(elem, strict && elem != anyType); err != nil {
				return err
			}
			k.path = k.path[:len(k.path)-1]
		}
	}
	if _, err := k.dec.Token(); err != nil { // the closing delimiter
		return jsonTokenError(err)
	}
	return nil
}

// jsonTokenError describes an error met while walking tokens; running out
// of input inside a value means the document is truncated.
func jsonTokenError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("unexpected end of JSON input (truncated?)")
	}
	return fmt.Errorf("%s", describeJSONError(err))
}

// checkCritical fails if critical names a field that v's type does not
// know. A writer lists a field as critical when ignoring it would be unsafe.
func checkCritical(critical []string, v any) error {
	if len(critical) == 0 {
		return nil
	}
	known := jsonFields(reflect.TypeOf(v))
	for _, name := range critical {
		if _, ok := known[name]; !ok {
			return fmt.Errorf("requires support for field %q, which this version does not have", name)
		}
	}
	return nil
}

// jsonFields maps the JSON names of a struct's fields to their types,
// following embedded structs as encoding/json does.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			for n, ft := range jsonFields(f.Type) {
				fields[n] = ft
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}
