package mariadb

import (
	"log/slog"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// testServer is one real mariadbd (see enginetest), with the engine's
// concrete type and its debug logs. spec may be changed while the server
// is stopped; start uses it.
type testServer struct {
	*enginetest.Server
	engine *Engine
	logs   *enginetest.LogBuffer
	spec   datastore.Spec
	base   string
}

// socketConn returns a connection over the instance socket.
func (s *testServer) socketConn(user string, pw datastore.Secret) datastore.Conn {
	return s.Conn(user, pw)
}

// tcpConn returns a connection over TCP.
func (s *testServer) tcpConn(user string, pw datastore.Secret) datastore.Conn {
	return s.TCPConn(user, pw)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int { return enginetest.FreePort(t) }

// startServer starts a real mariadbd; see enginetest.Start. When running
// as root and the hoard user cannot be made, mariadbd runs as root.
func startServer(t *testing.T) *testServer {
	t.Helper()
	return startServerWith(t, enginetest.Options{})
}

// startServerWith is startServer with opts (Fill, ReplicaOf); the log file
// and the root fallback are set here.
func startServerWith(t *testing.T, opts enginetest.Options) *testServer {
	t.Helper()
	_, err := enginetest.Credential()
	logs := &enginetest.LogBuffer{}
	e := New(Config{RunAsRoot: err != nil, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	// Every test server may be a source (its binary log on), as the
	// replication tests need; TestReplicationSettings covers a standalone
	// server's rendering.
	opts.LogFile, opts.RootFallback, opts.Replicated = "error.log", true, true
	srv := enginetest.Start(t, e, opts)
	return &testServer{Server: srv, engine: e, logs: logs, spec: srv.Spec, base: srv.Base}
}

// start starts the server again with s.spec.
func (s *testServer) start(t *testing.T) {
	t.Helper()
	s.Spec = s.spec
	s.Start(t)
}

// stop shuts the server down cleanly.
func (s *testServer) stop(t *testing.T) {
	t.Helper()
	s.Stop(t)
}
