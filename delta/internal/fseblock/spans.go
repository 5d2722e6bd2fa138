package fseblock

// The spans of Planes and Adaptive blocks: which bytes of a block are
// of which class.

import (
	"encoding/binary"
	"fmt"
)

// appendSpans appends the class count, the span count and the spans;
// with renumber, it first numbers the classes of spans 0, 1, ... in
// order of appearance, else the count is the largest class plus one.
func appendSpans(dst []byte, spans []Span, renumber bool) []byte {
	var id [256]uint8
	var m uint8
	for i, s := range spans {
		switch {
		case !renumber:
			m = max(m, s.Class+1)
		case id[s.Class] == 0:
			m++
			id[s.Class] = m
		}
		if renumber {
			spans[i].Class = id[s.Class] - 1
		}
	}
	dst = append(dst, m)
	dst = binary.AppendUvarint(dst, uint64(len(spans)))
	for _, s := range spans {
		dst = append(dst, s.Class)
		dst = binary.AppendUvarint(dst, uint64(s.Len))
	}
	return dst
}

// parseSpans parses and checks the class count and spans that start a
// Planes or Adaptive block of rawLen bytes: it returns the class count,
// the span count, the spans, the data after them and each class's bytes.
func parseSpans(data []byte, rawLen int) (m uint8, k uint64, spans, rest []byte, classLen [MaxClasses]int, err error) {
	if len(data) < 1 || data[0] < 1 || data[0] > MaxClasses {
		return 0, 0, nil, nil, classLen, fmt.Errorf("%w: block without a class count", ErrFormat)
	}
	m = data[0]
	k, n := binary.Uvarint(data[1:])
	if n <= 0 || k < 1 || k > uint64(rawLen) {
		return 0, 0, nil, nil, classLen, fmt.Errorf("%w: block with a bad span count", ErrFormat)
	}
	spans = data[1+n:]
	rest, total := spans, 0
	for i := uint64(0); i < k; i++ {
		c, l, r, err := nextSpan(rest, m)
		if err != nil {
			return 0, 0, nil, nil, classLen, err
		}
		if l > rawLen-total {
			return 0, 0, nil, nil, classLen, fmt.Errorf("%w: block spans exceed its %d bytes", ErrFormat, rawLen)
		}
		classLen[c] += l
		total += l
		rest = r
	}
	if total != rawLen {
		return 0, 0, nil, nil, classLen, fmt.Errorf("%w: block spans cover %d of its %d bytes", ErrFormat, total, rawLen)
	}
	return m, k, spans, rest, classLen, nil
}

func nextSpan(b []byte, m uint8) (c uint8, l int, rest []byte, err error) {
	if len(b) < 2 || b[0] >= m {
		return 0, 0, nil, fmt.Errorf("%w: planes block: bad span", ErrFormat)
	}
	v, n := binary.Uvarint(b[1:])
	if n <= 0 || v < 1 || v > MaxBlock {
		return 0, 0, nil, fmt.Errorf("%w: planes block: bad span length", ErrFormat)
	}
	return b[0], int(v), b[1+n:], nil
}
