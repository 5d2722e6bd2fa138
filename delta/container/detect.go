// Detection and the checks every parser shares: the bounded reader of
// headers, shape arithmetic and the final validation of a table.

package container

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// headLen is how much of a file Parse reads to recognize its format.
const headLen = 64

// Parse detects the format of the file r (size bytes) and reads its
// tensor table. It returns an error wrapping ErrUnknown when the file is
// not a known container, and ErrFormat when it is one but is malformed.
// TF.js weight shards hold no table of their own: see ParseTFJS.
func Parse(r io.ReaderAt, size int64, lim Limits) (*Table, error) {
	lim = lim.orDefault()
	if size < 0 {
		return nil, fmt.Errorf("%w: negative size", ErrUnknown)
	}
	head := make([]byte, min(size, headLen))
	if n, err := r.ReadAt(head, 0); n < len(head) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading the head: %w", err)
	}
	switch {
	case isGGUF(head):
		return parseGGUF(r, size, lim)
	case isSafeTensors(head):
		return parseSafeTensors(r, size, lim)
	case isTFLite(head):
		return parseTFLite(r, size, lim)
	case isONNX(head):
		return parseONNX(r, size, lim)
	}
	return nil, fmt.Errorf("%w (%d-byte file)", ErrUnknown, size)
}

func (lim Limits) orDefault() Limits {
	if lim.MaxTensors <= 0 {
		lim.MaxTensors = DefaultLimits.MaxTensors
	}
	if lim.MaxHeader <= 0 {
		lim.MaxHeader = DefaultLimits.MaxHeader
	}
	return lim
}

// formatErr is an error wrapping ErrFormat, prefixed with the format.
func formatErr(f Format, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrFormat, f, fmt.Sprintf(format, args...))
}

// newTable returns the table of tensors of format f, checked against the
// file (size bytes): every parser returns its table through it.
func newTable(f Format, tensors []Tensor, size int64) (*Table, error) {
	t := &Table{Format: f, Tensors: tensors}
	if err := t.check(size); err != nil {
		return nil, err
	}
	return t, nil
}

// check sorts the table by offset and refuses what no parser may return:
// negative or out-of-file ranges, overlapping tensors, duplicate names.
func (t *Table) check(size int64) error {
	slices.SortStableFunc(t.Tensors, func(a, b Tensor) int {
		if a.Offset != b.Offset {
			return cmpInt64(a.Offset, b.Offset)
		}
		return cmpInt64(a.Length, b.Length)
	})
	names := make(map[string]bool, len(t.Tensors))
	var end int64
	for i, x := range t.Tensors {
		if x.Offset < 0 || x.Length < 0 || x.Offset > size || x.Length > size-x.Offset {
			return formatErr(t.Format, "tensor %s (%d bytes at %d) lies outside the %d-byte file", quote(x.Name), x.Length, x.Offset, size)
		}
		if i > 0 && x.Offset < end {
			return formatErr(t.Format, "tensor %s overlaps %s", quote(x.Name), quote(t.Tensors[i-1].Name))
		}
		if names[x.Name] {
			return formatErr(t.Format, "duplicate tensor name %s", quote(x.Name))
		}
		names[x.Name] = true
		end = max(end, x.Offset+x.Length)
	}
	return nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// maxElements bounds a tensor's element count (and any product of
// dimensions): 2^56 elements is far beyond any file, and keeps every
// byte length computed from it below 2^63.
const maxElements = 1 << 56

// maxDims bounds a tensor's rank in every format: real tensors have at
// most 8 dimensions, so more is a malformed (or hostile) header. Without
// it a shape of a million 1s would cost 8 MB per tensor in the table and
// in every key PairTensors builds from it.
const maxDims = 64

// elements is the product of a shape's dimensions, or false when a
// dimension is negative or the product passes maxElements.
func elements(shape []int64) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || d > maxElements {
			return 0, false
		}
		if d != 0 && n > maxElements/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// errTruncated: a header read past the file or past Limits.MaxHeader.
var errTruncated = errors.New("header truncated or past the header limit")

// hdrReader reads a header sequentially through a ReaderAt, a window at a
// time, never past limit (the file size or Limits.MaxHeader, the smaller).
// Its errors are sticky: after the first, every read returns zero values
// and err says what went wrong.
type hdrReader struct {
	r      io.ReaderAt
	pos    int64
	limit  int64
	buf    []byte
	bufOff int64
	err    error
}

const hdrWindow = 64 << 10

// bytes returns the next n bytes, valid until the next call (nil after
// an error).
func (h *hdrReader) bytes(n int64) []byte {
	if h.err != nil {
		return nil
	}
	if n < 0 || n > h.limit-h.pos {
		h.fail()
		return nil
	}
	if h.pos >= h.bufOff && h.pos+n <= h.bufOff+int64(len(h.buf)) {
		b := h.buf[h.pos-h.bufOff : h.pos-h.bufOff+n]
		h.pos += n
		return b
	}
	if n > hdrWindow/2 {
		b := make([]byte, n)
		if h.readAt(b, h.pos) {
			h.pos += n
			return b
		}
		return nil
	}
	if cap(h.buf) < hdrWindow {
		h.buf = make([]byte, hdrWindow)
	}
	h.buf = h.buf[:min(int64(hdrWindow), h.limit-h.pos)]
	h.bufOff = h.pos
	if !h.readAt(h.buf, h.pos) {
		h.buf = h.buf[:0]
		return nil
	}
	return h.bytes(n)
}

func (h *hdrReader) readAt(b []byte, off int64) bool {
	n, err := h.r.ReadAt(b, off)
	if n == len(b) {
		return true
	}
	if err == nil || err == io.EOF {
		err = errTruncated
	}
	h.err = err
	return false
}

// skip advances past n bytes without reading them.
func (h *hdrReader) skip(n int64) {
	if n < 0 || n > h.limit-h.pos {
		h.fail()
	}
	if h.err == nil {
		h.pos += n
	}
}

// fail records that the header runs past the file or the limit.
func (h *hdrReader) fail() {
	if h.err == nil {
		h.err = errTruncated
	}
}

// left is how many bytes the header may still hold.
func (h *hdrReader) left() uint64 { return uint64(h.limit - h.pos) }

func (h *hdrReader) u32() uint32 {
	if b := h.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (h *hdrReader) u64() uint64 {
	if b := h.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// quote shortens an untrusted name for an error message.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", strings.ToValidUTF8(s, "?"))
}
