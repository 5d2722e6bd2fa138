package fsfetch

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TestSpecialFilesRefused: a mirror's FIFO, device, socket or directory
// is refused without blocking (opening a FIFO without a writer blocks for
// ever) and without reading.
func TestSpecialFilesRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	meta := filepath.Join(dir, "metadata")
	if err := os.Mkdir(meta, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(meta, "timestamp.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(meta, "1.snapshot.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(meta, "1.targets.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{FS: afero.NewOsFs(), Dir: dir, Prefix: prefix}
	for name, why := range map[string]string{"timestamp.json": "a FIFO", "1.snapshot.json": "a device", "1.targets.json": "a directory"} {
		_, err := f.DownloadFile(prefix+"metadata/"+name, 1<<20, 0)
		var dl *metadata.ErrDownload
		if !errors.As(err, &dl) || !strings.Contains(err.Error(), "not a regular file ("+why+")") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := OpenRegular(afero.NewOsFs(), filepath.Join(meta, "timestamp.json")); !errors.Is(err, ErrNotRegular) {
		t.Errorf("OpenRegular of a FIFO: %v", err)
	}
}

// blockingReader never returns from Read until released.
type blockingReader struct{ release chan struct{} }

func (b blockingReader) Read(p []byte) (int, error) {
	<-b.release
	return 0, io.EOF
}

// TestReaderAbandonsBlockedRead: a read that blocks (a hung medium) is
// abandoned when the context ends, with its cause, or when nothing
// arrives for the stall timeout; the source is then never read again.
// Nothing but those can end these reads.
func TestReaderAbandonsBlockedRead(t *testing.T) {
	t.Parallel()
	t.Run("context", func(t *testing.T) {
		t.Parallel()
		src := blockingReader{make(chan struct{})}
		defer close(src.release)
		cause := errors.New("stopped by the test")
		ctx, cancel := context.WithCancelCause(context.Background())
		r := NewReader(ctx, src)
		done := make(chan error, 1)
		go func() {
			_, err := r.Read(make([]byte, 10))
			done <- err
		}()
		cancel(cause)
		if err := <-done; !errors.Is(err, cause) {
			t.Fatalf("read: %v, want the context's cause", err)
		}
		if _, err := r.Read(make([]byte, 10)); !errors.Is(err, cause) {
			t.Fatalf("second read: %v", err)
		}
	})
	t.Run("stall", func(t *testing.T) {
		t.Parallel()
		src := blockingReader{make(chan struct{})}
		defer close(src.release)
		r := NewReader(context.Background(), src)
		r.StallTimeout = 20 * time.Millisecond
		if _, err := r.Read(make([]byte, 10)); !errors.Is(err, ErrStalled) {
			t.Fatalf("read: %v, want a stall", err)
		}
	})
	t.Run("a pipe without a writer", func(t *testing.T) {
		t.Parallel()
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pw.Close()
		defer pr.Close()
		ctx, cancel := context.WithCancel(context.Background())
		r := NewReader(ctx, pr)
		go cancel()
		if _, err := io.ReadAll(r); !errors.Is(err, context.Canceled) {
			t.Fatalf("read: %v", err)
		}
	})
	t.Run("ordinary reads", func(t *testing.T) {
		t.Parallel()
		r := NewReader(context.Background(), strings.NewReader(strings.Repeat("x", 100000)))
		r.StallTimeout = time.Hour
		data, err := io.ReadAll(r)
		if err != nil || len(data) != 100000 {
			t.Fatalf("%d bytes, %v", len(data), err)
		}
	})
}

// TestDownloadFileTimeout: Timeout bounds a download as a whole, and the
// context's end is reported with its cause reachable.
func TestDownloadFileTimeout(t *testing.T) {
	t.Parallel()
	f := newFetcher(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.Context = ctx
	if _, err := f.DownloadFile(prefix+"metadata/1.root.json", 100, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
