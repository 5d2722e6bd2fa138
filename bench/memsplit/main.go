// Command memsplit runs a command and reports its peak resident memory
// split into anonymous pages (heap, stacks: what the process allocated)
// and file-backed pages (the mapped binary and libraries: clean, shared
// between processes running the same binary, and reclaimable), which GNU
// time's single "max RSS" does not tell apart. Linux only.
//
//	memsplit [-o FILE] [-interval 1ms] -- COMMAND [ARG...]
//
// The command's standard streams are passed through; its exit status is
// memsplit's. The report, one line (to stderr, or to FILE), is
//
//	seconds S peak_kib P anon_kib A file_kib F max_anon_kib MA max_file_kib MF samples N
//
// P is exact (getrusage's ru_maxrss of the child); A and F are
// /proc/PID/status's RssAnon and RssFile (+ RssShmem) in the sample with
// the largest RSS, MA and MF the largest of each seen. Sampling can miss
// a short peak: compare A+F with P (the difference is what was missed).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	out := flag.String("o", "", "write the report to this file instead of stderr")
	interval := flag.Duration("interval", time.Millisecond, "time between samples of /proc/PID/status")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "memsplit: usage: memsplit [-o FILE] [-interval D] -- COMMAND [ARG...]")
		os.Exit(2)
	}
	code, err := run(flag.Args(), *out, *interval)
	if err != nil {
		fmt.Fprintln(os.Stderr, "memsplit:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// sample is one reading of a process's resident memory, in KiB.
type sample struct{ anon, file int64 }

func run(args []string, out string, interval time.Duration) (int, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	result := make(chan [2]sample) // at the peak; the largest anon and file
	var count int
	go func() {
		var peak, maxes sample
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if s, err := read(cmd.Process.Pid); err == nil {
				count++
				if s.anon+s.file > peak.anon+peak.file {
					peak = s
				}
				maxes.anon, maxes.file = max(maxes.anon, s.anon), max(maxes.file, s.file)
			}
			select {
			case <-done:
				result <- [2]sample{peak, maxes}
				return
			case <-tick.C:
			}
		}
	}()
	werr := cmd.Wait()
	close(done)
	r := <-result
	code := 0
	var exit *exec.ExitError
	if errors.As(werr, &exit) {
		code = exit.ExitCode()
	} else if werr != nil {
		return 0, werr
	}
	var peakKiB int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peakKiB = int64(ru.Maxrss) // KiB on Linux (an int32 on 32-bit platforms)
	}
	line := fmt.Sprintf("seconds %.2f peak_kib %d anon_kib %d file_kib %d max_anon_kib %d max_file_kib %d samples %d\n",
		time.Since(start).Seconds(), peakKiB, r[0].anon, r[0].file, r[1].anon, r[1].file, count)
	w := io.Writer(os.Stderr)
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		w = f
	}
	_, err := io.WriteString(w, line)
	return code, err
}

// read reads the process's RssAnon, RssFile and RssShmem (counted as
// file-backed) from /proc/PID/status.
func read(pid int) (sample, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return sample{}, err
	}
	defer f.Close()
	var s sample
	var seen int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || key != "RssAnon" && key != "RssFile" && key != "RssShmem" {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return sample{}, fmt.Errorf("/proc/%d/status: %s: %w", pid, key, err)
		}
		seen++
		if key == "RssAnon" {
			s.anon = kib
		} else {
			s.file += kib
		}
	}
	if err := sc.Err(); err != nil {
		return sample{}, err
	}
	if seen != 3 {
		// A zombie (exited, not yet reaped) has no Rss lines.
		return sample{}, errors.New("no Rss lines")
	}
	return s, nil
}
