package main

import (
	"github.com/edgetuf/edgetuf/internal/writerlock"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/spf13/afero"
)

func init() { scriptCmds["holdlock"] = cmdHoldLock }

// holdlock FILE
//
// Takes the writer lock FILE (a repository's .mrepo.lock) in the test
// process, as another mrepo writer would, and holds it until the script
// ends: the mrepo commands the script runs are other processes, so they
// find it held by this PID.
func cmdHoldLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: holdlock FILE")
	}
	release, err := writerlock.Acquire(afero.NewOsFs(), ts.MkAbs(args[0]), 0, nil)
	ts.Check(err)
	ts.Defer(release)
}
