package container

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"slices"
	"testing"
)

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r    io.ReaderAt
	read int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.read += int64(n)
	return n, err
}

type parser func(io.ReaderAt, int64, Limits) (*Table, error)

// Bounds a parse of a small hostile file must stay within, whatever the
// file claims: the page cache, a few tables, and the file itself read
// twice at most.
const (
	maxParseAlloc = 512 << 10
	maxParseRead  = pageCount*pageSize + 4<<10
)

// parseBounded parses file (claimed to be size bytes) and fails t when the
// parse allocates or reads more than the bounds above.
func parseBounded(t *testing.T, parse parser, file []byte, size int64, lim Limits) (*Table, error) {
	t.Helper()
	r := &countingReaderAt{r: bytes.NewReader(file)}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	table, err := parse(r, size, lim)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > maxParseAlloc {
		t.Errorf("parse allocated %d bytes, more than %d", alloc, maxParseAlloc)
	}
	if r.read > maxParseRead+2*int64(len(file)) {
		t.Errorf("parse read %d bytes of a %d-byte file", r.read, len(file))
	}
	return table, err
}

// hostile is a malformed container and the limits it is parsed with.
type hostile struct {
	name string
	file []byte
	size int64 // 0: len(file)
	lim  Limits
}

// refuseAll checks that every case is refused with ErrFormat within
// bounded memory and reads.
func refuseAll(t *testing.T, parse parser, cases []hostile) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			size := c.size
			if size == 0 {
				size = int64(len(c.file))
			}
			table, err := parseBounded(t, parse, c.file, size, c.lim)
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("got %v, %v; want ErrFormat", table, err)
			}
			t.Log(err)
		})
	}
}

// checkTable fails t unless table keeps Table's promises for a file of
// size bytes: sorted by offset, within the file, no overlaps, names
// unique.
func checkTable(t *testing.T, table *Table, size int64) {
	t.Helper()
	names := map[string]bool{}
	var end int64
	for _, x := range table.Tensors {
		if x.Offset < end || x.Length < 0 || x.Offset+x.Length > size || names[x.Name] {
			t.Fatalf("bad tensor %+v in a %d-byte file (previous ends at %d)", x, size, end)
		}
		names[x.Name] = true
		end = x.Offset + x.Length
	}
}

// truncations parses every proper prefix of file: each must be refused,
// with ErrFormat once the prefix is at least formatFrom bytes long (below
// that the format may not be recognized at all: ErrUnknown), except the
// prefixes of the lengths in whole, that end at a boundary where the
// format allows the file to end.
func truncations(t *testing.T, parse parser, file []byte, formatFrom int, whole ...int) {
	t.Helper()
	for n := range len(file) {
		table, err := parseBounded(t, parse, file[:n], int64(n), Limits{})
		switch {
		case slices.Contains(whole, n):
			if err != nil {
				t.Fatalf("prefix of %d bytes, a whole container: %v", n, err)
			}
			checkTable(t, table, int64(n))
		case errors.Is(err, ErrFormat):
		case errors.Is(err, ErrUnknown) && n < formatFrom:
		default:
			t.Fatalf("prefix of %d bytes: got %v, %v", n, table, err)
		}
	}
}

func TestSourceShortReader(t *testing.T) {
	// The file is shorter than the size the caller states.
	file, _ := testModel().build()
	table, err := parseBounded(t, parseTFLite, file[:len(file)/2], int64(len(file)), Limits{})
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("got %v, %v; want ErrFormat", table, err)
	}
}

// tensorNames parses file, bounded, and returns its tensors' names.
func tensorNames(t *testing.T, parse parser, file []byte) []string {
	t.Helper()
	table, err := parseBounded(t, parse, file, int64(len(file)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range table.Tensors {
		names = append(names, x.Name)
	}
	return names
}
