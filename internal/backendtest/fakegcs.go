package backendtest

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
)

// GCSServer is a running fake-gcs-server (github.com/fsouza/fake-gcs-server,
// a Google Cloud Storage emulator) on 127.0.0.1, in memory, for one test.
type GCSServer struct {
	host    string
	buckets atomic.Int64
}

// FakeGCS starts fake-gcs-server for t and stops it when t ends.
// fake-gcs-server is optional: see emulatorTool.
func FakeGCS(t testing.TB) *GCSServer {
	t.Helper()
	bin := emulatorTool(t, "fake-gcs-server", "EDGETUF_FAKE_GCS_SERVER")
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s := &GCSServer{host: "127.0.0.1:" + port}
		if s.start(t, bin, port) {
			return s
		}
	}
	t.Fatal("fake-gcs-server did not start")
	return nil
}

func (s *GCSServer) start(t testing.TB, bin, port string) bool {
	t.Helper()
	// fake-gcs-server sends no Server header: any answer to the JSON API
	// path counts.
	ok, _ := startHTTP(t, bin, []string{"-scheme", "http", "-host", "127.0.0.1", "-port", port,
		"-backend", "memory", "-public-host", s.host, "-external-url", "http://" + s.host, "-log-level", "error"}, nil,
		"http://"+s.host+"/storage/v1/b", "")
	return ok
}

// NewBucket creates an empty bucket and returns the storage URL of a
// repository in it (the client finds the emulator through UseInProcess).
func (s *GCSServer) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("edgetuf-test-%d", s.buckets.Add(1))
	resp, err := http.Post("http://"+s.host+"/storage/v1/b?project=test", "application/json",
		bytes.NewReader([]byte(`{"name":"`+name+`"}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("creating bucket %s: %s", name, resp.Status)
	}
	return "gs://" + name + "?anonymous=true"
}

// UseInProcess points the Google Cloud Storage client of this process at
// the emulator for t's duration.
func (s *GCSServer) UseInProcess(t testing.TB) {
	t.Setenv("STORAGE_EMULATOR_HOST", s.host)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
}
