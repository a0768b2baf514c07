package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
)

// instanceUser is the unprivileged account the server runs as when the
// tests run as root, as the local driver does.
const instanceUser = "hoard"

const (
	initTimeout  = 2 * time.Minute
	readyTimeout = time.Minute
	stopTimeout  = time.Minute
	pollInterval = 20 * time.Millisecond
)

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is one real redis-server in a temporary instance directory.
type testServer struct {
	engine *Engine
	logs   *syncBuffer
	spec   datastore.Spec
	base   string
	cred   *syscall.Credential

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

func (s *testServer) socketConn(user string, pw datastore.Secret) datastore.Conn {
	return datastore.Conn{Socket: s.engine.Process().Socket(s.spec), User: user, Password: pw}
}

func (s *testServer) tcpConn(user string, pw datastore.Secret) datastore.Conn {
	return datastore.Conn{Address: s.spec.Address, Port: s.spec.Port, User: user, Password: pw}
}

// instanceCredential returns the hoard user's credential when running as
// root (creating the user if missing), else nil.
func instanceCredential(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(instanceUser)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", instanceUser).CombinedOutput()
		if err != nil {
			t.Skipf("cannot create user %s (%v: %s)", instanceUser, err, out)
		}
		if u, err = user.Lookup(instanceUser); err != nil {
			t.Fatalf("look up %s after useradd: %v", instanceUser, err)
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("user %s has uid %q gid %q", instanceUser, u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer lays out, initialises and starts a real redis-server and waits
// until it answers; t.Cleanup kills it and removes its directory. Skipped
// when Redis is not installed.
func startServer(t *testing.T) *testServer {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real redis-server")
	}
	cred := instanceCredential(t)
	logs := &syncBuffer{}
	e := New(Config{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if e.program(serverProgram) == "" {
		t.Skip("Redis is not installed (redis-server not found)")
	}
	base, err := os.MkdirTemp("/tmp", "hoard-redis-")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{engine: e, logs: logs, base: base, cred: cred}
	t.Cleanup(func() {
		s.kill(t)
		if err := os.RemoveAll(base); err != nil {
			t.Errorf("remove %s: %v", base, err)
		}
	})
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	s.spec = datastore.Spec{
		InstanceID: "test",
		DataDir:    filepath.Join(base, "data"),
		RunDir:     filepath.Join(base, "run"),
		LogDir:     filepath.Join(base, "log"),
		ConfDir:    filepath.Join(base, "conf"),
		Address:    "127.0.0.1",
		Port:       freePort(t),
		RAMMB:      512,
		VolumeGB:   1,
	}
	for _, d := range []string{s.spec.DataDir, s.spec.RunDir, s.spec.LogDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Mkdir(s.spec.ConfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := e.Process().Render(s.spec)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(s.spec.ConfDir, f.Name), f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	defer cancel()
	args := e.Process().InitArgs(s.spec)
	init := exec.CommandContext(ctx, args[0], args[1:]...)
	init.Dir = s.spec.DataDir
	init.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	init.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
	start := time.Now()
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	t.Logf("init took %v", time.Since(start).Round(time.Millisecond))
	s.start(t)
	return s
}

// start runs Prepare and the server, and waits until Ping answers.
func (s *testServer) start(t *testing.T) {
	t.Helper()
	args := s.engine.Process().ServerArgs(s.spec)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = s.spec.DataDir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: s.cred}
	out, err := os.OpenFile(s.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", args, err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done, s.waitErr = cmd, done, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(done)
	}()
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.engine.Ping(ctx, s.socketConn("", ""))
		cancel()
		if err == nil {
			t.Logf("redis-server ready after %v", time.Since(begin).Round(time.Millisecond))
			return
		}
		select {
		case <-done:
			s.mu.Lock()
			werr := s.waitErr
			s.mu.Unlock()
			t.Fatalf("redis-server exited before it was ready: %v\n%s", werr, s.serverLog())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server not ready after %v: %v\n%s", readyTimeout, err, s.serverLog())
		}
	}
}

func (s *testServer) logPath() string { return filepath.Join(s.base, "server.log") }

// stop shuts the server down with its stop signal and waits for it.
func (s *testServer) stop(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	if err := cmd.Process.Signal(s.engine.Process().StopSignal()); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("signal redis-server: %v", err)
	}
	select {
	case <-done:
	case <-time.After(stopTimeout):
		t.Fatalf("redis-server did not stop within %v", stopTimeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waitErr != nil {
		t.Errorf("redis-server exited with %v after %v", s.waitErr, s.engine.Process().StopSignal())
	}
	s.cmd = nil
}

// kill ends the server's whole session at once (cleanup).
func (s *testServer) kill(t *testing.T) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		t.Errorf("redis-server %d did not die", cmd.Process.Pid)
	}
}

func (s *testServer) serverLog() string {
	b, err := os.ReadFile(filepath.Join(s.spec.LogDir, "redis.log"))
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
