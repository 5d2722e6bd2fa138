package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/edgetuf/edgetuf/fixtures/tinymlp"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes this test binary double as the mclient command (and as
// tinyeval, the fixture model's health check, fixtures/tinymlp), and
// builds the real repository tool, mrepo, next to it: testscript installs
// both on PATH for the scripts (which publish with mrepo and update with
// mclient, as a release team and a device do) and for the tests that run
// mclient as a separate process (to kill it).
func TestMain(m *testing.M) {
	testscript.Main(withMrepo{m}, map[string]func(){
		"mclient": func() {
			// A crash provoked in the real command path, for the exit
			// status scripts: only this test binary reads the variable.
			if os.Getenv("MCLIENT_TEST_CRASH") != "" {
				testHook = func() { panic("test-only crash (MCLIENT_TEST_CRASH)") }
			}
			os.Exit(run(os.Args, os.Stdout, os.Stderr))
		},
		// The test-only model's health check (fixtures/tinymlp).
		"tinyeval": func() { os.Exit(tinymlp.Main(os.Args[1:], os.Stdout, os.Stderr, os.Getenv)) },
	})
}

// withMrepo builds cmd/mrepo into a temporary directory on PATH before the
// tests run. It runs only in the top-level test process: testscript.Main
// dispatches the mclient invocations before calling Run.
type withMrepo struct{ m *testing.M }

func (w withMrepo) Run() int {
	dir, err := os.MkdirTemp("", "mclient-test-mrepo")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-o", filepath.Join(dir, "mrepo"), "github.com/edgetuf/edgetuf/cmd/mrepo")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building mrepo for the scripts: %v\n%s", err, out)
		return 1
	}
	os.Setenv("PATH", dir+string(filepath.ListSeparator)+os.Getenv("PATH"))
	return w.m.Run()
}

// TestScripts runs the user sessions in testdata/*.txtar.
func TestScripts(t *testing.T) {
	t.Parallel()
	fixtures, err := filepath.Abs(filepath.Join("..", "..", "fixtures"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// Test-only passphrase for mrepo's keys; no real secret is
			// ever used in tests.
			env.Setenv("MREPO_PASSPHRASE", "test-only-passphrase")
			env.Setenv("FIXTURES", fixtures)
			return nil
		},
		Cmds:      scriptCmds,
		Condition: scriptCondition,
	})
}
