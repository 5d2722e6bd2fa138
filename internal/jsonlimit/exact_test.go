package jsonlimit

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

type exactInner struct {
	Name string `json:"name"`
}

type exactDoc struct {
	ID    string            `json:"id"`
	Items []exactInner      `json:"items"`
	Rates map[string]int    `json:"rates"`
	Inner *exactInner       `json:"inner"`
	Any   any               `json:"any"`
	Tags  map[string]string `json:"tags"`
}

// TestUnmarshalExact: a document encoding/json accepts is refused when a
// key appears twice or in another case, at any depth, escaped or not;
// strings that look like keys or structure are not mistaken for them.
func TestUnmarshalExact(t *testing.T) {
	for _, good := range []string{
		`{"id":"a","items":[{"name":"x"},{"name":"y"}],"rates":{"a":1,"b":2},"inner":{"name":"z"}}`,
		`{"id":"{\"id\":1,\"id\":2}","any":{"x":[{"y":1},{"y":2}]},"tags":{"ID":"1","id":"2"}}`,
		`{"\u0069d":"escaped but exact","items":[]}`,
		` { "id" : "a" , "inner" : null, "rates": null, "items": null, "any": null } `,
	} {
		var d exactDoc
		if err := UnmarshalExact([]byte(good), &d, 1<<20); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	for _, bad := range []string{
		`{"id":"a","id":"b"}`,
		`{"ID":"a"}`,
		`{"\u0049D":"escaped other case"}`,
		`{"items":[{"name":"x"},{"Name":"y"}]}`,
		`{"items":[{"name":"x","name":"y"}]}`,
		`{"rates":{"a":1,"a":2}}`,
		`{"inner":{"NAME":"z"}}`,
		`{"any":{"x":1,"x":2}}`,
		`{"any":[{"x":1},{"y":1,"y":2}]}`,
		`{"id":null}`,
		`{"items":[{"name":null}]}`,
	} {
		var d exactDoc
		if err := UnmarshalExact([]byte(bad), &d, 1<<20); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// FuzzCheckKeys: on any valid JSON document, CheckKeys with no type
// finds a duplicate key exactly when a decoder-based walk does.
func FuzzCheckKeys(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":[1,{"c":1,"c":2}]}}`, `["x",{"\u0061":1,"a":2}]`, `{"a\"b":1,"a\\\"b":2}`, `"s"`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) || CheckDepth(data, MaxDepth) != nil {
			return
		}
		got := CheckKeys(data, nil) != nil
		want := hasDuplicate(json.NewDecoder(bytes.NewReader(data)))
		if got != want {
			t.Fatalf("CheckKeys duplicate=%v, decoder walk duplicate=%v: %s", got, want, data)
		}
		var v any
		if err := json.Unmarshal(data, &v); err == nil && !got {
			if err := CheckKeys(data, reflect.TypeOf(v)); err != nil {
				t.Fatalf("typed walk refused %s: %v", data, err)
			}
		}
	})
}

// hasDuplicate is the reference: a walk of the decoder's tokens.
func hasDuplicate(dec *json.Decoder) bool {
	tok, err := dec.Token()
	if err != nil {
		return false
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		dup := false
		for dec.More() {
			k, _ := dec.Token()
			key := k.(string)
			dup = dup || seen[key]
			seen[key] = true
			dup = hasDuplicate(dec) || dup
		}
		dec.Token()
		return dup
	case json.Delim('['):
		dup := false
		for dec.More() {
			dup = hasDuplicate(dec) || dup
		}
		dec.Token()
		return dup
	}
	return false
}
