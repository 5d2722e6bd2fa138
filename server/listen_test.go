package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/edgetuf/edgetuf/server"
)

func TestLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8443": true, "localhost:0": true, "[::1]:80": true,
		"0.0.0.0:8443": false, ":8443": false, "10.0.0.1:80": false, "example.com:80": false, "127.0.0.1": false,
	} {
		if got := server.Loopback(addr); got != want {
			t.Errorf("Loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestServeLogsReloadsAndStops: a request is logged, each value on hups
// runs onHUP, and cancelling the context shuts the server down cleanly.
func TestServeLogsReloadsAndStops(t *testing.T) {
	t.Parallel()
	ln, scheme, err := server.Listen("127.0.0.1:0", "", "")
	if err != nil || scheme != "http" {
		t.Fatalf("Listen: %v, %q", err, scheme)
	}
	var log bytes.Buffer // read once Serve has returned
	h := server.AccessLog(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "tea")
	}), &log)
	ctx, cancel := context.WithCancel(context.Background())
	hups, reloaded := make(chan os.Signal), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- server.Serve(ctx, &http.Server{Handler: h}, ln, hups, func() { reloaded <- struct{}{} })
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/a/b")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Fatalf("status %d", resp.StatusCode)
	}
	hups <- syscall.SIGHUP
	<-reloaded
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if !regexp.MustCompile(`^\S+ GET /a/b 418 3 \S+\n$`).MatchString(log.String()) {
		t.Errorf("access log %q", log.String())
	}
}

func TestListenRefusesBadCertificate(t *testing.T) {
	t.Parallel()
	_, _, err := server.Listen("127.0.0.1:0", "/nonexistent/cert.pem", "/nonexistent/key.pem")
	if err == nil || !strings.Contains(err.Error(), "TLS certificate") {
		t.Fatalf("Listen with a missing certificate: %v", err)
	}
}
