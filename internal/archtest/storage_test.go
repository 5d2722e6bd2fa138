package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStorageKnowsNothingOfTUF: package storage (where a repository's
// objects live: local directories and object stores through gocloud.dev)
// imports no package of this module and no TUF library; what the names
// mean is the writer's.
func TestStorageKnowsNothingOfTUF(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", module+"storage").Output()
	if err != nil {
		t.Fatalf("go list -deps storage: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		own, ok := strings.CutPrefix(dep, module)
		if ok && own != "storage" {
			t.Errorf("storage depends on %s", own)
		}
		if strings.HasPrefix(dep, "github.com/theupdateframework/") || strings.HasPrefix(dep, "github.com/secure-systems-lab/") {
			t.Errorf("storage depends on %s: it knows nothing of TUF", dep)
		}
	}
}

// TestDeviceLinksNoStorage: a device binary links neither the storage
// backends nor a cloud SDK; devices fetch over HTTP(S) from a CDN.
func TestDeviceLinksNoStorage(t *testing.T) {
	t.Parallel()
	for _, pkg := range []string{"cmd/mclient", "client"} {
		for dep := range deps(t, pkg) {
			if dep == "storage" || strings.HasPrefix(dep, "storage/") || strings.HasPrefix(dep, "gocloud.dev/") ||
				strings.HasPrefix(dep, "github.com/aws/aws-sdk-go-v2/service/s3") || strings.HasPrefix(dep, "cloud.google.com/go/storage") ||
				strings.HasPrefix(dep, "github.com/Azure/azure-sdk-for-go/") {
				t.Errorf("%s depends on %s: a device binary must not link repository storage or cloud SDKs", pkg, dep)
			}
		}
	}
}
