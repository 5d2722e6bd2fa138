package main

import (
	"maps"
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestDeviceKeyTPMScripts runs testdata/devicekey-tpm/*.txtar against two
// software TPMs started for them: $TPM, the device's, and $OTHER_TPM, a
// second machine's. The script command swtpm-restart reboots $TPM (same
// NV state). Skipped, with the reason, where swtpm is not installed
// (unless EDGETUF_REQUIRE_BACKENDS=1).
func TestDeviceKeyTPMScripts(t *testing.T) {
	t.Parallel()
	sw := backendtest.StartSWTPM(t)
	other := backendtest.StartSWTPM(t)
	cmds := maps.Clone(scriptCmds)
	cmds["swtpm-restart"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 0 {
			ts.Fatalf("usage: swtpm-restart")
		}
		sw.Restart(t)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/devicekey-tpm",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("MREPO_PASSPHRASE", "test-only-passphrase")
			env.Setenv("TPM", sw.Socket)
			env.Setenv("OTHER_TPM", other.Socket)
			return nil
		},
		Cmds: cmds,
	})
}
