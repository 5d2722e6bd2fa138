// What a command needs around a handler to serve it (mrepo serve and
// mrepo keyserver): a socket, plain or TLS, an access log, and a graceful
// shutdown.

package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// ShutdownTimeout bounds the graceful shutdown of Serve: requests still
// running after it are cut.
const ShutdownTimeout = 5 * time.Second

// Listen opens a TCP socket on addr: HTTPS (TLSConfig) when certFile is
// given, with keyFile. The certificate is loaded before the socket is
// opened. It returns the scheme, http or https.
func Listen(addr, certFile, keyFile string) (net.Listener, string, error) {
	var tlsCfg *tls.Config
	scheme := "http"
	if certFile != "" {
		var err error
		if tlsCfg, err = TLSConfig(certFile, keyFile); err != nil {
			return nil, "", err
		}
		scheme = "https"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	return ln, scheme, nil
}

// Loopback reports whether addr (HOST:PORT) listens on loopback only.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Serve serves srv on ln until ctx is done, then shuts it down gracefully
// (ShutdownTimeout at most). onHUP runs on each signal from hups (nil:
// none); the caller registers hups before it listens, so that no SIGHUP
// sent once the address is known can kill the process.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, hups <-chan os.Signal, onHUP func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	for {
		select {
		case err := <-errc:
			return err
		case <-hups:
			onHUP()
		case <-ctx.Done():
			shutdown, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}
	}
}

// AccessLog logs one line per request to w: time, method, path, status,
// bytes and duration.
func AccessLog(h http.Handler, w io.Writer) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: rw, status: http.StatusOK}
		h.ServeHTTP(rec, req)
		mu.Lock()
		fmt.Fprintf(w, "%s %s %s %d %d %s\n", start.UTC().Format(time.RFC3339), req.Method, req.URL.Path, rec.status, rec.bytes, time.Since(start).Round(time.Millisecond))
		mu.Unlock()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

func (s *statusRecorder) Write(p []byte) (int, error) {
	n, err := s.ResponseWriter.Write(p)
	s.bytes += int64(n)
	return n, err
}
