package collector

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/edgetuf/edgetuf/telemetry/sqlitestore"
)

// childEnv, when set, makes the test binary a collector on the SQLite
// database it names (TestKill9DuringIngest runs it as a subprocess).
const childEnv = "EDGETUF_TEST_COLLECTOR_DB"

func TestMain(m *testing.M) {
	if db := os.Getenv(childEnv); db != "" {
		runChild(db)
		return
	}
	os.Exit(m.Run())
}

// runChild serves a collector on 127.0.0.1 and prints its address; it
// runs until killed.
func runChild(db string) {
	st, err := sqlitestore.Open(context.Background(), db)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c, err := New(Options{Store: st, Now: fixedNow, RateLimit: NoRateLimit, PruneTicks: make(chan time.Time)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	c.Server().Serve(ln)
}

// startChild starts a collector subprocess on db and returns it with its
// URL.
func startChild(t *testing.T, db string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+db)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the collector printed no address: %v", err)
	}
	return cmd, "http://" + addr[:len(addr)-1]
}

// TestKill9DuringIngest: concurrent devices upload to a collector on
// SQLite, which is killed with SIGKILL at a random point; after a
// restart, every batch that was answered 200 is stored (replaying it
// finds every report a duplicate).
func TestKill9DuringIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs subprocesses")
	}
	var seedBytes [16]byte
	crand.Read(seedBytes[:])
	seed1, seed2 := binary.LittleEndian.Uint64(seedBytes[:8]), binary.LittleEndian.Uint64(seedBytes[8:])
	t.Logf("seed %d %d", seed1, seed2)
	rng := mrand(seed1, seed2)
	killAfter := 1 + rng.IntN(150) // acknowledged batches before the kill

	db := filepath.Join(t.TempDir(), "telemetry.db")
	child, url := startChild(t, db)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var (
		mu    sync.Mutex
		acked = map[int]int{} // batch sequence -> reports
		next  atomic.Int64
		acks  = make(chan struct{}, 1<<16)
		wg    sync.WaitGroup
	)
	const devices, maxBatches = 16, 2000
	for range devices {
		wg.Go(func() {
			for {
				seq := int(next.Add(1))
				if seq > maxBatches {
					return
				}
				n := 1 + seq*37%500 // 1 to 500 reports
				resp, err := client.Post(url+"/v1/reports", "application/json", bytes.NewReader(body(t, reports(seq, n))))
				if err != nil {
					return // killed
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked[seq] = n
					mu.Unlock()
					acks <- struct{}{}
				}
			}
		})
	}
	for range killAfter {
		<-acks
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	wg.Wait()
	if next.Load() > maxBatches {
		t.Fatalf("every batch was sent before the kill; raise maxBatches")
	}

	_, url = startChild(t, db)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("killed after %d acknowledged batches (%d acknowledged in all)", killAfter, len(acked))
	for seq, n := range acked {
		r := post(t, client, url, "application/json", bytes.NewReader(body(t, reports(seq, n))))
		if r.status != 200 || r.Duplicates != n || r.Accepted != 0 {
			t.Fatalf("acknowledged batch %d (%d reports) after the restart: %+v (lost)", seq, n, r)
		}
	}
}

func mrand(a, b uint64) *rand.Rand { return rand.New(rand.NewPCG(a, b)) }
