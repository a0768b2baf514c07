package mariadb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// Unreachable implements datastore.UnreachableClassifier: database/sql's
// driver.ErrBadConn and the MySQL driver's ErrInvalidConn say that the
// connection failed or was lost.
func (e *Engine) Unreachable(err error) bool {
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn)
}

// timeouts bound a connection's dial and each of its reads and writes;
// queries are further bounded by the caller's ctx.
type timeouts struct{ dial, io time.Duration }

var (
	pingTimeouts = timeouts{dial: 2 * time.Second, io: 2 * time.Second}
	opTimeouts   = timeouts{dial: 5 * time.Second, io: 30 * time.Second}
)

// sessionSQLMode is set on every connection hoard opens. quoteString
// relies on backslash escapes, which NO_BACKSLASH_ESCAPES (settable by a
// tenant with root as a global default) would turn off; fixing the
// session mode keeps the quoting sound whatever the global mode is.
const sessionSQLMode = "'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"

// MariaDB error numbers hoard looks at.
const (
	erDBAccessDenied       = 1044 // ER_DBACCESS_DENIED_ERROR
	erAccessDenied         = 1045 // ER_ACCESS_DENIED_ERROR
	erTooManyConnections   = 1040 // ER_CON_COUNT_ERROR
	erAccessDeniedNoPasswd = 1698 // ER_ACCESS_DENIED_NO_PASSWORD_ERROR (unix_socket refused)
	erTableAccessDenied    = 1142 // ER_TABLEACCESS_DENIED_ERROR
	erSpecificAccessDenied = 1227 // ER_SPECIFIC_ACCESS_DENIED_ERROR
	erAccountLocked        = 4151 // ER_ACCOUNT_HAS_BEEN_LOCKED
	erPasswordExpired      = 1862 // ER_MUST_CHANGE_PASSWORD_LOGIN
)

// session is one connection to a server.
type session struct {
	db   *sql.DB
	conn *sql.Conn
}

func (s *session) Close() error {
	return errors.Join(s.conn.Close(), s.db.Close())
}

// exec runs one statement. Statements built here never contain a password
// (only its hash), but errors still carry no SQL text of ours. A refused
// privilege means hoard's account lost it (sessions are hoard's).
func (s *session) exec(ctx context.Context, query string, args ...any) error {
	_, err := s.conn.ExecContext(ctx, query, args...)
	if err != nil && refused(err) {
		return fmt.Errorf("%w: %w", datastore.ErrAdminLost, err)
	}
	return err
}

// open connects to c as user with password: over c.Socket when set, else
// over TCP to c.Address:c.Port. The connection uses utf8mb4 (the driver's
// default collation utf8mb4_general_ci), no multi-statements and no
// client-side interpolation.
func open(ctx context.Context, c datastore.Conn, user string, password datastore.Secret, to timeouts) (*session, error) {
	cfg := mysql.NewConfig()
	if c.Socket != "" {
		cfg.Net, cfg.Addr = "unix", c.Socket
	} else {
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(c.Address, strconv.Itoa(c.Port))
	}
	cfg.User, cfg.Passwd = user, string(password)
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = to.dial, to.io, to.io
	cfg.Params = map[string]string{"sql_mode": sessionSQLMode}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mariadb: connector: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		if user == c.User && refused(err) {
			// hoard's own account: changed or dropped inside the instance.
			return nil, fmt.Errorf("mariadb: connect to %s as %q: %w: %w", cfg.Addr, user, datastore.ErrAdminLost, err)
		}
		return nil, fmt.Errorf("mariadb: connect to %s as %q: %w", cfg.Addr, user, err)
	}
	return &session{db: db, conn: conn}, nil
}

// refused reports whether err is the server refusing an account: a wrong
// password, a missing or locked account, a missing privilege.
func refused(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erAccessDenied, erAccessDeniedNoPasswd, erDBAccessDenied, erTableAccessDenied,
			erSpecificAccessDenied, erAccountLocked, erPasswordExpired:
			return true
		}
	}
	return false
}

// serverAnswered reports whether err shows that a MariaDB server answered
// the handshake, even though it refused us.
func serverAnswered(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erAccessDenied, erAccessDeniedNoPasswd, erDBAccessDenied, erTooManyConnections:
			return true
		}
	}
	// The server asked for an authentication method the driver lacks.
	return errors.Is(err, mysql.ErrUnknownPlugin)
}

// Ping implements datastore.Engine. It connects (socket if c.Socket is
// set, else TCP) and runs SELECT 1. A server that refuses the credentials
// (access denied) or has no free connection slot is alive: nil.
func (e *Engine) Ping(ctx context.Context, c datastore.Conn) error {
	s, err := open(ctx, c, c.User, c.Password, pingTimeouts)
	if err == nil {
		var one int
		err = s.conn.QueryRowContext(ctx, "SELECT 1").Scan(&one)
		_ = s.Close()
	}
	if err == nil || serverAnswered(err) {
		return nil
	}
	return fmt.Errorf("mariadb: ping: %w", err)
}

// Bootstrap implements datastore.Engine. It connects over c.Socket (TCP if
// empty) as root with the empty post-init password; if that is refused
// (an instance bootstrapped before) it connects as c.User with c.Password.
// Then it
//   - creates c.User (default os_admin) at 'localhost' and '%' with
//     c.Password and ALL PRIVILEGES WITH GRANT OPTION, setting the password
//     again if the account exists;
//   - makes root@localhost authenticate by unix_socket only (so only the
//     OS root user over the socket gets in; no password works);
//   - drops root at every other host, the anonymous accounts and
//     mysql@localhost;
//   - flushes privileges,
//
// all without writing to the binary log.
func (e *Engine) Bootstrap(ctx context.Context, c datastore.Conn) error {
	const op = "mariadb.bootstrap"
	admin := c.User
	if admin == "" {
		admin = adminUser
	}
	if c.Password == "" {
		return fault.New(fault.Invalid, op, "the administrative password must not be empty")
	}
	s, err := open(ctx, c, "root", "", opTimeouts)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("mariadb: bootstrap: %w", err)
		}
		var err2 error
		s, err2 = open(ctx, c, admin, c.Password, opTimeouts)
		if err2 != nil {
			return fmt.Errorf("mariadb: bootstrap: as root: %w; as admin: %w", err, err2)
		}
		e.log.Debug("bootstrap: connected as admin (already bootstrapped)")
	}
	defer s.Close()
	// Not binlogged: on a new source nothing follows yet (replicas start
	// from a backup), and run on a replica it would add transactions of the
	// replica's own to its binary log.
	if err := s.exec(ctx, "SET SESSION sql_log_bin = 0"); err != nil {
		return fmt.Errorf("mariadb: bootstrap: %w", err)
	}

	hash := passwordHash(string(c.Password))
	for _, host := range []string{"localhost", "%"} {
		acct := quoteAccount(admin, host)
		stmts := []string{
			"CREATE USER IF NOT EXISTS " + acct + " IDENTIFIED BY PASSWORD " + quoteString(hash),
			"ALTER USER " + acct + " IDENTIFIED BY PASSWORD " + quoteString(hash),
			"GRANT ALL PRIVILEGES ON *.* TO " + acct + " WITH GRANT OPTION",
		}
		for _, q := range stmts {
			if err := s.exec(ctx, q); err != nil {
				return fmt.Errorf("mariadb: bootstrap: account %s: %w", acct, err)
			}
		}
	}
	if err := s.exec(ctx, "ALTER USER IF EXISTS 'root'@'localhost' IDENTIFIED VIA unix_socket"); err != nil {
		return fmt.Errorf("mariadb: bootstrap: secure root: %w", err)
	}
	accts, err := insecureAccounts(ctx, s)
	if err != nil {
		return fmt.Errorf("mariadb: bootstrap: %w", err)
	}
	for _, a := range accts {
		acct := quoteAccount(a[0], a[1])
		if err := s.exec(ctx, "DROP USER IF EXISTS "+acct); err != nil {
			return fmt.Errorf("mariadb: bootstrap: drop %s: %w", acct, err)
		}
		e.log.Debug("bootstrap: dropped account", "account", acct)
	}
	if err := s.exec(ctx, "FLUSH PRIVILEGES"); err != nil {
		return fmt.Errorf("mariadb: bootstrap: flush privileges: %w", err)
	}
	return nil
}

// insecureAccounts lists the accounts Bootstrap drops as [user, host].
func insecureAccounts(ctx context.Context, s *session) ([][2]string, error) {
	rows, err := s.conn.QueryContext(ctx, `SELECT User, Host FROM mysql.user
		WHERE (User = 'root' AND Host <> 'localhost') OR User = '' OR (User = 'mysql' AND Host = 'localhost')`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var u, h string
		if err := rows.Scan(&u, &h); err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, [2]string{u, h})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// CreateDatabases implements datastore.DatabaseAdmin. Every name is checked with
// ValidateDatabaseName and every character set and collation against the
// server's information_schema before anything is created; an invalid one
// gives a fault.Invalid error with Trove's message. Without a character
// set or collation the server default (utf8mb4, utf8mb4_general_ci)
// applies. Existing databases are left as they are.
func (e *Engine) CreateDatabases(ctx context.Context, c datastore.Conn, dbs []datastore.Database) error {
	for _, db := range dbs {
		if err := ValidateDatabaseName(db.Name); err != nil {
			return err
		}
	}
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, db := range dbs {
		if err := e.createDatabase(ctx, s, db); err != nil {
			return err
		}
	}
	return nil
}

// createDatabase creates one database; its name is only quoted, not
// checked against Trove's rules (CreateDatabases does that).
func (e *Engine) createDatabase(ctx context.Context, s *session, db datastore.Database) error {
	q, err := quoteIdent(db.Name)
	if err != nil {
		return fault.Wrap(fault.Invalid, "mariadb.create_database",
			fmt.Sprintf("'%s' is not a valid database name.", printable(db.Name)), err)
	}
	cs, coll, err := resolveCharset(ctx, s, db.CharacterSet, db.Collate)
	if err != nil {
		return err
	}
	stmt := "CREATE DATABASE IF NOT EXISTS " + q
	if cs != "" {
		stmt += " CHARACTER SET " + quoteString(cs)
	}
	if coll != "" {
		stmt += " COLLATE " + quoteString(coll)
	}
	if err := s.exec(ctx, stmt); err != nil {
		return fmt.Errorf("mariadb: create database %s: %w", q, err)
	}
	e.log.Debug("database created", "database", db.Name)
	return nil
}

// charsetNameRE is what a character set or collation name looks like;
// anything else is refused before it is looked up.
var charsetNameRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// normalizeCharset lower-cases a character set or collation name and
// spells MariaDB's alias utf8 (Trove's default) as utf8mb3, the name
// information_schema uses since 10.6.
func normalizeCharset(name string) string {
	name = strings.ToLower(name)
	if name == "utf8" {
		return "utf8mb3"
	}
	if rest, ok := strings.CutPrefix(name, "utf8_"); ok {
		return "utf8mb3_" + rest
	}
	return name
}

// resolveCharset checks a character set and collation (either may be
// empty) against the server and returns them normalised. Messages are
// Trove's (MySQLSchema.character_set and .collate).
func resolveCharset(ctx context.Context, s *session, charset, collate string) (string, string, error) {
	const op = "mariadb.create_database"
	if charset != "" {
		bad := fault.Errorf(fault.Invalid, op, "'%s' not a valid character set.", printable(charset))
		if !charsetNameRE.MatchString(charset) {
			return "", "", bad
		}
		charset = normalizeCharset(charset)
		var n int
		err := s.conn.QueryRowContext(ctx,
			"SELECT COUNT(*) FROM information_schema.CHARACTER_SETS WHERE CHARACTER_SET_NAME = ?", charset).Scan(&n)
		if err != nil {
			return "", "", fmt.Errorf("mariadb: look up character set: %w", err)
		}
		if n == 0 {
			return "", "", bad
		}
	}
	if collate != "" {
		bad := fault.Errorf(fault.Invalid, op, "'%s' not a valid collation.", printable(collate))
		if !charsetNameRE.MatchString(collate) {
			return "", "", bad
		}
		collate = normalizeCharset(collate)
		var owner string
		err := s.conn.QueryRowContext(ctx,
			"SELECT CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME = ?", collate).Scan(&owner)
		if errors.Is(err, sql.ErrNoRows) {
			return "", "", bad
		}
		if err != nil {
			return "", "", fmt.Errorf("mariadb: look up collation: %w", err)
		}
		if charset != "" && !strings.EqualFold(owner, charset) {
			return "", "", fault.Errorf(fault.Invalid, op, "%s not a valid collation for charset %s.", collate, charset)
		}
		// A collation alone implies its character set.
		charset = strings.ToLower(owner)
	}
	return charset, collate, nil
}

// CreateUsers implements datastore.Engine. All users are validated first
// (ValidateUserName, ValidateHost with "" meaning "%", ValidatePassword,
// ValidateDatabaseName for each database); then each is created if
// missing, gets its password set (so a repeat changes it) and is granted
// ALL PRIVILEGES on each of its databases.
func (e *Engine) CreateUsers(ctx context.Context, c datastore.Conn, users []datastore.User) error {
	for _, u := range users {
		if err := validateUser(u); err != nil {
			return err
		}
	}
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, u := range users {
		if err := e.createUser(ctx, s, u); err != nil {
			return err
		}
	}
	return nil
}

func validateUser(u datastore.User) error {
	if err := ValidateUserName(u.Name); err != nil {
		return err
	}
	if err := ValidateHost(u.Host); err != nil {
		return err
	}
	if err := ValidatePassword(string(u.Password)); err != nil {
		return err
	}
	for _, db := range u.Databases {
		if err := ValidateDatabaseName(db); err != nil {
			return err
		}
	}
	return nil
}

// createUser creates or updates one user; its names are only quoted, not
// checked against Trove's rules (CreateUsers does that).
func (e *Engine) createUser(ctx context.Context, s *session, u datastore.User) error {
	host := u.Host
	if host == "" {
		host = "%"
	}
	acct := quoteAccount(u.Name, host)
	hash := quoteString(passwordHash(string(u.Password)))
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS " + acct + " IDENTIFIED BY PASSWORD " + hash,
		"ALTER USER " + acct + " IDENTIFIED BY PASSWORD " + hash,
	} {
		if err := s.exec(ctx, q); err != nil {
			return fmt.Errorf("mariadb: create user %s: %w", acct, err)
		}
	}
	for _, db := range u.Databases {
		g, err := grantDatabase(db)
		if err != nil {
			return fault.Wrap(fault.Invalid, "mariadb.create_user",
				fmt.Sprintf("'%s' is not a valid database name.", printable(db)), err)
		}
		if err := s.exec(ctx, "GRANT ALL PRIVILEGES ON "+g+".* TO "+acct); err != nil {
			return fmt.Errorf("mariadb: grant %s on %s: %w", acct, g, err)
		}
	}
	e.log.Debug("user created", "user", u.Name, "host", host, "databases", len(u.Databases))
	return nil
}
