package main

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/rogpeppe/go-internal/testscript"
)

// scriptTB lets a script use backendtest's helpers, which take a
// testing.TB: the few methods they call map to the script's (failures
// fail the script, cleanups run when it ends). A script cannot skip
// itself from a command: it guards with the [swtpm] condition
// (scriptCondition), so a missing swtpm that reaches here fails it. Any
// other method panics (the embedded TB is nil).
type scriptTB struct {
	testing.TB
	ts *testscript.TestScript
}

func (s scriptTB) Helper()                           {}
func (s scriptTB) Fatal(args ...any)                 { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptTB) Fatalf(format string, args ...any) { s.ts.Fatalf(format, args...) }
func (s scriptTB) Skipf(format string, args ...any)  { s.ts.Fatalf(format, args...) }
func (s scriptTB) Cleanup(f func())                  { s.ts.Defer(f) }
func (s scriptTB) TempDir() string {
	d, err := os.MkdirTemp(s.ts.MkAbs("."), "tmp")
	s.ts.Check(err)
	return d
}

// scriptCondition is the scripts' [swtpm]: swtpm is installed, or
// EDGETUF_REQUIRE_BACKENDS=1 (then swtpm start fails the script when it
// is missing, as backendtest.StartSWTPM fails a test).
func scriptCondition(cond string) (bool, error) {
	if cond != "swtpm" {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	_, err := exec.LookPath("swtpm")
	return err == nil || os.Getenv("EDGETUF_REQUIRE_BACKENDS") == "1", nil
}

var scriptTPMs sync.Map // *testscript.TestScript -> *backendtest.SWTPM

// swtpm start VAR | restart | clear | stop
//
// Starts a software TPM for the script (skipping it when swtpm is not
// installed, unless EDGETUF_REQUIRE_BACKENDS=1) and sets VAR to its
// socket; restarts it on the same state (a reboot); issues TPM2_Clear with
// the lockout hierarchy's empty auth; stops it (unreachable).
func cmdSWTPM(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: swtpm start VAR | restart | clear | stop")
	}
	tb := scriptTB{ts: ts}
	if args[0] == "start" {
		if len(args) != 2 {
			ts.Fatalf("usage: swtpm start VAR")
		}
		sw := backendtest.StartSWTPM(tb)
		scriptTPMs.Store(ts, sw)
		ts.Defer(func() { scriptTPMs.Delete(ts) })
		ts.Setenv(args[1], sw.Socket)
		return
	}
	v, ok := scriptTPMs.Load(ts)
	if !ok {
		ts.Fatalf("swtpm %s: no swtpm started", args[0])
	}
	sw := v.(*backendtest.SWTPM)
	switch args[0] {
	case "restart":
		sw.Restart(tb)
	case "clear":
		sw.Clear(tb)
	case "stop":
		sw.Stop()
	default:
		ts.Fatalf("swtpm: unknown %q", args[0])
	}
}
