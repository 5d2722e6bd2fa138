package targets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// decodeTolerant decodes one JSON object into v, ignoring unknown fields
// (forward compatibility) but rejecting trailing data and non-objects.
func decodeTolerant(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%s", describeJSONError(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("not a JSON object")
	}
	dec = json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

// checkCritical fails if critical names a field that v's type does not
// know. A writer lists a field as critical when ignoring it would be unsafe.
func checkCritical(critical []string, v any) error {
	if len(critical) == 0 {
		return nil
	}
	known := jsonFieldNames(reflect.TypeOf(v))
	for _, name := range critical {
		if !known[name] {
			return fmt.Errorf("requires support for field %q, which this version does not have", name)
		}
	}
	return nil
}

// jsonFieldNames lists the JSON names of a struct's fields, following
// embedded structs as encoding/json does.
func jsonFieldNames(t reflect.Type) map[string]bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	names := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			for n := range jsonFieldNames(f.Type) {
				names[n] = true
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
	return names
}
