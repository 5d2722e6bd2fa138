// Package directio writes large files with direct I/O where the platform
// and filesystem allow it. Publishing or downloading a model writes
// gigabytes that are fsynced at once and rarely read back soon; going
// around the page cache makes those writes faster and steadier (measured
// here: buffered write+fsync of 1 GiB took 1.5-4 s, direct writes 0.8-1.4 s)
// and leaves the cache to the rest of the system.
package directio

import (
	"os"
	"runtime"
	"unsafe"
)

// Align is the buffer address and length alignment direct I/O needs; 4096
// covers devices with 512-byte and 4 KiB logical blocks.
const Align = 4096

// AlignedBuffer returns a size-byte slice whose first byte is Align-aligned,
// so that a Writer can pass it to the kernel without copying.
func AlignedBuffer(size int) []byte {
	b := make([]byte, size+Align)
	off := 0
	if r := int(uintptr(unsafe.Pointer(&b[0])) & (Align - 1)); r != 0 {
		off = Align - r
	}
	return b[off : off+size : off+size]
}

// MinSize is the smallest write of a file worth direct I/O: each direct
// write waits for the device, which a large file amortises; for a small
// one (a bundle of a thousand tokenizer and label files) an extra open and
// a synchronous write per file cost more than the page cache they save
// (bench/bundle.sh).
const MinSize = 4 << 20

// Worthwhile reports whether writing n bytes of a file is worth direct I/O
// (n < 0: unknown, assumed large).
func Worthwhile(n int64) bool { return n < 0 || n >= MinSize }

func aligned(p []byte) bool {
	return len(p) > 0 && uintptr(unsafe.Pointer(&p[0]))&(Align-1) == 0 && len(p)%Align == 0
}

// AddSpareProc raises GOMAXPROCS by one, unless the GOMAXPROCS environment
// variable sets it, and returns the new value. Programs that write large
// files with direct I/O while other goroutines compute (mclient applying
// a patch: decoding, rebuilding and hashing on every CPU while a writer
// waits for the device) call it once, from main.
//
// Why: a goroutine blocked in a direct write keeps its P (the scheduler's
// slot for running Go code) until the runtime's monitor takes it back,
// and when the write returns, it must wait for a free P before it can
// issue the next one. With every P busy, those waits add up: applying the
// 88 MB isnet patch on 2 CPUs spent 40-60 ms of its 100-110 with the
// rebuild waiting for the writer. With one P more than CPUs, the monitor
// leaves a short write its P (another P is idle) and the writer finds it
// on return, while the CPUs stay with the computing goroutines: the same
// apply took 5-10% less wall time (docs/delta.md, section 7, round 4).
// A library does not change GOMAXPROCS behind its caller's back, hence a
// function for main rather than a side effect of delta.Apply. Setting
// GOMAXPROCS turns off the runtime's tracking of a container's CPU limit
// for the rest of the process (Go 1.25 and later): the value is the limit
// at start, plus one. A GOMAXPROCS variable that is set counts as the
// caller's choice even when the runtime ignores it (an invalid value):
// nothing is added then.
func AddSpareProc() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	n := runtime.GOMAXPROCS(0) + 1
	runtime.GOMAXPROCS(n)
	return n
}
