//go:build edgetuf_crashpoints

package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Enabled reports whether this binary was built with crash points.
const Enabled = true

// The environment of a binary built with crash points:
//
//	EDGETUF_CRASH_AT=N      SIGKILL the process at its Nth Hit (from 1)
//	EDGETUF_CRASH_TRACE=F   append the name of every Hit to file F, one per line
//	EDGETUF_CRASH_PAUSE=N:F at the Nth Hit, create file F and block for ever
//	                        (a test then signals the process mid-work)
//
// Counting hits rather than naming points keeps a test independent of
// which points exist: it traces one uninterrupted run, then kills a run
// at each count (or a sample of them) and checks what is left.
const (
	EnvAt    = "EDGETUF_CRASH_AT"
	EnvTrace = "EDGETUF_CRASH_TRACE"
	EnvPause = "EDGETUF_CRASH_PAUSE"
)

var state = struct {
	sync.Mutex
	at    int
	n     int
	trace *os.File
	pause int
	file  string
}{}

func init() {
	if v := os.Getenv(EnvAt); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			// A misused test binary: crash loudly (exit status 2).
			panic(fmt.Sprintf("crashpoint: %s=%q: want a count from 1", EnvAt, v))
		}
		state.at = n
	}
	if v := os.Getenv(EnvPause); v != "" {
		n, f, _ := strings.Cut(v, ":")
		at, err := strconv.Atoi(n)
		if err != nil || at < 1 || f == "" {
			panic(fmt.Sprintf("crashpoint: %s=%q: want COUNT:FILE", EnvPause, v))
		}
		state.pause, state.file = at, f
	}
	if f := os.Getenv(EnvTrace); f != "" {
		t, err := os.OpenFile(f, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			panic(fmt.Sprintf("crashpoint: %s: %v", EnvTrace, err))
		}
		state.trace = t
	}
}

// Hit counts a crash point and kills the process if it is the one asked for.
func Hit(name string) {
	if strings.ContainsAny(name, "\n") {
		panic("crashpoint: name with a newline")
	}
	state.Lock()
	defer state.Unlock()
	state.n++
	if state.trace != nil {
		state.trace.WriteString(name + "\n")
	}
	if state.at == state.n {
		// SIGKILL, as the kernel's OOM killer or a power cut would end
		// it: no deferred function, no buffered write reaches the disk.
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is delivered before this returns
	}
	if state.pause == state.n {
		if err := os.WriteFile(state.file, nil, 0o600); err != nil {
			panic(fmt.Sprintf("crashpoint: %s: %v", EnvPause, err))
		}
		select {} // until a signal ends the process
	}
}
