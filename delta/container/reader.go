// Bounded reading of a container's header through io.ReaderAt, shared by
// the parsers of binary formats (TFLite, ONNX), and the checks every
// table must pass before it is returned.

package container

import (
	"fmt"
	"io"
)

const (
	// pageSize is the unit the source reads from the file and caches.
	pageSize = 4 << 10
	// pageCount pages are cached: a FlatBuffer's tables point back and
	// forth between a few neighbouring places, so a handful of pages
	// serve nearly every read.
	pageCount = 16
	// Bytes a page miss reads: ONNX is read front to back, TFLite's
	// buffer tables lie each beside its data, all over the file (on the
	// real tflite models of the corpus, 1 KiB reads half the bytes of 4
	// KiB ones for a few more misses).
	onnxFill   = pageSize
	tfliteFill = 1 << 10
)

// source reads the file r (size bytes) in bounded pieces for a parser.
// Every byte handed to the parser and every byte read from r is charged
// to budget (Limits.MaxHeader): whatever a hostile header points at, a
// parse reads and copies at most about twice MaxHeader bytes, and holds
// pageCount pages plus what it keeps.
type source struct {
	format Format
	r      io.ReaderAt
	size   int64
	budget int64 // bytes left of limit
	limit  int64
	pages  [pageCount]struct {
		off  int64
		n    int
		data [pageSize]byte
	}
	// fill is how much a miss reads (a power of two, at most pageSize):
	// a page for a parser that reads on (ONNX), less for one that jumps
	// about (TFLite, whose buffer tables lie each beside its data).
	fill int64
	next int // the page the next miss replaces, round robin
	last int // the page that served the last read
}

func newSource(f Format, r io.ReaderAt, size int64, lim Limits, fill int64) *source {
	s := &source{format: f, r: r, size: size, budget: lim.MaxHeader, limit: lim.MaxHeader, fill: fill}
	for i := range s.pages {
		s.pages[i].off = -1
	}
	return s
}

func (s *source) charge(n int64) error {
	if n > s.budget {
		return formatErr(s.format, "header larger than the %d bytes Limits.MaxHeader allows", s.limit)
	}
	s.budget -= n
	return nil
}

// bytes returns the n bytes at off. The slice may alias the page cache:
// it is valid until the next call, and callers copy what they keep.
func (s *source) bytes(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > s.size || n > s.size-off {
		return nil, formatErr(s.format, "%d bytes at offset %d are past the end of the %d-byte file", n, off, s.size)
	}
	if err := s.charge(n); err != nil {
		return nil, err
	}
	if n > pageSize {
		if err := s.charge(n); err != nil {
			return nil, err
		}
		b := make([]byte, n)
		if err := s.readAt(b, off); err != nil {
			return nil, err
		}
		return b, nil
	}
	for k := range s.pages {
		i := (s.last + k) % pageCount
		p := &s.pages[i]
		if p.off >= 0 && off >= p.off && off+n <= p.off+int64(p.n) {
			s.last = i
			return p.data[off-p.off : off-p.off+n], nil
		}
	}
	// Miss: read fill bytes from the fill-aligned offset before off, or
	// from off when that would end before off+n.
	fill := max(s.fill, n)
	start := off &^ (s.fill - 1)
	if off+n > start+fill {
		start = off
	}
	length := min(fill, s.size-start)
	if err := s.charge(length); err != nil {
		return nil, err
	}
	p := &s.pages[s.next]
	s.last, s.next = s.next, (s.next+1)%pageCount
	p.off = -1
	if err := s.readAt(p.data[:length], start); err != nil {
		return nil, err
	}
	p.off, p.n = start, int(length)
	return p.data[off-start : off-start+n], nil
}

func (s *source) readAt(b []byte, off int64) error {
	n, err := s.r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		return formatErr(s.format, "file shorter than its stated %d bytes", s.size)
	}
	return fmt.Errorf("%s: reading %d bytes at offset %d: %w", s.format, len(b), off, err)
}

func (s *source) u8(off int64) (uint8, error) {
	b, err := s.bytes(off, 1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (s *source) u16(off int64) (uint16, error) {
	b, err := s.bytes(off, 2)
	if err != nil {
		return 0, err
	}
	return uint16(b[0]) | uint16(b[1])<<8, nil
}

func (s *source) u32(off int64) (uint32, error) {
	b, err := s.bytes(off, 4)
	if err != nil {
		return 0, err
	}
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24, nil
}

func (s *source) u64(off int64) (uint64, error) {
	lo, err := s.u32(off)
	if err != nil {
		return 0, err
	}
	hi, err := s.u32(off + 4)
	return uint64(lo) | uint64(hi)<<32, err
}
