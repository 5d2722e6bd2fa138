package cm

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode decodes arbitrary codings with spans taken from the input
// (at most about 16 KiB asked for): never a panic, only ErrFormat, and
// the same input decoded twice gives the same bytes. The input's bytes,
// coded, decode back.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{3, 0, 40, 1, 40}, []byte{0x12, 0x34, 0x56, 0x78, 0x9a})
	f.Add([]byte{0, 200}, encode(NewEncoder(), bytes.Repeat([]byte{7}, 200), []Span{{0, 200}}))
	f.Fuzz(func(t *testing.T, spanBytes, data []byte) {
		var spans []Span
		total := 0
		for ; len(spanBytes) >= 2 && total < 1<<14; spanBytes = spanBytes[2:] {
			s := Span{spanBytes[0] % Classes, int(spanBytes[1])}
			spans = append(spans, s)
			total += s.Len
		}
		d := NewDecoder()
		out, again := make([]byte, total), make([]byte, total)
		err := decode(d, out, data, spans)
		if err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("error %v, want ErrFormat", err)
		}
		d.Reset()
		if err2 := decode(d, again, data, spans); (err == nil) != (err2 == nil) || err == nil && !bytes.Equal(out, again) {
			t.Fatal("decoded twice, differs")
		}
		raw := data[:min(len(data), total)]
		spans = trimSpans(spans, len(raw))
		enc := encode(NewEncoder(), raw, spans)
		back := make([]byte, len(raw))
		if err := decode(NewDecoder(), back, enc, spans); err != nil || !bytes.Equal(back, raw) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// trimSpans cuts spans to cover n bytes.
func trimSpans(spans []Span, n int) []Span {
	var out []Span
	for _, s := range spans {
		s.Len = min(s.Len, n)
		n -= s.Len
		out = append(out, s)
	}
	return out
}
