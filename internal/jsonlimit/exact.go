package jsonlimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// UnmarshalExact is UnmarshalStrict for wire formats that must fail
// closed on what encoding/json forgives: an object key given twice (the
// decoder keeps the last one, so two parsers can read two different
// documents) and a key that names a field of v without its exact case
// ("ID" for "id": the decoder matches names case-insensitively). Both are
// refused, in every object of data, for struct fields and map keys alike;
// so is null for a struct field that null cannot be (a string, a number:
// the decoder would skip it silently).
func UnmarshalExact(data []byte, v any, maxSize int64) error {
	if err := UnmarshalStrict(data, v, maxSize); err != nil {
		return err
	}
	return CheckKeys(data, reflect.TypeOf(v))
}

// CheckKeys fails if an object of data has a key twice or, where t (the
// type data decodes into; nil: any) is a struct, a key that is not
// exactly the JSON name of one of its fields. data must be valid JSON
// within MaxDepth (UnmarshalStrict checked it). It scans once, allocating
// only for objects decoded into maps and for escaped keys.
func CheckKeys(data []byte, t reflect.Type) error {
	k := keyScanner{data: data}
	k.space()
	return k.value(t)
}

// keyScanner walks a valid JSON document.
type keyScanner struct {
	data []byte
	i    int
}

func (k *keyScanner) space() {
	for k.i < len(k.data) && (k.data[k.i] == ' ' || k.data[k.i] == '\t' || k.data[k.i] == '\n' || k.data[k.i] == '\r') {
		k.i++
	}
}

// str consumes a string and returns its raw bytes, quotes included.
func (k *keyScanner) str() []byte {
	start := k.i
	for k.i++; k.i < len(k.data) && k.data[k.i] != '"'; k.i++ {
		if k.data[k.i] == '\\' {
			k.i++
		}
	}
	k.i++
	return k.data[start:min(k.i, len(k.data))]
}

func (k *keyScanner) value(t reflect.Type) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if k.i >= len(k.data) {
		return errors.New("unexpected end of JSON")
	}
	switch k.data[k.i] {
	case '{':
		return k.object(t)
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		k.i++
		k.space()
		for k.i < len(k.data) && k.data[k.i] != ']' {
			if err := k.element(elem); err != nil {
				return err
			}
		}
		k.i++
		return nil
	case '"':
		k.str()
		return nil
	}
	for k.i < len(k.data) && !strings.ContainsRune(",]} \t\n\r", rune(k.data[k.i])) {
		k.i++
	}
	return nil
}

func (k *keyScanner) object(t reflect.Type) error {
	var fields *structFields
	var elem reflect.Type
	if t != nil && t.Kind() == reflect.Struct {
		fields = fieldsOf(t)
	} else if t != nil && t.Kind() == reflect.Map {
		elem = t.Elem()
	}
	var seenFields uint64
	var seen map[string]bool
	k.i++
	k.space()
	for k.i < len(k.data) && k.data[k.i] != '}' {
		raw := k.str()
		name := raw[1 : len(raw)-1] // looked up without a copy
		if bytes.IndexByte(raw, '\\') >= 0 {
			var key string
			if err := json.Unmarshal(raw, &key); err != nil {
				return err
			}
			name = []byte(key)
		}
		k.space()
		k.i++ // ':'
		k.space()
		next := elem
		if fields != nil {
			n, ok := fields.index[string(name)]
			if !ok {
				return fmt.Errorf("key %q is not a field name (names are case-sensitive)", name)
			}
			next = fields.types[n]
			if bytes.HasPrefix(k.data[k.i:], []byte("null")) && !nullable(next) {
				// encoding/json leaves the field as it was: a key that
				// says nothing, where its absence would be refused or
				// mean something else.
				return fmt.Errorf("key %q is null", name)
			}
			if n < 64 && seenFields&(1<<n) != 0 {
				return fmt.Errorf("duplicate key %q", name)
			}
			if n < 64 {
				seenFields |= 1 << n
			}
		}
		if fields == nil || len(fields.types) > 64 {
			if seen == nil {
				seen = map[string]bool{}
			}
			if seen[string(name)] {
				return fmt.Errorf("duplicate key %q", name)
			}
			seen[string(name)] = true
		}
		if err := k.element(next); err != nil {
			return err
		}
	}
	k.i++
	return nil
}

// element consumes a value of an array or object and the comma after it.
func (k *keyScanner) element(t reflect.Type) error {
	if err := k.value(t); err != nil {
		return err
	}
	k.space()
	if k.i < len(k.data) && k.data[k.i] == ',' {
		k.i++
		k.space()
	}
	return nil
}

// nullable reports whether null is a value of t (not a no-op).
func nullable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return true
	}
	return false
}

// structFields are the JSON names of a struct's exported fields, with
// their types.
type structFields struct {
	index map[string]int
	types []reflect.Type
}

var fieldCache sync.Map // reflect.Type -> *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{index: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f.index[name] = len(f.types)
		f.types = append(f.types, sf.Type)
	}
	fieldCache.Store(t, f)
	return f
}
