package goldencheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/edgetuf/edgetuf/client/internal/codes"
	"github.com/edgetuf/edgetuf/targets"
)

// comparer streams an output of size bytes against a vector's checks and,
// if want is set, its expected output (of the same size): memory does not
// depend on the size. The output is read to at most size+1 bytes, so an
// output that grew after it was measured is refused, not read.
type comparer struct {
	v    *targets.Vector
	size int64
	want io.Reader
}

func (c comparer) run(got io.Reader) error {
	g := io.LimitReader(got, c.size+1)
	var w io.Reader
	if c.want != nil {
		w = io.LimitReader(c.want, c.size)
	}
	var err error
	if c.v.Format == targets.FormatBytes {
		err = c.bytes(g, w)
	} else {
		err = c.floats(g, w)
	}
	if err != nil {
		return err
	}
	if n, _ := io.ReadFull(g, make([]byte, 1)); n != 0 {
		return failed("output is longer than the expected %d bytes", c.size)
	}
	return nil
}

// bytes compares byte for byte, in blocks.
func (c comparer) bytes(g, w io.Reader) error {
	gb, wb := make([]byte, 32<<10), make([]byte, 32<<10)
	for off := int64(0); off < c.size; {
		n := int(min(int64(len(gb)), c.size-off))
		if _, err := io.ReadFull(g, gb[:n]); err != nil {
			return readErr("output", err)
		}
		if _, err := io.ReadFull(w, wb[:n]); err != nil {
			return readErr("expected output", err)
		}
		if !bytes.Equal(gb[:n], wb[:n]) {
			i := 0
			for gb[i] == wb[i] {
				i++
			}
			return failed("output byte %d is 0x%02x, expected 0x%02x", off+int64(i), gb[i], wb[i])
		}
		off += int64(n)
	}
	return nil
}

// floats checks each float32 element: finite, in range, close to the
// expected one; the first failing element is reported (0-based). Both
// files are read in blocks of whole elements.
func (c comparer) floats(g, w io.Reader) error {
	var abs, rel float64
	if t := c.v.Tolerance; t != nil {
		abs, rel = t.Abs, t.Rel
	}
	gb, wb := make([]byte, 32<<10), make([]byte, 32<<10)
	for off := int64(0); off < c.size; {
		n := int(min(int64(len(gb)), c.size-off))
		if _, err := io.ReadFull(g, gb[:n]); err != nil {
			return readErr("output", err)
		}
		if w != nil {
			if _, err := io.ReadFull(w, wb[:n]); err != nil {
				return readErr("expected output", err)
			}
		}
		for k := 0; k < n; k += 4 {
			i := (off + int64(k)) / 4
			got := math.Float32frombits(binary.LittleEndian.Uint32(gb[k:]))
			x := float64(got)
			if c.v.Finite && (math.IsNaN(x) || math.IsInf(x, 0)) {
				return failed("output element %d is %v, not finite", i, got)
			}
			if r := c.v.Range; r != nil && (math.IsNaN(x) || r.Min != nil && x < *r.Min || r.Max != nil && x > *r.Max) {
				return failed("output element %d is %v, outside %s", i, got, rangeText(r))
			}
			if w == nil {
				continue
			}
			want := math.Float32frombits(binary.LittleEndian.Uint32(wb[k:]))
			y := float64(want)
			// NaN is close to nothing; equal infinities are equal.
			if !(x == y || math.Abs(x-y) <= abs+rel*math.Abs(y)) {
				return failed("output element %d is %v, expected %v (tolerance abs %g, rel %g)", i, got, want, abs, rel)
			}
		}
		off += int64(n)
	}
	return nil
}

func rangeText(r *targets.Range) string {
	lo, hi := math.Inf(-1), math.Inf(1)
	if r.Min != nil {
		lo = *r.Min
	}
	if r.Max != nil {
		hi = *r.Max
	}
	return fmt.Sprintf("[%g, %g]", lo, hi)
}

// readErr: a file that ends before its measured size changed while read.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return failed("%s ended before its size: changed while read", what)
	}
	return codes.Errorf(codes.HealthcheckFailed, err, "reading the %s", what)
}
