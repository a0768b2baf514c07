package postgresql

import (
	"log/slog"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// pollInterval is how often tests poll the server.
const pollInterval = enginetest.PollInterval

// testServer is one real postgres (see enginetest), with the engine's
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

// startServer starts a real postgres; see enginetest.Start.
func startServer(t *testing.T) *testServer {
	t.Helper()
	return startServerWith(t, enginetest.Options{})
}

// startServerWith starts a real postgres with opts (a restored data
// directory, a replica); see enginetest.Start.
func startServerWith(t *testing.T, opts enginetest.Options) *testServer {
	t.Helper()
	logs := &enginetest.LogBuffer{}
	e := New(Config{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	srv := enginetest.Start(t, e, opts)
	return &testServer{Server: srv, engine: e, logs: logs, spec: srv.Spec}
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

// serverLog returns the end of the server's output.
func (s *testServer) serverLog() string { return s.Log() }
