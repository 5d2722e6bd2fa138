package backendtest

import (
	"context"
	"net/http"
	"os/exec"
	"testing"
	"time"
)

// startServer runs an emulator (args, on a port chosen by the caller) and
// waits until probeURL answers with a response ours accepts; it stops the
// process when t ends. It reports false when the process exits first or
// another server answers there (the port was taken: pick another).
func startServer(t testing.TB, what string, args []string, probeURL string, ours func(*http.Response) bool) bool {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", what, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() { cancel(); <-exited }
	// Bounded generously: a loaded CI machine can be slow to start a
	// process.
	client := &http.Client{Timeout: 2 * time.Second}
	for i := 0; i < 600; i++ {
		select {
		case <-exited:
			cancel()
			return false
		default:
		}
		if resp, err := client.Get(probeURL); err == nil {
			resp.Body.Close()
			if ours(resp) {
				t.Cleanup(stop)
				return true
			}
			stop()
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	t.Fatalf("%s did not answer on %s within 30 s:\n%s", what, probeURL, out.String())
	return false
}
