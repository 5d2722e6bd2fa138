package backendtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// Azurite's well-known development account (public, in Microsoft's
// documentation): test-only.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// AzureServer is a running Azurite blob service (Microsoft's Azure Storage
// emulator, npm package azurite) on 127.0.0.1, for one test.
type AzureServer struct {
	Endpoint   string // http://127.0.0.1:PORT/devstoreaccount1
	host       string
	containers atomic.Int64
}

// Azurite starts azurite-blob for t in a fresh directory and stops it when
// t ends. azurite-blob is optional: see emulatorTool.
func Azurite(t testing.TB) *AzureServer {
	t.Helper()
	bin := emulatorTool(t, "azurite-blob", "EDGETUF_AZURITE")
	dir := t.TempDir()
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s := &AzureServer{host: "127.0.0.1:" + port}
		s.Endpoint = "http://" + s.host + "/" + AzuriteAccount
		if s.start(t, bin, port, filepath.Join(dir, port)) {
			return s
		}
	}
	t.Fatal("azurite-blob did not start")
	return nil
}

func (s *AzureServer) start(t testing.TB, bin, port, dir string) bool {
	t.Helper()
	ok, _ := startHTTP(t, bin, []string{"--blobHost", "127.0.0.1", "--blobPort", port,
		"--location", dir, "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry"}, nil,
		"http://"+s.host+"/", "Azurite-Blob")
	return ok
}

// NewContainer creates an empty container and returns the storage URL of
// a repository in it (credentials come from UseInProcess).
func (s *AzureServer) NewContainer(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("edgetuf-test-%d", s.containers.Add(1))
	cred, err := azblob.NewSharedKeyCredential(AzuriteAccount, AzuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(s.Endpoint+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateContainer(context.Background(), name, nil); err != nil {
		t.Fatalf("creating container %s: %v", name, err)
	}
	q := url.Values{}
	q.Set("protocol", "http")
	q.Set("domain", s.host)
	q.Set("localemu", "true")
	return "azblob://" + name + "?" + q.Encode()
}

// UseInProcess sets the emulator's account and key in this process's
// environment for t's duration.
func (s *AzureServer) UseInProcess(t testing.TB) {
	t.Setenv("AZURE_STORAGE_ACCOUNT", AzuriteAccount)
	t.Setenv("AZURE_STORAGE_KEY", AzuriteKey)
	for _, name := range []string{"AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGEBLOB_CONNECTIONSTRING", "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_DOMAIN", "AZURE_STORAGE_PROTOCOL", "AZURE_STORAGE_IS_LOCAL_EMULATOR"} {
		if _, ok := os.LookupEnv(name); ok {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}
