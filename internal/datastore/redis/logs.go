package redis

import (
	"context"
	"slices"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

var _ datastore.Logger = (*Engine)(nil)

// The log of a Redis instance: the server's log file (logfile in
// redis.conf), which it always writes and reopens for every line, so a
// rotated file is written again at once. Redis has no log a tenant
// switches: its slow log is kept in memory (SLOWLOG GET).
var logDefs = []datastore.LogDef{
	{Name: "server", Type: datastore.LogSys, File: "redis.log"},
}

// Logs implements datastore.Logger.
func (e *Engine) Logs() []datastore.LogDef { return slices.Clone(logDefs) }

// SetLog implements datastore.Logger: Redis has no USER log.
func (e *Engine) SetLog(ctx context.Context, c datastore.Conn, name string, on bool) error {
	return fault.New(fault.Invalid, "redis.log", "redis has no log that can be switched")
}

// LogOn implements datastore.Logger: Redis has no USER log.
func (e *Engine) LogOn(ctx context.Context, c datastore.Conn, name string) (bool, error) {
	return false, fault.New(fault.Invalid, "redis.log", "redis has no log that can be switched")
}
