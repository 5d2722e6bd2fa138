package backendtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// SWTPM is a software TPM 2.0 (swtpm) serving one test on a Unix socket.
// Its state directory outlives Stop, so Restart brings back the same TPM
// (NV indexes and counters included), as a device reboot would.
type SWTPM struct {
	// Socket is the TPM command socket: what `tpm:PATH` and
	// tpmdev.Open take.
	Socket string
	// StateDir holds the TPM's persistent state.
	StateDir string
	ctrl     string
	cmd      *exec.Cmd
	cancel   context.CancelFunc
}

// StartSWTPM starts a fresh swtpm for t (manufactured on first start) and
// stops it when t ends. It skips t, with the reason, when swtpm is not
// installed, unless EDGETUF_REQUIRE_BACKENDS=1.
func StartSWTPM(t testing.TB) *SWTPM {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		missing(t, "swtpm (Debian packages swtpm swtpm-tools)")
	}
	// Unix socket paths are limited to 108 bytes: t.TempDir() can be
	// longer, so the sockets live in a short directory of their own.
	sockDir, err := os.MkdirTemp("", "swtpm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	s := &SWTPM{
		Socket:   filepath.Join(sockDir, "tpm.sock"),
		ctrl:     filepath.Join(sockDir, "ctrl.sock"),
		StateDir: filepath.Join(t.TempDir(), "tpmstate"),
	}
	if err := os.MkdirAll(s.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	t.Cleanup(s.Stop)
	return s
}

func (s *SWTPM) start(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+s.StateDir,
		"--server", "type=unixio,path="+s.Socket,
		"--ctrl", "type=unixio,path="+s.ctrl,
		"--flags", "not-need-init,startup-clear")
	cmd.WaitDelay = 5 * time.Second
	out, err := os.Create(filepath.Join(s.StateDir, "..", "swtpm.log"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		out.Close()
		t.Fatalf("starting swtpm: %v", err)
	}
	out.Close()
	s.cmd, s.cancel = cmd, cancel
	// Wait until swtpm accepts a connection (bounded generously: a
	// loaded CI machine can be slow to start a process); the socket file
	// alone can exist before it listens.
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", s.Socket); err == nil {
			c.Close()
			return
		}
		if i == 3000 {
			s.Stop()
			log, _ := os.ReadFile(filepath.Join(s.StateDir, "..", "swtpm.log"))
			t.Fatalf("swtpm did not create %s within 30 s:\n%s", s.Socket, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop shuts the TPM down (its state stays in StateDir). Stopping a
// stopped TPM does nothing.
func (s *SWTPM) Stop() {
	if s.cmd == nil {
		return
	}
	// A graceful shutdown through the control channel when swtpm_ioctl is
	// there; the state is written on every NV change anyway, so the
	// signal that follows loses nothing.
	if _, err := exec.LookPath("swtpm_ioctl"); err == nil {
		exec.Command("swtpm_ioctl", "--unix", s.ctrl, "-s").Run()
	}
	s.cancel()
	s.cmd.Wait()
	s.cmd = nil
	os.Remove(s.Socket)
	os.Remove(s.ctrl)
}

// Restart stops the TPM and starts it again on the same state, as a
// device reboot does.
func (s *SWTPM) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// String describes the TPM for test logs.
func (s *SWTPM) String() string { return fmt.Sprintf("swtpm at %s", s.Socket) }
