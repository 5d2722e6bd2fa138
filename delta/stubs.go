package delta

import (
	"errors"
	"io"
)

func diff(old io.ReaderAt, oldLen int64, new io.ReaderAt, newLen int64, patch io.Writer, opts Options) (*Stats, error) {
	return nil, errors.New("not implemented")
}

func readHeader(patch io.ReaderAt, patchLen int64) (*Header, error) {
	return nil, errors.New("not implemented")
}

func apply(base io.ReaderAt, baseLen int64, patch io.ReaderAt, patchLen int64, out io.Writer, lim Limits) (*Header, error) {
	return nil, errors.New("not implemented")
}
