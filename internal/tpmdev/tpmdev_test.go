package tpmdev_test

import (
	"testing"

	"github.com/edgetuf/edgetuf/internal/backendtest"
	"github.com/edgetuf/edgetuf/internal/tpmdev"
	"github.com/google/go-tpm/tpm2"
)

// TestOpenSWTPM opens a software TPM by its socket and reads a random
// number from it, across a restart; a regular file is refused.
func TestOpenSWTPM(t *testing.T) {
	sw := backendtest.StartSWTPM(t)
	for i := 0; i < 2; i++ {
		tpm, err := tpmdev.Open(sw.Socket)
		if err != nil {
			t.Fatal(err)
		}
		rsp, err := tpm2.GetRandom{BytesRequested: 8}.Execute(tpm)
		tpm.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(rsp.RandomBytes.Buffer) != 8 {
			t.Fatalf("got %d random bytes", len(rsp.RandomBytes.Buffer))
		}
		sw.Restart(t)
	}
	if _, err := tpmdev.Open(sw.StateDir); err == nil {
		t.Fatal("a directory opened as a TPM")
	}
}
