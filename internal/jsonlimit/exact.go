package jsonlimit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// UnmarshalExact is UnmarshalStrict for wire formats that must fail
// closed on what encoding/json forgives: an object key given twice (the
// decoder keeps the last one, so two parsers can read two different
// documents) and a key that names a field of v without its exact case
// ("ID" for "id": the decoder matches names case-insensitively). Both are
// refused, in every object of data, for struct fields and map keys alike.
func UnmarshalExact(data []byte, v any, maxSize int64) error {
	if err := UnmarshalStrict(data, v, maxSize); err != nil {
		return err
	}
	return CheckKeys(data, reflect.TypeOf(v))
}

// CheckKeys fails if an object of data has a key twice or, where t (the
// type data decodes into; nil: any) is a struct, a key that is not
// exactly the JSON name of one of its fields. data must be valid JSON
// within MaxDepth (UnmarshalStrict checked it).
func CheckKeys(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return walkKeys(dec, t)
}

func walkKeys(dec *json.Decoder, t reflect.Type) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		} else if t != nil && t.Kind() == reflect.Map {
			elem = t.Elem()
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			if seen[key] {
				return fmt.Errorf("duplicate key %q", key)
			}
			seen[key] = true
			next := elem
			if fields != nil {
				ft, ok := fields[key]
				if !ok {
					return fmt.Errorf("key %q is not a field name (names are case-sensitive)", key)
				}
				next = ft
			}
			if err := walkKeys(dec, next); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walkKeys(dec, elem); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}

// jsonFields maps the JSON names of t's exported fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}
