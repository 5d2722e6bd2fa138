// Command deltaapply applies a delta patch the way the device client does
// (client/internal/installed): delta.Apply with Limits.MaxOutput set to
// the target's length, into a file written with direct I/O where the
// platform allows it, then fsynced. It exists to measure what applying
// costs a device: a small binary, so that its peak RSS is delta.Apply's
// memory and not the page cache of mrepo's large binary (bench/delta.sh,
// bench/delta-real.sh with APPLY_TOOL=deltaapply):
//
//	go build -o /tmp/deltaapply ./bench/deltaapply
//	/usr/bin/time -f "%e %U %S %M" /tmp/deltaapply OLD PATCH OUT
//
// Like mclient, it runs with one P more than CPUs (directio.AddSpareProc;
// the GOMAXPROCS environment variable overrides it). It prints nothing
// on success and exits 1 with the error otherwise.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/edgetuf/edgetuf/delta"
	"github.com/edgetuf/edgetuf/internal/directio"
)

func main() {
	ratio := flag.Float64("max-patch-ratio", 1, "delta.Limits.MaxPatchRatio (the device client's is 1)")
	direct := flag.Bool("direct", true, "write with direct I/O where available, as the client does (false: through the page cache, then fsync)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the apply to this file")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: deltaapply [-max-patch-ratio R] [-direct=false] [-cpuprofile FILE] OLD PATCH OUT\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	// As cmd/mclient does: one P more than CPUs, so that the direct
	// writes never idle a CPU (directio.AddSpareProc).
	directio.AddSpareProc()
	if flag.NArg() != 3 {
		flag.Usage()
		os.Exit(2)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "deltaapply:", err)
			os.Exit(1)
		}
	}
	err := run(flag.Arg(0), flag.Arg(1), flag.Arg(2), *ratio, *direct)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deltaapply:", err)
		os.Exit(1)
	}
}

func run(oldPath, patchPath, outPath string, ratio float64, direct bool) error {
	base, baseLen, err := open(oldPath)
	if err != nil {
		return err
	}
	defer base.Close()
	patch, patchLen, err := open(patchPath)
	if err != nil {
		return err
	}
	defer patch.Close()
	hdr, err := delta.ReadHeader(patch, patchLen)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(outPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	// As the client: direct I/O whatever the size, where available.
	var w io.Writer = f
	var dw *directio.Writer
	if direct {
		dw = directio.Open(outPath, f, 0)
	}
	if dw != nil {
		defer dw.Close()
		w = dw
	}
	lim := delta.Limits{MaxOutput: hdr.TargetLength, MaxPatchRatio: ratio}
	if _, err := delta.Apply(base, baseLen, patch, patchLen, w, lim); err != nil {
		return err
	}
	if dw != nil {
		if err := dw.Flush(); err != nil {
			return err
		}
	}
	return f.Sync()
}

func open(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}
