package main

import (
	"os"
	"testing"

	"github.com/edgetuf/edgetuf/internal/scripttest"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes this test binary double as the mrepo command: testscript
// installs it as "mrepo" on PATH for the scripts and for tests that run
// mrepo as a separate process (to kill it, for example).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mrepo": func() {
			// A crash provoked in the real command path, for the exit
			// status scripts: only this test binary reads the variable.
			if os.Getenv("MREPO_TEST_CRASH") != "" {
				testHook = func() { panic("test-only crash (MREPO_TEST_CRASH)") }
			}
			os.Exit(run(os.Args, os.Stdout, os.Stderr))
		},
	})
}

// TestScripts runs the user sessions in testdata/*.txtar.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// Test-only passphrase; no real secret is ever used in tests.
			env.Setenv("MREPO_PASSPHRASE", "test-only-passphrase")
			return nil
		},
		Cmds:      scriptCmds,
		Condition: scriptCondition,
	})
}

// scriptCmds are extra commands available to the scripts: the generic
// ones of internal/scripttest, to which the init functions of this
// package's _test.go files add mrepo's own.
var scriptCmds = scripttest.Commands()
