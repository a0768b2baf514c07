package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultBin is where Debian's postgresql-15 package puts the server.
const DefaultBin = "/usr/lib/postgresql/15/bin"

// Server is a running throwaway PostgreSQL server.
type Server struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
	seq  atomic.Int64
	log  *os.File
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
	mainUsed   atomic.Bool
)

// Main runs the tests of m and then stops the shared server, if one was
// started. Call it from TestMain.
func Main(m *testing.M) {
	mainUsed.Store(true)
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	os.Exit(code)
}

// Shared returns the server shared by the tests of this binary, starting it
// on first use. It needs [Main] in TestMain, which stops the server.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	if !mainUsed.Load() {
		tb.Fatal("pgtest: call pgtest.Main(m) from TestMain to use the shared server")
	}
	skipIfMissing(tb)
	sharedOnce.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		tb.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// DSN returns the connection URL of a new, empty database on the shared
// server; the database is dropped when tb ends.
func DSN(tb testing.TB) string {
	tb.Helper()
	return Shared(tb).NewDatabase(tb)
}

// Start starts a server for tb alone, stopped and removed when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	skipIfMissing(tb)
	s, err := start()
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

func bin() string {
	if b := os.Getenv("HOARD_PG_BIN"); b != "" {
		return b
	}
	return DefaultBin
}

func skipIfMissing(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(bin(), "postgres")); err != nil {
		if os.Getenv("HOARD_REQUIRE_PG") != "" {
			tb.Fatalf("pgtest: PostgreSQL not found in %s and HOARD_REQUIRE_PG is set", bin())
		}
		tb.Skipf("pgtest: PostgreSQL not found in %s", bin())
	}
}

// AdminDSN returns the URL of the server's postgres database, as the
// superuser postgres.
func (s *Server) AdminDSN() string { return s.url("postgres") }

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// NewDatabase creates an empty database and returns its URL; the database is
// dropped (with whatever connections are left) when tb ends.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), s.seq.Add(1))
	if err := s.admin(tb.Context(), `CREATE DATABASE `+name+` TEMPLATE template0`); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.admin(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			tb.Errorf("pgtest: drop database: %v", err)
		}
	})
	return s.url(name)
}

// admin runs one statement as the superuser.
func (s *Server) admin(ctx context.Context, sql string) error {
	c, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	_, err = c.Exec(ctx, sql)
	return err
}

// Stop stops the server (fast shutdown, then SIGKILL) and removes its
// directory.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	s.log.Close()
	_ = os.RemoveAll(s.dir)
}

// credential returns the uid/gid to run PostgreSQL as: the hoard user when
// root (created if missing), else nil (the current user).
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("hoard")
	if err != nil {
		// As in engines.md: a system user with no home and no shell.
		out, aerr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "hoard").CombinedOutput()
		if aerr != nil {
			return nil, fmt.Errorf("create user hoard: %v: %s", aerr, out)
		}
		if u, err = user.Lookup("hoard"); err != nil {
			return nil, err
		}
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start initialises a cluster in a new temporary directory and starts it.
func start() (_ *Server, err error) {
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "hoard-pgtest-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin(), name), args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
		return cmd
	}
	data := filepath.Join(dir, "data")
	if out, err := run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	log, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	// The port is free now; should another process take it before the
	// server binds it, the server exits and we try another.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			log.Close()
			return nil, err
		}
		cmd := run("postgres", "-D", data,
			"-c", "listen_addresses=127.0.0.1", "-c", "port="+strconv.Itoa(port),
			"-c", "unix_socket_directories="+dir,
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=200", "-c", "shared_buffers=32MB")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			log.Close()
			return nil, fmt.Errorf("start postgres: %w", err)
		}
		s := &Server{dir: dir, port: port, cmd: cmd, done: make(chan struct{}), log: log}
		go func() { _ = cmd.Wait(); close(s.done) }()
		err = s.waitReady(30 * time.Second)
		if err == nil {
			return s, nil
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		if attempt == 2 {
			b, _ := os.ReadFile(log.Name())
			log.Close()
			return nil, fmt.Errorf("postgres did not start: %w\n%s", err, b)
		}
	}
}

// waitReady polls until the server accepts a connection, it exits, or d
// passes.
func (s *Server) waitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, s.AdminDSN())
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %s: %w", d, err)
		}
		select {
		case <-s.done:
			return errors.New("postgres exited")
		case <-tick.C:
		}
	}
}
