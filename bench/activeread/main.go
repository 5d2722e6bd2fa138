// Command activeread measures reading an installed model through
// client.OpenActive (hashed while read, checked at the end) beside a
// plain read of the same file with no hashing, for bench/activeread.sh:
//
//	go run ./bench/activeread -state DIR -model-id ID [-file model.bin] -mode openactive|plain|drop [-cold]
//
// -cold first drops the file's pages from the page cache
// (posix_fadvise(POSIX_FADV_DONTNEED) after fsync); -mode drop does only
// that. It prints one line: mode, bytes, seconds, MB/s (10^6 bytes), the
// process's CPU time (user and system, whole process: opening the TUF
// session included) and the rate per CPU second, which a loaded machine
// changes less than the wall-clock rate, and its peak RSS in KiB.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/edgetuf/edgetuf/client"
	"golang.org/x/sys/unix"
)

func main() {
	state := flag.String("state", "", "state directory")
	modelID := flag.String("model-id", "", "model")
	file := flag.String("file", "model.bin", "file of the active version")
	mode := flag.String("mode", "openactive", "openactive, plain or drop")
	cold := flag.Bool("cold", false, "drop the file's pages from the page cache first")
	flag.Parse()
	if err := run(*state, *modelID, *file, *mode, *cold); err != nil {
		fmt.Fprintln(os.Stderr, "activeread:", err)
		os.Exit(1)
	}
}

func run(state, modelID, file, mode string, cold bool) error {
	c, err := client.Open(state, client.Options{})
	if err != nil {
		return err
	}
	st, err := c.Status(modelID)
	if err != nil {
		return err
	}
	path := filepath.Join(st.Path, file)
	if cold || mode == "drop" {
		if err := drop(path); err != nil {
			return err
		}
	}
	var src io.ReadCloser
	start := time.Now()
	switch mode {
	case "drop":
		return nil
	case "openactive":
		m, err := c.OpenActive(modelID)
		if err != nil {
			return err
		}
		if src, err = m.Open(file); err != nil {
			return err
		}
	case "plain":
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		src = f
	default:
		return fmt.Errorf("-mode %q: want openactive, plain or drop", mode)
	}
	defer src.Close()
	// The same 1 MiB reads for both (io.Copy would pick other sizes).
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := src.Read(buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	secs := time.Since(start).Seconds()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	fmt.Printf("%s %d bytes %.3f s %.0f MB/s cpu %.3f s %.0f MB/s-cpu peak RSS %d KiB\n", mode, n, secs, float64(n)/secs/1e6, cpu, float64(n)/cpu/1e6, ru.Maxrss)
	return nil
}

// drop writes back and evicts the file's pages.
func drop(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
