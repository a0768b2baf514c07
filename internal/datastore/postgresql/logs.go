package postgresql

import (
	"context"
	"fmt"
	"slices"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

var _ datastore.Logger = (*Engine)(nil)

// The logs of a PostgreSQL instance. "server" is what the server writes
// on its standard error, which the driver keeps in LogDir/server.log.
// "general" is Trove's PostgreSQL log: every statement (log_statement =
// all), written by the logging collector to its own file. The collector
// is only started with the server (logging_collector is a postmaster
// setting), so switching the general log needs a restart, as in Trove;
// while it is on, the server's own messages go to it too and server.log
// keeps only what is written before the collector starts.
var logDefs = []datastore.LogDef{
	{Name: "general", Type: datastore.LogUser, File: generalLogFile, RestartRequired: true},
	{Name: "server", Type: datastore.LogSys, File: "server.log"},
}

const generalLogFile = "general.log"

// Logs implements datastore.Logger.
func (e *Engine) Logs() []datastore.LogDef { return slices.Clone(logDefs) }

// logSettings returns the managed settings of spec's enabled logs. The
// collector writes one file in append mode and never rotates it itself
// (the driver bounds it); a configuration group's log_statement wins.
func logSettings(spec datastore.Spec) []setting {
	if !slices.Contains(spec.Logs, "general") {
		return []setting{{"logging_collector", "off"}}
	}
	return []setting{
		{"logging_collector", "on"},
		{"log_directory", spec.LogDir},
		{"log_filename", generalLogFile},
		{"log_rotation_age", "0"},
		{"log_rotation_size", "0"},
		{"log_statement", "all"},
	}
}

// SetLog implements datastore.Logger: PostgreSQL has no log that can be
// switched without a restart.
func (e *Engine) SetLog(ctx context.Context, c datastore.Conn, name string, on bool) error {
	return fault.Errorf(fault.Invalid, "postgresql.log", "log %q is switched by a restart", truncate(name, 64))
}

// LogOn implements datastore.Logger: whether the logging collector runs.
func (e *Engine) LogOn(ctx context.Context, c datastore.Conn, name string) (bool, error) {
	if name != "general" {
		return false, fault.Errorf(fault.Invalid, "postgresql.log", "log %q cannot be switched", truncate(name, 64))
	}
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var v string
	if err := conn.QueryRow(ctx, "SHOW logging_collector").Scan(&v); err != nil {
		return false, fmt.Errorf("postgresql: show logging_collector: %w", err)
	}
	return v == "on", nil
}

// findLog returns the log called name.
func findLog(name string) (datastore.LogDef, bool) { return datastore.FindLog(logDefs, name) }
