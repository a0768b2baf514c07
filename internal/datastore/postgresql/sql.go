package postgresql

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// Connection timeouts: a ping must be quick, operations may wait for locks.
const (
	pingDialTimeout = 2 * time.Second
	opDialTimeout   = 5 * time.Second
	opStmtTimeout   = "30s"
)

// maintenanceDB is the database hoard connects to when it needs none in
// particular; initdb creates it and tenants cannot drop it.
const maintenanceDB = "postgres"

// SQLSTATE codes hoard looks at.
const (
	codeInvalidPassword      = "28P01" // invalid_password
	codeInvalidAuthorization = "28000" // invalid_authorization_specification (no hba line, NOLOGIN)
	codeTooManyConnections   = "53300" // too_many_connections
	codeInvalidCatalogName   = "3D000" // invalid_catalog_name (no such database)
	codeInvalidParameter     = "22023" // invalid_parameter_value (bad encoding or locale)
	codeUndefinedObject      = "42704" // undefined_object (unknown collation)
	codeFeatureNotSupported  = "0A000" // e.g. encoding incompatible with locale
	codeWrongObjectType      = "42809" // wrong_object_type (invalid locale name)
)

// connect opens one connection to c's server (over the socket directory of
// c.Socket when set, else TCP) as user with password, to database db. It
// reads no PG* environment variables or password files and does not try TLS.
func connect(ctx context.Context, c datastore.Conn, user string, password datastore.Secret, db string, dial time.Duration) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("postgresql: config: %w", err)
	}
	if c.Socket != "" {
		cfg.Host = filepath.Dir(c.Socket)
		cfg.Port = socketPort(c)
	} else {
		cfg.Host, cfg.Port = c.Address, uint16(c.Port)
	}
	cfg.User, cfg.Password, cfg.Database = user, string(password), db
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	cfg.ConnectTimeout = dial
	cfg.RuntimeParams = map[string]string{"application_name": "hoard", "statement_timeout": opStmtTimeout}
	cfg.ValidateConnect, cfg.AfterConnect = nil, nil
	// Statements are plain text without parameters where identifiers and
	// verifiers are spliced in; the simple protocol avoids a prepare
	// round trip per statement.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if user == c.User && user != "" {
			switch sqlState(err) {
			case codeInvalidPassword, codeInvalidAuthorization:
				// hoard's own account: changed or dropped inside the instance.
				return nil, fmt.Errorf("postgresql: connect to %s as %q: %w: %w", cfg.Host, user, datastore.ErrAdminLost, err)
			}
		}
		return nil, fmt.Errorf("postgresql: connect to %s as %q: %w", cfg.Host, user, err)
	}
	return conn, nil
}

// socketPort is the port in the socket name ".s.PGSQL.<port>" (c.Port if
// the name does not have that form).
func socketPort(c datastore.Conn) uint16 {
	var p uint16
	if _, err := fmt.Sscanf(filepath.Base(c.Socket), ".s.PGSQL.%d", &p); err == nil && p != 0 {
		return p
	}
	return uint16(c.Port)
}

// sqlState returns the SQLSTATE of err, "" if it has none.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// Ping implements datastore.Engine. It connects as c.User (the admin) to
// the maintenance database and runs SELECT 1. A server that refuses the
// credentials, has no free connection slot or lacks the database is
// alive: nil. A server still starting up (57P03) is not.
func (e *Engine) Ping(ctx context.Context, c datastore.Conn) error {
	user, pw := c.User, c.Password
	if user == "" {
		user = adminUser
	}
	if pw == "" {
		pw = "-" // pgx refuses to run SCRAM without a password
	}
	conn, err := connect(ctx, c, user, pw, maintenanceDB, pingDialTimeout)
	if err == nil {
		var one int
		err = conn.QueryRow(ctx, "SELECT 1").Scan(&one)
		_ = conn.Close(context.WithoutCancel(ctx))
	}
	switch sqlState(err) {
	case "":
		if err == nil {
			return nil
		}
	case codeInvalidPassword, codeInvalidAuthorization, codeTooManyConnections, codeInvalidCatalogName:
		return nil
	}
	return fmt.Errorf("postgresql: ping: %w", err)
}

// execAll runs statements in order; errors name the statement's purpose, not
// its text (which may hold a verifier).
func execAll(ctx context.Context, conn *pgx.Conn, what string, stmts ...string) error {
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("postgresql: %s: %w", what, err)
		}
	}
	return nil
}

// Bootstrap implements datastore.Engine. It connects over c.Socket as the
// bootstrap superuser "postgres" (trusted on the socket; see the package
// doc); if that is refused (bootstrapped before) it connects as c.User
// with c.Password. Then it creates c.User (default os_admin) as a SUPERUSER
// with LOGIN and the SCRAM verifier of c.Password (setting it again if the
// role exists) and makes "postgres" NOLOGIN, which closes the trusted way in.
func (e *Engine) Bootstrap(ctx context.Context, c datastore.Conn) error {
	const op = "postgresql.bootstrap"
	admin := c.User
	if admin == "" {
		admin = adminUser
	}
	if c.Password == "" {
		return fault.New(fault.Invalid, op, "the administrative password must not be empty")
	}
	if err := ValidatePassword(string(c.Password)); err != nil {
		return fault.New(fault.Invalid, op, "the administrative password must be printable ASCII")
	}
	conn, err := connect(ctx, c, bootstrapUser, "", maintenanceDB, opDialTimeout)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("postgresql: bootstrap: %w", err)
		}
		var err2 error
		conn, err2 = connect(ctx, c, admin, c.Password, maintenanceDB, opDialTimeout)
		if err2 != nil {
			return fmt.Errorf("postgresql: bootstrap: as %s: %w; as admin: %w", bootstrapUser, err, err2)
		}
		e.log.Debug("bootstrap: connected as admin (already bootstrapped)")
	}
	defer conn.Close(context.WithoutCancel(ctx))

	verifier, err := scramVerifier(string(c.Password))
	if err != nil {
		return err
	}
	role := pgx.Identifier{admin}.Sanitize()
	exists, err := roleExists(ctx, conn, admin)
	if err != nil {
		return err
	}
	verb := "CREATE ROLE "
	if exists {
		verb = "ALTER ROLE "
	}
	if err := execAll(ctx, conn, "bootstrap: admin role",
		verb+role+" WITH SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS LOGIN PASSWORD "+quoteLiteral(verifier),
	); err != nil {
		return err
	}
	if err := execAll(ctx, conn, "bootstrap: lock "+bootstrapUser,
		"ALTER ROLE "+pgx.Identifier{bootstrapUser}.Sanitize()+" WITH NOLOGIN PASSWORD NULL",
		// Only granted users may connect to tenant databases; the
		// maintenance database is hoard's.
		"REVOKE CONNECT, TEMPORARY ON DATABASE "+pgx.Identifier{maintenanceDB}.Sanitize()+" FROM PUBLIC",
	); err != nil {
		return err
	}
	return nil
}

func roleExists(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = $1", name).Scan(&n); err != nil {
		return false, fmt.Errorf("postgresql: look up role: %w", err)
	}
	return n > 0, nil
}

func databaseExists(ctx context.Context, conn *pgx.Conn, name string) (bool, error) {
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_catalog.pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		return false, fmt.Errorf("postgresql: look up database: %w", err)
	}
	return n > 0, nil
}

// quoteLiteral makes a standard SQL string literal (standard_conforming_strings
// is on, so only quotes are special). Used for values hoard made or
// validated: verifiers, encodings, locales.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// CreateDatabases implements datastore.DatabaseAdmin. Every database is validated
// first. A missing one is created (from template0 when an encoding or
// collation is given, as PostgreSQL requires; LC_COLLATE and LC_CTYPE both
// take the collation), owned by the admin, and CONNECT and TEMPORARY are
// revoked from PUBLIC so that only users granted the database reach it.
// Existing databases are left as they are. An encoding or locale the
// server does not know gives fault.Invalid.
func (e *Engine) CreateDatabases(ctx context.Context, c datastore.Conn, dbs []datastore.Database) error {
	const op = "postgresql.create_database"
	for _, db := range dbs {
		if err := e.ValidateDatabase(db); err != nil {
			return err
		}
	}
	conn, err := connect(ctx, c, c.User, c.Password, maintenanceDB, opDialTimeout)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, db := range dbs {
		ok, err := databaseExists(ctx, conn, db.Name)
		if err != nil {
			return err
		}
		name := pgx.Identifier{db.Name}.Sanitize()
		if !ok {
			stmt := "CREATE DATABASE " + name
			if db.CharacterSet != "" || db.Collate != "" {
				stmt += " TEMPLATE template0"
			}
			if db.CharacterSet != "" {
				stmt += " ENCODING " + quoteLiteral(db.CharacterSet)
			}
			if db.Collate != "" {
				stmt += " LC_COLLATE " + quoteLiteral(db.Collate) + " LC_CTYPE " + quoteLiteral(db.Collate)
			}
			if _, err := conn.Exec(ctx, stmt); err != nil {
				switch sqlState(err) {
				case codeInvalidParameter, codeUndefinedObject, codeFeatureNotSupported, codeWrongObjectType:
					return fault.Wrap(fault.Invalid, op, fmt.Sprintf(
						"Database '%s': the character set '%s' or collation '%s' is not valid on this server.",
						db.Name, printable(db.CharacterSet), printable(db.Collate)), err)
				}
				return fmt.Errorf("postgresql: create database %s: %w", name, err)
			}
			e.log.Debug("database created", "database", db.Name)
		}
		if err := execAll(ctx, conn, "restrict database "+name,
			"REVOKE CONNECT, TEMPORARY ON DATABASE "+name+" FROM PUBLIC"); err != nil {
			return err
		}
		// Root (no superuser) reaches every database, new ones too.
		if err := e.grantRoot(ctx, c, conn, []string{db.Name}); err != nil {
			return err
		}
	}
	return nil
}

// CreateUsers implements datastore.Engine. All users are validated first;
// each role is created with LOGIN and the SCRAM verifier of its password
// (or, if it exists, gets LOGIN and the new verifier) and no other
// attribute. For each of its databases it gets ALL on the database
// (CONNECT, CREATE, TEMPORARY), and inside it USAGE and CREATE on schema
// public and all privileges on what public holds, so it can really create
// and use tables there. Roles without a grant cannot connect (PUBLIC has
// no CONNECT on hoard's databases).
func (e *Engine) CreateUsers(ctx context.Context, c datastore.Conn, users []datastore.User) error {
	for _, u := range users {
		if err := validateUser(u); err != nil {
			return err
		}
	}
	conn, err := connect(ctx, c, c.User, c.Password, maintenanceDB, opDialTimeout)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	perDB := map[string][]string{}
	var dbOrder []string
	for _, u := range users {
		role := pgx.Identifier{u.Name}.Sanitize()
		verifier, err := scramVerifier(string(u.Password))
		if err != nil {
			return err
		}
		exists, err := roleExists(ctx, conn, u.Name)
		if err != nil {
			return err
		}
		verb := "CREATE ROLE "
		if exists {
			verb = "ALTER ROLE "
		}
		if err := execAll(ctx, conn, "create user "+role,
			verb+role+" WITH LOGIN PASSWORD "+quoteLiteral(verifier)); err != nil {
			return err
		}
		for _, db := range u.Databases {
			if err := execAll(ctx, conn, "grant database to "+role,
				"GRANT ALL ON DATABASE "+pgx.Identifier{db}.Sanitize()+" TO "+role); err != nil {
				if sqlState(err) == codeInvalidCatalogName {
					return fault.Wrap(fault.Invalid, "postgresql.create_user",
						fmt.Sprintf("Database '%s' does not exist.", db), err)
				}
				return err
			}
			if _, ok := perDB[db]; !ok {
				dbOrder = append(dbOrder, db)
			}
			perDB[db] = append(perDB[db], role)
		}
		e.log.Debug("user created", "user", u.Name, "databases", len(u.Databases))
	}
	for _, db := range dbOrder {
		if err := e.grantSchema(ctx, c, db, perDB[db]); err != nil {
			return err
		}
	}
	return nil
}

// grantSchema gives roles the use of schema public inside db.
func (e *Engine) grantSchema(ctx context.Context, c datastore.Conn, db string, roles []string) error {
	conn, err := connect(ctx, c, c.User, c.Password, db, opDialTimeout)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	list := strings.Join(roles, ", ")
	return execAll(ctx, conn, "grant schema public in "+pgx.Identifier{db}.Sanitize(),
		"GRANT ALL ON SCHEMA public TO "+list,
		"GRANT ALL ON ALL TABLES IN SCHEMA public TO "+list,
		"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "+list,
		"GRANT ALL ON ALL FUNCTIONS IN SCHEMA public TO "+list,
	)
}
