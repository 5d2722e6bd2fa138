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
	"runtime"
	"strconv"
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

// fileSizeEnv, when set, limits the size of the files the child
// collector writes (RLIMIT_FSIZE, bytes): a write beyond fails as on a
// full disk (EFBIG; Go ignores SIGXFSZ).
const fileSizeEnv = "EDGETUF_TEST_COLLECTOR_FSIZE"

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
	if limit := os.Getenv(fileSizeEnv); limit != "" { // TestDiskFull
		n, _ := strconv.ParseUint(limit, 10, 64)
		var rl syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_FSIZE, &rl)
		rl.Cur = n
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &rl); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
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
	return startChildBinary(t, os.Args[0], db)
}

// startChildBinary is startChild with the test binary bin and more
// environment.
func startChildBinary(t *testing.T, bin, db string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+db), env...)
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
	acked := ingestUntilKilled(t, url, func(acks <-chan struct{}) {
		for range killAfter {
			<-acks
		}
		if err := child.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}, child)
	t.Logf("killed after %d acknowledged batches (%d acknowledged in all)", killAfter, len(acked))
	checkAcknowledged(t, db, acked)
}

// ingestUntilKilled uploads batches of 1 to 500 reports from 16 devices
// at once until the collector dies; kill (run beside the uploads, given
// a channel that receives one value per acknowledged batch) kills it, or
// waits for it to kill itself. It returns the acknowledged batches:
// sequence number -> reports.
func ingestUntilKilled(t *testing.T, url string, kill func(acks <-chan struct{}), child *exec.Cmd) map[int]int {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var (
		mu    sync.Mutex
		acked = map[int]int{}
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
	kill(acks)
	child.Wait()
	wg.Wait()
	if !killed(child) {
		t.Fatalf("the collector was not killed (%v); raise maxBatches", child.ProcessState)
	}
	return acked
}

func killed(cmd *exec.Cmd) bool {
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// checkAcknowledged opens db, as a restarted collector would, and checks
// that every report of every acknowledged batch is stored: inserting
// them again must find each one a duplicate. (It asks the store, not the
// collector under test, so that a collector miscounting cannot hide a
// loss.)
func checkAcknowledged(t *testing.T, db string, acked map[int]int) {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for seq, n := range acked {
		if inserted, err := st.Insert(context.Background(), now, reports(seq, n)); err != nil || inserted != 0 {
			t.Fatalf("acknowledged batch %d: %d of its %d reports were lost (%v)", seq, inserted, n, err)
		}
	}
	// And a collector restarted on it serves.
	_, url := startChild(t, db)
	if r := post(t, nil, url, "application/json", bytes.NewReader(body(t, reports(1<<30, 1)))); r.status != 200 || r.Accepted != 1 {
		t.Fatalf("the restarted collector: %+v", r)
	}
}

// TestCrashAtCommitPoints: the collector, built with crash points, kills
// itself (SIGKILL) just before a commit or just after it and before the
// answers; whichever, every acknowledged batch is there after a restart.
// An acknowledgement sent before its commit would be lost at the first.
func TestCrashAtCommitPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the test binary with crash points")
	}
	bin := filepath.Join(t.TempDir(), "collector.test")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if out, err := exec.Command(goTool, "test", "-c", "-tags", "edgetuf_crashpoints", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building with crash points: %v\n%s", err, out)
	}
	// Hits alternate: 2k-1 is before the k-th commit, 2k after it.
	for _, at := range []int{1, 2, 5, 6, 13, 14, 27, 40} {
		db := filepath.Join(t.TempDir(), "telemetry.db")
		child, url := startChildBinary(t, bin, db, "EDGETUF_CRASH_AT="+strconv.Itoa(at))
		acked := ingestUntilKilled(t, url, func(<-chan struct{}) {}, child)
		checkAcknowledged(t, db, acked)
		t.Logf("crash point %d: %d acknowledged batches all there", at, len(acked))
	}
}

func mrand(a, b uint64) *rand.Rand { return rand.New(rand.NewPCG(a, b)) }
