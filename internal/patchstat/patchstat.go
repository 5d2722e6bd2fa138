package patchstat

import (
	"io"
	"math"
)

// Writer counts the bytes written through it to W, and reports the
// count so far to Each (if set) after each write: the progress of a file
// being rebuilt.
type Writer struct {
	W    io.Writer
	N    int64
	Each func(n int64)
}

func (c *Writer) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	if c.Each != nil {
		c.Each(c.N)
	}
	return n, err
}

// ReaderAt counts the bytes read through it from R, and reports the count
// so far to Each (if set) after each read: the progress of a file being
// diffed.
type ReaderAt struct {
	R    io.ReaderAt
	N    int64
	Each func(n int64)
}

func (c *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.R.ReadAt(p, off)
	c.N += int64(n)
	if c.Each != nil {
		c.Each(c.N)
	}
	return n, err
}

// Percent is part/whole in percent, rounded to one decimal (0 for an
// empty whole).
func Percent(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return math.Round(1000*float64(part)/float64(whole)) / 10
}
