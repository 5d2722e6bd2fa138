// Package jsonlimit bounds every JSON document the project reads: its
// size, read with a bounded reader so that an oversized file is never
// held in memory, and its nesting depth, checked by a linear scan before
// any decoder sees it.
//
// Every format the project reads is shallow: a manifest is 3 levels deep,
// the custom metadata of a target 4, a client state file or a key file 3
// or 4, TUF metadata about 7 with custom metadata inside. MaxDepth leaves
// a wide margin above that and keeps a hostile document (signed by a key
// of limited power, or planted in a file) from costing more than linear
// time and memory in any walker (encoding/json itself allows 10,000
// levels).
package jsonlimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxDepth is the deepest nesting of arrays and objects accepted.
const MaxDepth = 64

var (
	// ErrTooLarge: a document is larger than its limit.
	ErrTooLarge = errors.New("JSON document too large")
	// ErrTooDeep: a document nests arrays and objects deeper than MaxDepth.
	ErrTooDeep = errors.New("JSON document nested too deeply")
)

// CheckDepth fails if data nests arrays and objects deeper than max. It
// scans once, in constant memory, and does not validate: a document it
// passes still goes to a decoder, which rejects malformed JSON (on the
// valid prefix of a document both agree on where strings start and end).
func CheckDepth(data []byte, max int) error {
	depth := 0
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > max {
				return fmt.Errorf("%w: more than %d levels of arrays and objects (at byte %d)", ErrTooDeep, max, i)
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}

// Check fails if data is larger than maxSize bytes or nested deeper than
// MaxDepth.
func Check(data []byte, maxSize int64) error {
	if int64(len(data)) > maxSize {
		return fmt.Errorf("%w: %d bytes, at most %d allowed", ErrTooLarge, len(data), maxSize)
	}
	return CheckDepth(data, MaxDepth)
}

// Unmarshal is json.Unmarshal of a document that passes Check.
func Unmarshal(data []byte, v any, maxSize int64) error {
	if err := Check(data, maxSize); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// UnmarshalStrict is Unmarshal that also refuses fields v does not have
// and anything after the document.
func UnmarshalStrict(data []byte, v any, maxSize int64) error {
	if err := Check(data, maxSize); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

// ReadAll reads r to its end, failing with ErrTooLarge as soon as it has
// more than maxSize bytes: never more than maxSize+1 bytes are read.
func ReadAll(r io.Reader, maxSize int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxSize)
	}
	return data, nil
}

// ReadFile reads the named file with ReadAll's bound; the error names the
// file.
func ReadFile(name string, maxSize int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := ReadAll(f, maxSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return data, nil
}

// ReadJSONFile reads the named file with ReadFile's bound and decodes it
// with Unmarshal (UnmarshalStrict when strict).
func ReadJSONFile(name string, v any, maxSize int64, strict bool) error {
	data, err := ReadFile(name, maxSize)
	if err != nil {
		return err
	}
	if strict {
		err = UnmarshalStrict(data, v, maxSize)
	} else {
		err = Unmarshal(data, v, maxSize)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
