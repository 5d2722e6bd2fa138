package backendtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// startHTTP runs bin with args (and env added) until t ends, and waits
// until probe answers with a Server header that starts with server. The
// emulators take a fixed port (the caller picked a free one with
// freePort), so another process can take it first: when bin exits before
// it answers, or another server answers, bin is stopped and startHTTP
// returns false with the reason and bin's output, for the caller to try
// another port.
func startHTTP(t testing.TB, bin string, args, env []string, probe, server string) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	client := &http.Client{Timeout: 2 * time.Second}
	return startServer(t, cmd, cancel, func() (bool, string) {
		resp, err := client.Get(probe)
		if err != nil {
			return false, ""
		}
		resp.Body.Close()
		if got := resp.Header.Get("Server"); !strings.HasPrefix(got, server) {
			return false, fmt.Sprintf("another server answered on %s (%q)", probe, got)
		}
		return true, ""
	})
}

// startServer starts cmd, made with exec.CommandContext and the cancel of
// its context, and polls ready until it says that the server serves; then
// the server runs until t ends. When ready says that another server
// answered (a reason) or cmd exits first, cmd is stopped and startServer
// returns false and the reason, with cmd's output, for the caller to try
// another port.
func startServer(t testing.TB, cmd *exec.Cmd, cancel context.CancelFunc, ready func() (ok bool, other string)) (bool, string) {
	t.Helper()
	// One writer for both: exec then writes from one goroutine at a time,
	// and out is read only after the process has exited.
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	stop := func() {
		cancel()
		<-exited
	}
	// Bounded generously: a loaded CI machine can be slow to start a
	// process.
	for i := 0; i < 600; i++ {
		select {
		case <-exited:
			cancel()
			return false, fmt.Sprintf("%s exited:\n%s", cmd.Path, out.String())
		default:
		}
		ok, other := ready()
		if other != "" {
			stop()
			return false, other
		}
		if ok {
			t.Cleanup(stop)
			return true, ""
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	t.Fatalf("%s was not ready within 30 s:\n%s", cmd.Path, out.String())
	return false, ""
}
