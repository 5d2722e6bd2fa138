package client_test

import (
	"bufio"
	"bytes"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/edgetuf/edgetuf/client"
)

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rawServer serves inner over connections it writes by hand, to send
// what net/http's server never would: before, sent as soon as a
// connection opens (before the request is read); after, sent right
// after each response, in the same write. wait returns once the client
// has closed every connection it opened.
func rawServer(t *testing.T, inner http.Handler, before, after []byte) (url string, wait func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var wg sync.WaitGroup
	var mu sync.Mutex
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			wg.Add(1)
			mu.Unlock()
			go func() {
				defer wg.Done()
				defer conn.Close()
				conn.Write(before)
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return // the client hung up
					}
					rec := httptest.NewRecorder()
					inner.ServeHTTP(rec, req)
					var out bytes.Buffer
					fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\n", rec.Code, http.StatusText(rec.Code))
					rec.Header().Set("Content-Length", strconv.Itoa(rec.Body.Len()))
					rec.Header().Write(&out)
					out.WriteString("\r\n")
					out.Write(rec.Body.Bytes())
					out.Write(after)
					if _, err := conn.Write(out.Bytes()); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), func() {
		mu.Lock()
		defer mu.Unlock()
		wg.Wait()
	}
}

// TestStrayServerBytesNeverLogged: a server that sends bytes nobody asked
// for. net/http's transport writes "Unsolicited response received on idle
// HTTP channel starting with ..." and those bytes to the standard logger,
// the application's (often the device's console), when they arrive on an
// idle keep-alive connection; before, any server could write there. The
// client's transport keeps no connection idle and reads nothing before
// its request is written, so nothing is logged: after every response
// (the update still succeeds), or as soon as a connection opens (the
// answer is then malformed: NETWORK). Not parallel: it captures the
// process's standard logger.
func TestStrayServerBytesNeverLogged(t *testing.T) {
	t.Parallel()
	var logged lockedBuffer
	prev := log.Writer()
	log.SetOutput(&logged)
	defer log.SetOutput(prev)
	stray := []byte("HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\n\x1b[2J\x1b[31mPWNED\x1b[0m\r\n")
	for _, tc := range []struct {
		name          string
		before, after []byte
		code          client.Code
	}{
		{"after each response", nil, stray, ""},
		{"when the connection opens", []byte("\x1b[2J\x1b[31mPWNED\x1b[0m\r\n"), nil, client.Network},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t)
			publish(t, r, smallSize, "1.0.0")
			url, wait := rawServer(t, dirHandler(r.Dir), tc.before, tc.after)
			opts := fastOpts()
			opts.Retries = 1
			d := newDevice(t, r, url, opts)
			_, err := d.update(client.UpdateRequest{})
			if client.CodeOf(err) != tc.code {
				t.Fatalf("update: %v, want code %q", err, tc.code)
			}
			if tc.code == "" {
				d.wantActive("1.0.0")
			}
			wait() // whatever net/http logs about a connection, it logs before closing it
			if s := logged.String(); s != "" {
				t.Fatalf("logged: %q", s)
			}
		})
	}
}
