package targets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// decodeStrict decodes one JSON object into v. With strict set, fields v
// does not have are errors; without it they are ignored (forward
// compatibility). Either way, field names must match exactly (Go's decoder
// would otherwise accept "Model_ID" for "model_id"), no object may repeat
// a key (Go would keep the last one; other parsers keep the first), and
// nothing may follow the object.
func decodeStrict(data []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s", describeJSONError(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("not a JSON object")
	}
	if err := checkKeys(json.NewDecoder(bytes.NewReader(data)), reflect.TypeOf(v), strict, ""); err != nil {
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

// checkKeys walks one JSON value alongside the Go type it decodes into and
// rejects duplicate keys, keys that match a field only when case is
// ignored, and (when strict) keys that match no field.
func checkKeys(dec *json.Decoder, t reflect.Type, strict bool, at string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
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
		for dec.More() {
			if err := checkKeys(dec, elem, strict, at+"[]"); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		if t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return jsonTokenError(err)
			}
			key, _ := kt.(string)
			where := strings.TrimPrefix(at+"."+key, ".")
			if seen[key] {
				return fmt.Errorf("field %q appears twice", where)
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
						return fmt.Errorf("field %q: names are case-sensitive (did you mean %q?)", where, name)
					}
				}
				if strict {
					return fmt.Errorf("unknown field %q", where)
				}
			case t.Kind() == reflect.Map:
				elem = t.Elem()
			}
			if err := checkKeys(dec, elem, strict && elem != anyType, where); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
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
