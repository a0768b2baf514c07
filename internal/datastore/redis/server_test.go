package redis

import (
	"log/slog"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// testServer is one real redis-server (see enginetest), with the engine's
// concrete type and its debug logs.
type testServer struct {
	*enginetest.Server
	engine *Engine
	logs   *enginetest.LogBuffer
	spec   datastore.Spec
}

func (s *testServer) socketConn(user string, pw datastore.Secret) datastore.Conn {
	return s.Conn(user, pw)
}

func (s *testServer) tcpConn(user string, pw datastore.Secret) datastore.Conn {
	return s.TCPConn(user, pw)
}

func freePort(t *testing.T) int { return enginetest.FreePort(t) }

// startServer starts a real redis-server; see enginetest.Start.
func startServer(t *testing.T) *testServer {
	t.Helper()
	logs := &enginetest.LogBuffer{}
	e := New(Config{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	srv := enginetest.Start(t, e, enginetest.Options{LogFile: "redis.log"})
	return &testServer{Server: srv, engine: e, logs: logs, spec: srv.Spec}
}

// startSibling starts another real redis-server with s's engine (and its
// logs) and opts (LogFile is set).
func (s *testServer) startSibling(t *testing.T, opts enginetest.Options) *testServer {
	t.Helper()
	opts.LogFile = "redis.log"
	srv := enginetest.Start(t, s.engine, opts)
	return &testServer{Server: srv, engine: s.engine, logs: s.logs, spec: srv.Spec}
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
