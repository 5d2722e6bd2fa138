package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"sync"
)

var fsErrNotExist = fs.ErrNotExist

// Memory is a Backend held in memory, with the same conditional-write
// semantics as the real ones: for tests of the code above a Backend.
type Memory struct {
	mu   sync.Mutex
	objs map[string]memObject
}

type memObject struct {
	data []byte
	a    Attrs
}

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory { return &Memory{objs: map[string]memObject{}} }

func (m *Memory) get(name string) (memObject, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[name]
	if !ok {
		return memObject{}, fmt.Errorf("%s: %w", name, ErrNotExist)
	}
	return o, nil
}

// Open implements Backend.
func (m *Memory) Open(_ context.Context, name string) (io.ReadCloser, Attrs, error) {
	o, err := m.get(name)
	if err != nil {
		return nil, Attrs{}, err
	}
	return io.NopCloser(bytes.NewReader(o.data)), o.a, nil
}

// OpenRange implements Backend.
func (m *Memory) OpenRange(_ context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	o, err := m.get(name)
	if err != nil {
		return nil, err
	}
	if offset < 0 || offset > int64(len(o.data)) {
		return nil, fmt.Errorf("%s: offset %d out of range", name, offset)
	}
	end := int64(len(o.data))
	if length >= 0 && offset+length < end {
		end = offset + length
	}
	return io.NopCloser(bytes.NewReader(o.data[offset:end])), nil
}

// Stat implements Backend.
func (m *Memory) Stat(_ context.Context, name string) (Attrs, error) {
	o, err := m.get(name)
	return o.a, err
}

// Put implements Backend.
func (m *Memory) Put(ctx context.Context, name string, r io.Reader, o PutOptions) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, exists := m.objs[name]
	if o.IfAbsent && exists {
		return fmt.Errorf("%s exists: %w", name, ErrPrecondition)
	}
	if o.IfMatch != "" && (!exists || cur.a.ETag != o.IfMatch) {
		return fmt.Errorf("%s changed: %w", name, ErrPrecondition)
	}
	m.objs[name] = memObject{data: data, a: Attrs{Size: int64(len(data)), ETag: `"` + hex.EncodeToString(sum[:16]) + `"`, CacheControl: o.CacheControl}}
	return nil
}

// List implements Backend.
func (m *Memory) List(_ context.Context, prefix string, fn func(string, Attrs) error) error {
	m.mu.Lock()
	var names []string
	for n := range m.objs {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	m.mu.Unlock()
	sort.Strings(names)
	for _, n := range names {
		o, err := m.get(n)
		if err != nil {
			continue // deleted meanwhile
		}
		if err := fn(n, o.a); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements Backend.
func (m *Memory) Delete(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, name)
	return nil
}

// String implements Backend.
func (m *Memory) String() string { return "memory" }

// Close implements Backend.
func (m *Memory) Close() error { return nil }
