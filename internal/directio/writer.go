package directio

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// Writer writes a file sequentially from a starting offset: full, aligned
// blocks through a direct-I/O descriptor, and what direct I/O cannot write
// (up to the first block boundary, and the final partial block at Flush)
// through the ordinary one.
type Writer struct {
	direct   *os.File    // opened with O_DIRECT
	plain    io.WriterAt // the ordinary descriptor of the same file
	off      int64
	pending  []byte // aligned staging buffer for data that arrives unaligned
	err      error
	fallback bool // direct writes were refused; write through plain
}

// Write implements io.Writer.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	total := len(p)
	if len(w.pending) == 0 && w.off%Align != 0 {
		// Resuming mid-block: reach the next block boundary the ordinary way.
		n := min(len(p), int(Align-w.off%Align))
		m, err := w.plain.WriteAt(p[:n], w.off)
		w.off += int64(m)
		if err != nil {
			w.err = err
			return m, err
		}
		p = p[n:]
	}
	if len(p) == 0 {
		return total, nil
	}
	if len(w.pending) == 0 && aligned(p) {
		n, err := w.writeDirect(p)
		return total - len(p) + n, err
	}
	for len(p) > 0 {
		if w.pending == nil {
			w.pending = AlignedBuffer(1 << 20)[:0]
		}
		n := copy(w.pending[len(w.pending):cap(w.pending)], p)
		w.pending = w.pending[:len(w.pending)+n]
		p = p[n:]
		if len(w.pending) == cap(w.pending) {
			if _, err := w.writeDirect(w.pending); err != nil {
				return total - len(p), err
			}
			w.pending = w.pending[:0]
		}
	}
	return total, nil
}

func (w *Writer) writeDirect(p []byte) (int, error) {
	if w.fallback {
		n, err := w.plain.WriteAt(p, w.off)
		w.off += int64(n)
		if err != nil {
			w.err = err
		}
		return n, err
	}
	n, err := w.direct.WriteAt(p, w.off)
	if n == 0 && errors.Is(err, syscall.EINVAL) {
		// The filesystem accepted O_DIRECT at open but not for writing.
		w.fallback = true
		return w.writeDirect(p)
	}
	w.off += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
	}
	return n, err
}

// Flush writes what is buffered: whole blocks directly, the tail through
// the ordinary descriptor. It does not fsync.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	whole := len(w.pending) &^ (Align - 1)
	if whole > 0 {
		if _, err := w.writeDirect(w.pending[:whole]); err != nil {
			return err
		}
	}
	tail := w.pending[whole:]
	if len(tail) > 0 {
		n, err := w.plain.WriteAt(tail, w.off)
		w.off += int64(n)
		if err != nil {
			w.err = err
			return err
		}
	}
	w.pending = w.pending[:0]
	return nil
}

// Close flushes and closes the direct descriptor (not the ordinary one).
func (w *Writer) Close() error {
	err := w.Flush()
	if cerr := w.direct.Close(); err == nil {
		err = cerr
	}
	return err
}
