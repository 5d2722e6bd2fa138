package patchstat

import (
	"io"
	"math"
)

// Writer counts the bytes written through it to W.
type Writer struct {
	W io.Writer
	N int64
}

func (c *Writer) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
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
