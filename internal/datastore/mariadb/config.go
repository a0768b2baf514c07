package mariadb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/engineproc"
	"github.com/hoard-db/hoard/internal/fault"
)

var _ datastore.Configurable = (*Engine)(nil)

// catalogueNames are the server variables a configuration group may set: a
// few dozen useful and safe ones (memory, connections, timeouts, logging,
// character sets, SQL behaviour). Their types, bounds and whether they
// need a restart come from the server itself (Parameters). Left out on
// purpose: paths and files (datadir, log files, plugin_dir), anything that
// weakens isolation (local_infile, secure_file_priv, skip_*), settings hoard
// relies on (bind_address, port, socket, skip_networking) and settings that
// would corrupt existing data (lower_case_table_names,
// innodb_data_file_path).
var catalogueNames = []string{
	"autocommit", "back_log", "character_set_server", "collation_server", "connect_timeout",
	"default_storage_engine", "default_week_format", "div_precision_increment",
	"explicit_defaults_for_timestamp", "ft_max_word_len", "ft_min_word_len", "group_concat_max_len",
	"innodb_adaptive_hash_index", "innodb_autoinc_lock_mode", "innodb_buffer_pool_size",
	"innodb_deadlock_detect", "innodb_flush_log_at_trx_commit", "innodb_ft_min_token_size",
	"innodb_io_capacity", "innodb_io_capacity_max", "innodb_lock_wait_timeout", "innodb_log_buffer_size",
	"innodb_open_files", "innodb_print_all_deadlocks", "innodb_read_io_threads", "innodb_stats_on_metadata",
	"innodb_strict_mode", "innodb_write_io_threads", "interactive_timeout", "join_buffer_size",
	"key_buffer_size", "lock_wait_timeout", "log_queries_not_using_indexes", "log_slow_verbosity",
	"log_warnings", "long_query_time", "max_allowed_packet", "max_connect_errors", "max_connections",
	"max_heap_table_size", "max_prepared_stmt_count", "max_sp_recursion_depth", "max_statement_time",
	"max_user_connections", "min_examined_row_limit", "net_read_timeout", "net_retry_count",
	"net_write_timeout", "performance_schema", "read_buffer_size", "read_rnd_buffer_size",
	"slow_query_log", "sort_buffer_size", "sql_mode", "table_definition_cache", "table_open_cache",
	"thread_cache_size", "time_zone", "tmp_table_size", "tx_isolation", "wait_timeout",
}

// paramNameRE is what a parameter name written to my.cnf or SET GLOBAL may be.
var paramNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// paramValueRE is what a value written to my.cnf may consist of: nothing
// that starts a comment, quotes, escapes or breaks a line.
var paramValueRE = regexp.MustCompile(`^[A-Za-z0-9_,.:/+-]{0,255}$`)

// numberRE is a canonical integer or decimal number.
var numberRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// Parameters implements datastore.Configurable. It starts a throwaway
// mariadbd (empty data directory, no networking, no grant tables, a
// private socket) once per Engine, reads information_schema.SYSTEM_VARIABLES
// for catalogueNames and stops it; about a second. The result is cached
// in the Engine; the service also keeps it in its store.
func (e *Engine) Parameters(ctx context.Context) ([]datastore.Parameter, error) {
	e.paramsMu.Lock()
	defer e.paramsMu.Unlock()
	if e.params != nil {
		return slices.Clone(e.params), nil
	}
	ps, err := e.discoverParameters(ctx)
	if err != nil {
		return nil, err
	}
	e.params = ps
	return slices.Clone(ps), nil
}

func (e *Engine) discoverParameters(ctx context.Context) (ps []datastore.Parameter, err error) {
	bin := e.program(serverProgram)
	if bin == "" {
		return nil, datastore.ErrNotInstalled
	}
	dir, err := os.MkdirTemp("", "hoard-params-")
	if err != nil {
		return nil, fmt.Errorf("mariadb: parameters: %w", err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s.sock")
	args := []string{"--no-defaults", "--datadir=" + dir, "--socket=" + sock, "--pid-file=" + filepath.Join(dir, "p.pid"),
		"--log-error=" + filepath.Join(dir, "error.log"), "--skip-networking", "--skip-grant-tables", "--skip-log-bin",
		"--innodb-buffer-pool-size=8M", "--innodb-log-file-size=4M", "--performance-schema=OFF"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	srv, err := engineproc.StartThrowaway(cmd)
	if err != nil {
		return nil, fmt.Errorf("mariadb: parameters: start %s: %w", bin, err)
	}
	defer srv.Stop(30 * time.Second)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var s *session
	err = srv.Poll(ctx, 20*time.Millisecond, func() (err error) {
		s, err = open(ctx, datastore.Conn{Socket: sock}, "root", "", pingTimeouts)
		return err
	})
	if engineproc.IsExit(err) {
		return nil, fmt.Errorf("mariadb: parameters: %v; %s", err, truncate(tailFile(filepath.Join(dir, "error.log")), 400))
	}
	if err != nil {
		return nil, fmt.Errorf("mariadb: parameters: throwaway server did not answer: %w", err)
	}
	defer s.Close()
	return queryParameters(ctx, s)
}

// tailFile returns the end of a small log file ("" if unreadable).
func tailFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 400 {
		b = b[len(b)-400:]
	}
	return string(b)
}

// queryParameters reads the catalogue from information_schema.
func queryParameters(ctx context.Context, s *session) ([]datastore.Parameter, error) {
	marks := strings.TrimSuffix(strings.Repeat("?,", len(catalogueNames)), ",")
	args := make([]any, len(catalogueNames))
	for i, n := range catalogueNames {
		args[i] = strings.ToUpper(n)
	}
	rows, err := s.conn.QueryContext(ctx, `SELECT VARIABLE_NAME, VARIABLE_TYPE, IFNULL(NUMERIC_MIN_VALUE, ''),
		IFNULL(NUMERIC_MAX_VALUE, ''), READ_ONLY, VARIABLE_SCOPE, IFNULL(ENUM_VALUE_LIST, '')
		FROM information_schema.SYSTEM_VARIABLES WHERE VARIABLE_NAME IN (`+marks+`) ORDER BY VARIABLE_NAME`, args...)
	if err != nil {
		return nil, fmt.Errorf("mariadb: parameters: %w", err)
	}
	defer rows.Close()
	var out []datastore.Parameter
	for rows.Next() {
		var name, typ, lo, hi, ro, scope, enum string
		if err := rows.Scan(&name, &typ, &lo, &hi, &ro, &scope, &enum); err != nil {
			return nil, fmt.Errorf("mariadb: parameters: %w", err)
		}
		if p, ok := toParameter(name, typ, lo, hi, ro, scope, enum); ok {
			out = append(out, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mariadb: parameters: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("mariadb: parameters: the server reported none")
	}
	return out, nil
}

// toParameter converts one SYSTEM_VARIABLES row; ok is false for a
// variable that cannot be set globally.
func toParameter(name, typ, lo, hi, ro, scope, enum string) (datastore.Parameter, bool) {
	if scope != "GLOBAL" && scope != "SESSION" {
		return datastore.Parameter{}, false
	}
	p := datastore.Parameter{Name: strings.ToLower(name), RestartRequired: ro == "YES"}
	switch {
	case strings.HasPrefix(typ, "INT") || strings.HasPrefix(typ, "BIGINT"):
		p.Type, p.Min, p.Max = datastore.ParamInteger, cleanNumber(lo), cleanNumber(hi)
	case typ == "DOUBLE":
		p.Type, p.Min, p.Max = datastore.ParamFloat, cleanNumber(lo), cleanNumber(hi)
	case typ == "BOOLEAN":
		p.Type = datastore.ParamBoolean
	case typ == "ENUM":
		p.Type = datastore.ParamString
		if enum != "" {
			p.Allowed = strings.Split(enum, ",")
		}
	case typ == "SET" || typ == "FLAGSET":
		p.Type, p.Set = datastore.ParamString, true
		if enum != "" {
			p.Allowed = strings.Split(enum, ",")
		}
	default:
		p.Type = datastore.ParamString
	}
	return p, true
}

// cleanNumber turns "0.000000" into "0" and "31536000.000000" into
// "31536000"; "" stays "".
func cleanNumber(s string) string {
	if !numberRE.MatchString(s) {
		return ""
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// ApplyDynamic implements datastore.Configurable: one SET GLOBAL per value,
// in name order, over c as hoard's admin account.
func (e *Engine) ApplyDynamic(ctx context.Context, c datastore.Conn, values map[string]string) error {
	if len(values) == 0 {
		return nil
	}
	stmts := make([]string, 0, len(values))
	for _, k := range slices.Sorted(mapsKeys(values)) {
		lit, err := sqlLiteral(k, values[k])
		if err != nil {
			return err
		}
		stmts = append(stmts, "SET GLOBAL "+k+" = "+lit)
	}
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, st := range stmts {
		if err := s.exec(ctx, st); err != nil {
			name, _, _ := strings.Cut(strings.TrimPrefix(st, "SET GLOBAL "), " ")
			return fmt.Errorf("mariadb: set global %s: %w", name, err)
		}
	}
	return nil
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// sqlLiteral returns value as the right-hand side of SET GLOBAL name.
func sqlLiteral(name, value string) (string, error) {
	if !paramNameRE.MatchString(name) || !slices.Contains(catalogueNames, name) {
		return "", fault.Errorf(fault.Invalid, "mariadb.config", "configuration parameter %q cannot be set", truncate(name, 64))
	}
	switch {
	case value == "true":
		return "ON", nil
	case value == "false":
		return "OFF", nil
	case numberRE.MatchString(value):
		return value, nil
	}
	return quoteString(value), nil
}

// configLines returns the my.cnf lines for spec.Config, in name order.
func configLines(cfg map[string]string) ([]string, error) {
	const op = "mariadb.render"
	lines := make([]string, 0, len(cfg))
	for _, k := range slices.Sorted(mapsKeys(cfg)) {
		v := cfg[k]
		if !paramNameRE.MatchString(k) || !slices.Contains(catalogueNames, k) {
			return nil, fault.Errorf(fault.Invalid, op, "configuration parameter %q cannot be set", truncate(k, 64))
		}
		if !paramValueRE.MatchString(v) {
			return nil, fault.Errorf(fault.Invalid, op, "configuration parameter %s has a value that cannot be written to my.cnf", k)
		}
		switch v {
		case "true":
			v = "ON"
		case "false":
			v = "OFF"
		}
		lines = append(lines, k+"="+v)
	}
	return lines, nil
}

// Defaults implements datastore.Configurable: the settings Render writes
// for spec's flavor and volume, by parameter name.
func (e *Engine) Defaults(spec datastore.Spec) map[string]string {
	m := map[string]string{"port": strconv.Itoa(spec.Port)}
	for _, kv := range tunables(spec) {
		m[strings.ReplaceAll(kv[0], "-", "_")] = kv[1]
	}
	return m
}
