package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeviceKeyStandsAlone: the device key packages (devicekey and its
// PKCS#11 backend) link no signing code, nothing repository-side, no
// client and no command: a device links them. They may use the TPM
// (internal/tpmdev) and the PKCS#11 plumbing (internal/pkcs11tok), which
// links neither keys nor devicekey, so that the signing keys (keys) and
// the device keys share it without linking each other.
func TestDeviceKeyStandsAlone(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"devicekey", "devicekey/pkcs11key", "internal/pkcs11tok"} {
		for dep := range deps(t, pkg) {
			if dep == "client" || strings.HasPrefix(dep, "client/") || dep == "cmd" || strings.HasPrefix(dep, "cmd/") || dep == "anti_rollback" {
				t.Errorf("%s depends on %s", pkg, dep)
			}
			for _, f := range repositorySide {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s: device code must not link repository code", pkg, dep)
				}
			}
			if pkg == "internal/pkcs11tok" && strings.HasPrefix(dep, "devicekey") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
	if d := deps(t, "devicekey"); d["devicekey/pkcs11key"] || d["github.com/miekg/pkcs11"] {
		t.Error("devicekey links the PKCS#11 backend: only programs that import devicekey/pkcs11key may")
	}
}

// TestMclientPKCS11OnlyWithItsTag: mclient links PKCS#11 (cgo, a module
// loader) only when built with the edgetuf_pkcs11 tag; its default build,
// and so every release build, has none.
func TestMclientPKCS11OnlyWithItsTag(t *testing.T) {
	t.Parallel()
	d := deps(t, "cmd/mclient")
	if d["devicekey/pkcs11key"] || d["internal/pkcs11tok"] || d["github.com/miekg/pkcs11"] {
		t.Error("the default mclient build links PKCS#11")
	}
	out, err := exec.Command("go", "list", "-deps", "-tags", "edgetuf_pkcs11", module+"cmd/mclient").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), module+"devicekey/pkcs11key\n") {
		t.Error("mclient built with -tags edgetuf_pkcs11 does not link devicekey/pkcs11key")
	}
}
