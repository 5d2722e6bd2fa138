package fleetsim

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// DeviceHeader names the simulated device that sent a request, so the
// server's log can tell devices apart (they all connect from 127.0.0.1).
const DeviceHeader = "Fleetsim-Device"

// deviceOf is the index of the device that sent req, from DeviceHeader
// (-1: the bootstrap device or an unnamed client).
func deviceOf(req *http.Request) int {
	dev, err := strconv.Atoi(req.Header.Get(DeviceHeader))
	if err != nil {
		return -1
	}
	return dev
}

// Request is one request the repository server received.
type Request struct {
	// Device is the sender's index (-1: the bootstrap device or an
	// unnamed client).
	Device int
	Path   string
}

// RequestLog records every request the repository server receives, in
// front of the real handler.
type RequestLog struct {
	mu   sync.Mutex
	reqs []Request
}

func (l *RequestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		l.mu.Lock()
		l.reqs = append(l.reqs, Request{Device: deviceOf(req), Path: req.URL.Path})
		l.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

func (l *RequestLog) reset() {
	l.mu.Lock()
	l.reqs = nil
	l.mu.Unlock()
}

// Matching returns the requests whose path starts with prefix.
func (l *RequestLog) Matching(prefix string) []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Request
	for _, r := range l.reqs {
		if strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// PayloadPrefix is the URL path prefix of every file of a version of the
// model, its manifest included.
func PayloadPrefix(version string) string {
	return "/targets/models/" + ModelID + "/" + version + "/"
}

// deviceTransport names device id in each request.
type deviceTransport struct {
	base http.RoundTripper
	id   string
}

func (d deviceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set(DeviceHeader, d.id)
	return d.base.RoundTrip(req)
}
