package enginetest

import (
	"bytes"
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
	"syscall"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/pki"
)

// RequireEnv is the environment variable that turns a missing engine from
// a skip into a failure.
const RequireEnv = "HOARD_REQUIRE_ENGINES"

// InstanceUser is the unprivileged account servers run as when the tests
// run as root, as the local driver does (PostgreSQL refuses root).
const InstanceUser = "hoard"

// Deadlines for real servers; generous because CI machines are busy.
const (
	InitTimeout  = 2 * time.Minute
	ReadyTimeout = time.Minute
	StopTimeout  = time.Minute
	// PollInterval is how often readiness is probed.
	PollInterval = 20 * time.Millisecond
)

// Unavailable skips tb because something it needs (an engine) is missing,
// or fails it when HOARD_REQUIRE_ENGINES is set.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(RequireEnv) != "" {
		tb.Fatalf("%s (and %s is set)", msg, RequireEnv)
		return
	}
	tb.Skip(msg)
}

// Credential returns the credential engine servers run with: nil when the
// test does not run as root; the hoard user's (created if missing) when it
// does. It fails only when running as root and the user cannot be made.
func Credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(InstanceUser)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", InstanceUser).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("enginetest: create user %s: %w: %s", InstanceUser, err, bytes.TrimSpace(out))
		}
		if u, err = user.Lookup(InstanceUser); err != nil {
			return nil, fmt.Errorf("enginetest: look up %s after useradd: %w", InstanceUser, err)
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("enginetest: user %s has uid %q gid %q", InstanceUser, u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// LogBuffer is a buffer an engine's logger and the test can share (for
// checking that no password reaches the logs).
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Options tune [Start]; the zero value suits every engine.
type Options struct {
	// RAMMB is the flavor RAM of the spec; 512 if zero.
	RAMMB int
	// LogFile is the engine's own log, relative to Spec.LogDir, shown
	// when the server fails; "" means the server's captured output.
	LogFile string
	// RootFallback runs the server as the current user (root) when the
	// hoard user cannot be created, instead of giving up (MariaDB can run
	// as root; PostgreSQL cannot).
	RootFallback bool
	// Fill, when set, fills the empty data directory instead of the
	// engine's init, as hoard's restore does (a Backuper's Restore); the
	// files are then handed to the instance user.
	Fill func(spec datastore.Spec) error
	// ReplicaOf is set on the spec before its first render (a replica).
	ReplicaOf *datastore.ReplicaSource
	// Replicated is set on the spec before its first render (a server
	// that replicas may follow).
	Replicated bool
	// TLS, when set, gives the server a certificate for its address from
	// this CA before its first render (see Server.IssueTLS).
	TLS *pki.CA
}

// Server is one real engine server in a temporary instance directory.
// Its methods are for the test's goroutine; Conn, TCPConn and Log may be
// called from any goroutine.
type Server struct {
	// Engine is the engine the server runs.
	Engine datastore.Engine
	// Spec is the instance's spec. A test may change it while the server
	// is stopped: Start renders the configuration from it again.
	Spec datastore.Spec
	// Base is the instance directory (removed by the cleanup).
	Base string

	opts Options
	cred *syscall.Credential

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// Start lays out, renders, initialises and starts a real server of e and
// waits until its Ping answers; tb.Cleanup kills it and removes its
// directory. The test is skipped (see [Unavailable]) when the engine is not
// installed, and in -short mode.
func Start(tb testing.TB, e datastore.Engine, opts Options) *Server {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("starts a real %s server", e.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), InitTimeout)
	defer cancel()
	if _, err := e.Discover(ctx); errors.Is(err, datastore.ErrNotInstalled) {
		Unavailable(tb, "%s is not installed", e.Name())
	} else if err != nil {
		tb.Fatalf("discover %s: %v", e.Name(), err)
	}
	cred, err := Credential()
	if err != nil {
		if !opts.RootFallback {
			Unavailable(tb, "%v; %s does not run as root", err, e.Name())
		}
		tb.Logf("%v; running %s as root", err, e.Name())
	}
	if opts.RAMMB == 0 {
		opts.RAMMB = 512
	}
	// Not t.TempDir: the instance user must be able to traverse the
	// parents, and socket paths must stay short.
	base, err := os.MkdirTemp("/tmp", "hoard-"+e.Name()+"-")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{Engine: e, Base: base, opts: opts, cred: cred}
	tb.Cleanup(func() {
		s.Kill(tb)
		if err := os.RemoveAll(base); err != nil {
			tb.Errorf("remove %s: %v", base, err)
		}
	})
	if err := os.Chmod(base, 0o755); err != nil {
		tb.Fatal(err)
	}
	s.Spec = datastore.Spec{
		InstanceID: "test",
		DataDir:    filepath.Join(base, "data"),
		RunDir:     filepath.Join(base, "run"),
		LogDir:     filepath.Join(base, "log"),
		ConfDir:    filepath.Join(base, "conf"),
		Address:    "127.0.0.1",
		Port:       FreePort(tb),
		RAMMB:      opts.RAMMB,
		VolumeGB:   1,
		ReplicaOf:  opts.ReplicaOf,
		Replicated: opts.Replicated,
	}
	// Modes as the local driver makes them (internal/driver/local).
	for _, d := range []struct {
		path string
		perm os.FileMode
	}{{s.Spec.DataDir, 0o700}, {s.Spec.RunDir, 0o750}, {s.Spec.LogDir, 0o750}} {
		if err := os.Mkdir(d.path, d.perm); err != nil {
			tb.Fatal(err)
		}
		if cred != nil {
			if err := os.Chown(d.path, int(cred.Uid), int(cred.Gid)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := os.Mkdir(s.Spec.ConfDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if opts.TLS != nil {
		s.IssueTLS(tb)
	}
	s.render(tb)
	if opts.Fill != nil {
		if err := opts.Fill(s.Spec); err != nil {
			tb.Fatalf("fill the data directory of %s: %v", e.Name(), err)
		}
		if cred != nil {
			if err := chownTree(s.Spec.DataDir, int(cred.Uid), int(cred.Gid)); err != nil {
				tb.Fatal(err)
			}
		}
	} else if args := e.Process().InitArgs(s.Spec); len(args) > 0 {
		init := exec.CommandContext(ctx, args[0], args[1:]...)
		init.Dir = s.Spec.DataDir
		init.Env = s.env()
		init.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
		begin := time.Now()
		if out, err := init.CombinedOutput(); err != nil {
			tb.Fatalf("%v: %v\n%s", args, err, out)
		}
		tb.Logf("%s init took %v", e.Name(), time.Since(begin).Round(time.Millisecond))
	}
	s.Start(tb)
	return s
}

// env is the minimal environment of engine processes, as the local
// driver's.
func (s *Server) env() []string {
	name := InstanceUser
	if s.cred == nil {
		name = "root"
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8", "HOME=/nonexistent", "USER=" + name, "LOGNAME=" + name,
	}
}

// render writes the configuration files rendered from s.Spec.
func (s *Server) render(tb testing.TB) {
	tb.Helper()
	files, err := s.Engine.Process().Render(s.Spec)
	if err != nil {
		tb.Fatalf("Render: %v", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(s.Spec.ConfDir, f.Name), f.Content, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// Render writes the configuration files rendered from Spec again, while
// the server runs (a test then has the engine reload them) or not.
func (s *Server) Render(tb testing.TB) {
	tb.Helper()
	s.render(tb)
}

// Conn returns a connection to the server over its local socket.
func (s *Server) Conn(user string, password datastore.Secret) datastore.Conn {
	return datastore.Conn{Socket: s.Engine.Process().Socket(s.Spec), Port: s.Spec.Port, User: user, Password: password}
}

// TCPConn returns a connection to the server over TCP.
func (s *Server) TCPConn(user string, password datastore.Secret) datastore.Conn {
	return datastore.Conn{Address: s.Spec.Address, Port: s.Spec.Port, User: user, Password: password}
}

// outputPath is where the server's standard output and error go.
func (s *Server) outputPath() string { return filepath.Join(s.Base, "server.out") }

// Start renders the configuration from Spec again, runs the engine's
// Prepare (if it has one) and the server, and waits until Ping answers.
// It does nothing when the server runs.
func (s *Server) Start(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		return
	}
	s.render(tb)
	name := s.Engine.Name()
	if p, ok := s.Engine.Process().(datastore.Preparer); ok {
		if err := p.Prepare(s.Spec); err != nil {
			tb.Fatalf("Prepare: %v", err)
		}
	}
	args := s.Engine.Process().ServerArgs(s.Spec)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = s.Spec.DataDir
	cmd.Env = s.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: s.cred}
	out, err := os.OpenFile(s.outputPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %v: %v", args, err)
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
	deadline := time.Now().Add(ReadyTimeout)
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.Engine.Ping(ctx, s.Conn("", ""))
		cancel()
		if err == nil {
			tb.Logf("%s ready after %v", name, time.Since(begin).Round(time.Millisecond))
			return
		}
		select {
		case <-done:
			s.mu.Lock()
			werr := s.waitErr
			s.cmd = nil
			s.mu.Unlock()
			tb.Fatalf("%s exited before it was ready: %v\n%s", name, werr, s.Log())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s not ready after %v: %v\n%s", name, ReadyTimeout, err, s.Log())
		}
	}
}

// Stop shuts the server down with its stop signal and waits for it; an
// unclean exit is a test error. It does nothing when the server is not
// running.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	sig := s.Engine.Process().StopSignal()
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		tb.Fatalf("signal %s: %v", s.Engine.Name(), err)
	}
	select {
	case <-done:
	case <-time.After(StopTimeout):
		tb.Fatalf("%s did not stop within %v", s.Engine.Name(), StopTimeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waitErr != nil {
		tb.Errorf("%s exited with %v after %v\n%s", s.Engine.Name(), s.waitErr, sig, s.Log())
	}
	s.cmd = nil
}

// Restart stops and starts the server.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop(tb)
	s.Start(tb)
}

// Kill ends the server's whole session at once (the cleanup does it).
func (s *Server) Kill(tb testing.TB) {
	tb.Helper()
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
	case <-time.After(StopTimeout):
		tb.Errorf("%s %d did not die", s.Engine.Name(), cmd.Process.Pid)
	}
}

// Log returns the end of the server's log (Options.LogFile, else its
// captured output), for failure messages.
func (s *Server) Log() string {
	p := s.outputPath()
	if s.opts.LogFile != "" {
		p = filepath.Join(s.Spec.LogDir, s.opts.LogFile)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// chownTree hands dir and everything below it to uid:gid, without
// following symbolic links.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}
