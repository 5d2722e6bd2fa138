package backendtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// PostgresUser is the superuser of every test server (trust
// authentication, on 127.0.0.1 and a private socket only). Test-only.
const PostgresUser = "edgetuf"

// PostgresServer is a PostgreSQL server that one test (or benchmark)
// started in a fresh directory, listening on 127.0.0.1 and on a unix
// socket in that directory.
type PostgresServer struct {
	Port   string
	bin    string
	socket string
	data   string
	cred   *syscall.Credential
	opts   PostgresOptions
	// pid is the running server's process, the leader of its group.
	pid int
	dbs atomic.Int64
}

// PostgresOptions says how to run the server.
type PostgresOptions struct {
	// Durable keeps PostgreSQL's default durability (fsync, synchronous
	// commit, full page writes), for benchmarks that measure what a real
	// server does. Tests leave it false: a crash of the test server loses
	// nothing a test needs, and fsync would only make them slow.
	Durable bool
}

// Postgres starts a PostgreSQL server for t (Debian's postgresql package:
// initdb, postgres, pg_isready under /usr/lib/postgresql/N/bin) and stops
// it when t ends. The server runs as an unprivileged user: as root, it
// runs as the postgres system user that the package creates (PostgreSQL
// refuses to run as root). Its default collation is ICU's English one,
// not C, so that a store that sorts by the database's collation instead
// of by byte order shows it in tests. When PostgreSQL is not installed
// the test is skipped, or fails when EDGETUF_REQUIRE_BACKENDS=1.
func Postgres(t testing.TB, opts PostgresOptions) *PostgresServer {
	t.Helper()
	bin := findPostgres(t)
	cred := postgresCredential(t)
	// Not t.TempDir: its parent is private to root, and the server's
	// user must reach its data directory.
	dir, err := os.MkdirTemp("", "edgetuf-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := postgresCommand(context.Background(), cred, filepath.Join(bin, "initdb"), "-D", data, "-U", PostgresUser,
		"--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C", "--locale-provider=icu", "--icu-locale=en")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	s := &PostgresServer{bin: bin, socket: dir, data: data, cred: cred, opts: opts}
	s.listen(t)
	return s
}

// listen starts the server on s.Port if it is set, else (or if that is
// taken) on a free port.
func (s *PostgresServer) listen(t testing.TB) {
	t.Helper()
	var why string
	for attempt := 0; attempt < 5; attempt++ {
		if s.Port == "" || attempt > 0 {
			port, err := freePort()
			if err != nil {
				t.Fatal(err)
			}
			s.Port = port
		}
		var ok bool
		if ok, why = s.start(t); ok {
			return
		}
	}
	t.Fatalf("postgres did not start: %s", why)
}

// Kill kills the server and every session process with SIGKILL, as a
// crash would: nothing is shut down or flushed. Restart starts it again.
func (s *PostgresServer) Kill(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(-s.pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing postgres: %v", err)
	}
}

// Restart starts the server again on its data directory after Kill (it
// recovers from its write-ahead log), on the same port if it is still
// free; URLs made before a port change are stale.
func (s *PostgresServer) Restart(t testing.TB) {
	t.Helper()
	s.listen(t)
}

func (s *PostgresServer) start(t testing.TB) (bool, string) {
	t.Helper()
	args := []string{"-D", s.data, "-h", "127.0.0.1", "-p", s.Port, "-k", s.socket,
		"-c", "max_connections=60", "-c", "shared_buffers=128MB"}
	if !s.opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := postgresCommand(ctx, s.cred, filepath.Join(s.bin, "postgres"), args...)
	// Its own process group, which Kill kills whole.
	cmd.SysProcAttr.Setpgid = true
	// SIGINT is PostgreSQL's fast shutdown: it ends the sessions and
	// writes a checkpoint. WaitDelay kills it if that takes too long.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	// A server whose port was taken exits, and is retried on another port
	// by the caller. pg_isready asks the socket in the server's own
	// directory: no other server answers there.
	ok, why := startServer(t, cmd, cancel, func() (bool, string) {
		ready := exec.Command(filepath.Join(s.bin, "pg_isready"), "-q", "-h", s.socket, "-p", s.Port, "-U", PostgresUser, "-d", "postgres")
		return ready.Run() == nil, ""
	})
	if ok {
		s.pid = cmd.Process.Pid
	}
	return ok, why
}

// NewDatabase creates an empty database on s and returns its URL
// (postgres://edgetuf@127.0.0.1:PORT/NAME?sslmode=disable).
func (s *PostgresServer) NewDatabase(t testing.TB) string {
	t.Helper()
	return s.Database(t, fmt.Sprintf("edgetuf_test_%d", s.dbs.Add(1)))
}

// Database creates an empty database called name on s and returns its
// URL.
func (s *PostgresServer) Database(t testing.TB, name string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "createdb"), "-h", s.socket, "-p", s.Port, "-U", PostgresUser, name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("createdb %s: %v\n%s", name, err, out)
	}
	return s.URL(name)
}

// URL is the connection URL of database name on s.
func (s *PostgresServer) URL(name string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%s/%s?sslmode=disable", PostgresUser, s.Port, name)
}

// findPostgres returns the directory of the newest installed
// PostgreSQL's server programs: EDGETUF_POSTGRES_BIN, else the highest
// /usr/lib/postgresql/N/bin (Debian's layout), else pg_config --bindir.
func findPostgres(t testing.TB) string {
	t.Helper()
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "postgres", "pg_isready", "createdb"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("EDGETUF_POSTGRES_BIN"); dir != "" {
		if !has(dir) {
			t.Fatalf("EDGETUF_POSTGRES_BIN=%s holds no initdb, postgres, pg_isready and createdb", dir)
		}
		return dir
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return postgresMajor(dirs[i]) > postgresMajor(dirs[j]) })
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	for _, dir := range dirs {
		if has(dir) {
			return dir
		}
	}
	missing(t, "postgresql (initdb and postgres under /usr/lib/postgresql/N/bin)")
	return ""
}

func postgresMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// postgresCredential is the user the server runs as: nil (this process's
// user) unless this process is root, then the postgres system user.
func postgresCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		missing(t, "the postgres system user (tests run as root, and PostgreSQL refuses to)")
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("postgres user: uid %q gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// postgresCommand runs a server program as cred (nil: as this process).
// The credential is set on the process itself rather than through su or
// runuser, which would stay in between as a parent that a stop signal
// reaches instead of the server.
func postgresCommand(ctx context.Context, cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if cred != nil {
		cmd.SysProcAttr.Credential = cred
		cmd.Env = append(os.Environ(), "HOME=/")
	}
	return cmd
}
