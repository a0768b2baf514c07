package mariadb

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

var _ datastore.Logger = (*Engine)(nil)

// The logs of a MariaDB instance, as Trove's MySQL guest exposes them
// (general and slow_query, off until enabled) plus the error log, which
// the server always writes (log-error in my.cnf). The general and slow
// query logs are dynamic (SET GLOBAL), so none needs a restart.
var logDefs = []datastore.LogDef{
	{Name: "general", Type: datastore.LogUser, File: "general.log"},
	{Name: "slow_query", Type: datastore.LogUser, File: "slow_query.log"},
	{Name: "error", Type: datastore.LogSys, File: "error.log"},
}

// logVars are the server variables that switch the USER logs.
var logVars = map[string]string{"general": "general_log", "slow_query": "slow_query_log"}

// slowQuerySeconds is long_query_time while the slow query log is on:
// Trove's guest_log_long_query_time (1000 ms). A configuration group's
// value, rendered after, wins.
const slowQuerySeconds = "1"

// Logs implements datastore.Logger.
func (e *Engine) Logs() []datastore.LogDef { return slices.Clone(logDefs) }

// logLines returns the my.cnf lines of spec's logs: the files always
// (written to only while a log is on, so that SET GLOBAL needs nothing
// but the switch), the switches of the enabled logs.
func logLines(spec datastore.Spec) [][2]string {
	lines := [][2]string{
		{"log_output", "FILE"},
		{"general_log_file", filepath.Join(spec.LogDir, "general.log")},
		{"slow_query_log_file", filepath.Join(spec.LogDir, "slow_query.log")},
	}
	for _, name := range spec.Logs {
		switch name {
		case "general":
			lines = append(lines, [2]string{"general_log", "1"})
		case "slow_query":
			lines = append(lines, [2]string{"slow_query_log", "1"}, [2]string{"long_query_time", slowQuerySeconds})
		}
	}
	return lines
}

// SetLog implements datastore.Logger with SET GLOBAL (and, for the slow
// query log, long_query_time as rendered).
func (e *Engine) SetLog(ctx context.Context, c datastore.Conn, name string, on bool) error {
	v, ok := logVars[name]
	if !ok {
		return fault.Errorf(fault.Invalid, "mariadb.log", "log %q cannot be switched", truncate(name, 64))
	}
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	val := "OFF"
	if on {
		val = "ON"
		if name == "slow_query" {
			if err := s.exec(ctx, "SET GLOBAL long_query_time = "+slowQuerySeconds); err != nil {
				return fmt.Errorf("mariadb: set long_query_time: %w", err)
			}
		}
	}
	if err := s.exec(ctx, "SET GLOBAL "+v+" = "+val); err != nil {
		return fmt.Errorf("mariadb: set %s: %w", v, err)
	}
	return nil
}

// LogOn implements datastore.Logger.
func (e *Engine) LogOn(ctx context.Context, c datastore.Conn, name string) (bool, error) {
	v, ok := logVars[name]
	if !ok {
		return false, fault.Errorf(fault.Invalid, "mariadb.log", "log %q cannot be switched", truncate(name, 64))
	}
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return false, err
	}
	defer s.Close()
	var on sql.NullInt64
	if err := s.conn.QueryRowContext(ctx, "SELECT @@GLOBAL."+v).Scan(&on); err != nil {
		return false, fmt.Errorf("mariadb: read %s: %w", v, err)
	}
	return on.Int64 != 0, nil
}
