package scripttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// SplitJSONPath splits a JSON path into its keys, failing the script if
// it is malformed. JSON paths: keys separated by dots; a key in square brackets may contain
// dots and slashes (signed.targets[models/m/1.0.0/model.bin].length); a
// number indexes an array (signatures.0).
func SplitJSONPath(ts *testscript.TestScript, p string) []string {
	var parts []string
	for p != "" {
		switch {
		case p[0] == '.':
			p = p[1:]
		case p[0] == '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				ts.Fatalf("unterminated [ in JSON path")
			}
			parts = append(parts, p[1:end])
			p = p[end+1:]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			parts = append(parts, p[:end])
			p = p[end:]
		}
	}
	if len(parts) == 0 {
		ts.Fatalf("empty JSON path")
	}
	return parts
}

// ReadJSON decodes the JSON document FILE ("stdout" for the last command's
// output), keeping numbers as json.Number so that rewriting it changes
// nothing else.
func ReadJSON(ts *testscript.TestScript, file string) any {
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile(file)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		ts.Fatalf("%s: %v", file, err)
	}
	return v
}

// WriteJSON writes v to file as tab-indented JSON, without HTML escaping.
func WriteJSON(ts *testscript.TestScript, file string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "\t")
	ts.Check(enc.Encode(v))
	ts.Check(os.WriteFile(ts.MkAbs(file), buf.Bytes(), 0o644))
}

// WalkJSON returns the value at parts.
func WalkJSON(ts *testscript.TestScript, v any, parts []string) any {
	for i, part := range parts {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[part]
			if !ok {
				ts.Fatalf("no key %q at %s", part, strings.Join(parts[:i], "."))
			}
			v = next
		case []any:
			n, err := strconv.Atoi(part)
			if err != nil || n < 0 || n >= len(c) {
				ts.Fatalf("no index %q at %s (%d elements)", part, strings.Join(parts[:i], "."), len(c))
			}
			v = c[n]
		default:
			ts.Fatalf("%s is not an object or array", strings.Join(parts[:i], "."))
		}
	}
	return v
}

// jsonget FILE PATH
//
// Prints the value at PATH in the JSON document FILE ("stdout" for the
// last command's output): strings as they are, anything else as compact
// JSON.
func cmdJSONGet(ts *testscript.TestScript, neg bool, args []string) {
	NoNeg(ts, neg, "jsonget")
	if len(args) != 2 {
		ts.Fatalf("usage: jsonget FILE PATH")
	}
	v := WalkJSON(ts, ReadJSON(ts, args[0]), SplitJSONPath(ts, args[1]))
	if s, ok := v.(string); ok {
		fmt.Fprintln(ts.Stdout(), s)
		return
	}
	b, err := json.Marshal(v)
	ts.Check(err)
	fmt.Fprintln(ts.Stdout(), string(b))
}

// EditJSON returns v with the value at parts replaced by val, or deleted
// when del is set.
func EditJSON(ts *testscript.TestScript, v any, parts []string, val any, del bool) any {
	key, rest := parts[0], parts[1:]
	switch c := v.(type) {
	case map[string]any:
		old, ok := c[key]
		switch {
		case len(rest) > 0 && ok:
			c[key] = EditJSON(ts, old, rest, val, del)
		case len(rest) > 0 || (del && !ok):
			ts.Fatalf("no key %q", key)
		case del:
			delete(c, key)
		default:
			c[key] = val
		}
		return c
	case []any:
		n, err := strconv.Atoi(key)
		if err != nil || n < 0 || n >= len(c) {
			ts.Fatalf("no index %q (%d elements)", key, len(c))
		}
		switch {
		case len(rest) > 0:
			c[n] = EditJSON(ts, c[n], rest, val, del)
		case del:
			return append(c[:n:n], c[n+1:]...)
		default:
			c[n] = val
		}
		return c
	}
	ts.Fatalf("cannot look up %q in a JSON %T", key, v)
	return nil
}

// jsonset FILE PATH VALUE
//
// Sets the value at PATH (its parent must exist) in the JSON file FILE and
// rewrites it. VALUE is read as JSON if it parses, else as a string.
func cmdJSONSet(ts *testscript.TestScript, neg bool, args []string) {
	NoNeg(ts, neg, "jsonset")
	if len(args) != 3 {
		ts.Fatalf("usage: jsonset FILE PATH VALUE")
	}
	var val any = args[2]
	dec := json.NewDecoder(strings.NewReader(args[2]))
	dec.UseNumber()
	var parsed any
	if err := dec.Decode(&parsed); err == nil && !dec.More() {
		val = parsed
	}
	WriteJSON(ts, args[0], EditJSON(ts, ReadJSON(ts, args[0]), SplitJSONPath(ts, args[1]), val, false))
}
