package postgresql

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// This file implements the optional capabilities datastore.DatabaseAdmin,
// datastore.UserAdmin and datastore.RootAdmin. As everywhere in this
// package, names reach the server only as pgx.Identifier-quoted
// identifiers or bound parameters, passwords only as SCRAM verifiers, and
// every name is checked with the package's rules first, so reserved roles
// and databases cannot be addressed at all.
//
// Access to a database is its CONNECT privilege (PUBLIC has none on
// hoard's databases): a user "has" a database when it holds CONNECT there,
// granted by CreateUsers or GrantAccess together with TEMPORARY, CREATE
// and the use of schema public. Revoking takes all of that away and ends
// the user's sessions on the database, so it can neither connect nor go
// on working there.
//
// PostgreSQL roles are not per host (pg_hba.conf decides where from): the
// only host is "%" ("" means "%"); any other is refused with
// fault.Invalid, and users are listed with host "%".

var (
	_ datastore.DatabaseAdmin = (*Engine)(nil)
	_ datastore.UserAdmin     = (*Engine)(nil)
	_ datastore.RootAdmin     = (*Engine)(nil)
)

// rootUser is the network superuser EnableRoot creates. hoard uses "root"
// (as for MariaDB) rather than Trove's "postgres": "postgres" is initdb's
// bootstrap superuser, trusted on the local socket and kept NOLOGIN by
// Bootstrap, and must stay that way.
const rootUser = "root"

// anyHost is the host every PostgreSQL user is shown with.
const anyHost = "%"

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// databaseNotFound is the 404 for a missing database.
func databaseNotFound(op, name string) error {
	return fault.Wrap(fault.NotFound, op,
		fmt.Sprintf("Database %s cannot be found on the instance.", printable(name)), datastore.ErrDatabaseNotFound)
}

// userNotFound is the 404 for a missing user.
func userNotFound(op, name string) error {
	return fault.Wrap(fault.NotFound, op,
		fmt.Sprintf("User %s@%s cannot be found on the instance.", printable(name), anyHost), datastore.ErrUserNotFound)
}

// hiddenRole reports whether a role is never shown: reserved names
// (including hoard's admin and root) and PostgreSQL's pg_* roles.
func hiddenRole(name string) bool {
	l := strings.ToLower(name)
	return slices.Contains(reservedUsers, l) || strings.HasPrefix(l, "pg_")
}

// admin connects as c's admin to database db.
func adminConn(ctx context.Context, c datastore.Conn, db string) (*pgx.Conn, error) {
	return connect(ctx, c, c.User, c.Password, db, opDialTimeout)
}

// ListDatabases implements datastore.DatabaseAdmin: every database but
// the reserved ones, with its encoding and collation, sorted by name.
func (e *Engine) ListDatabases(ctx context.Context, c datastore.Conn) ([]datastore.Database, error) {
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, "SELECT datname, pg_encoding_to_char(encoding), datcollate FROM pg_catalog.pg_database")
	if err != nil {
		return nil, fmt.Errorf("postgresql: list databases: %w", err)
	}
	var out []datastore.Database
	for rows.Next() {
		var d datastore.Database
		if err := rows.Scan(&d.Name, &d.CharacterSet, &d.Collate); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgresql: list databases: %w", err)
		}
		if !slices.Contains(reservedDatabases, d.Name) {
			out = append(out, d)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgresql: list databases: %w", err)
	}
	slices.SortFunc(out, func(a, b datastore.Database) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteDatabase implements datastore.DatabaseAdmin. The database is
// dropped WITH (FORCE): sessions still connected to it are ended. The
// privileges users held on it go with it.
func (e *Engine) DeleteDatabase(ctx context.Context, c datastore.Conn, name string) error {
	const op = "postgresql.delete_database"
	if err := ValidateDatabaseName(name); err != nil {
		return err
	}
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ok, err := databaseExists(ctx, conn, name)
	if err != nil {
		return err
	}
	if !ok {
		return databaseNotFound(op, name)
	}
	if err := execAll(ctx, conn, "drop database "+ident(name), "DROP DATABASE "+ident(name)+" WITH (FORCE)"); err != nil {
		return err
	}
	e.log.Debug("database dropped", "database", name)
	return nil
}

// connectGrants returns, by role name, the sorted non-reserved databases
// each role holds CONNECT on (roles empty: every role).
func connectGrants(ctx context.Context, conn *pgx.Conn, role string) (map[string][]string, error) {
	q := "SELECT r.rolname, d.datname FROM pg_catalog.pg_database d" +
		" CROSS JOIN LATERAL aclexplode(d.datacl) a JOIN pg_catalog.pg_roles r ON r.oid = a.grantee" +
		" WHERE a.privilege_type = 'CONNECT'"
	var args []any
	if role != "" {
		q += " AND r.rolname = $1"
		args = append(args, role)
	}
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgresql: list grants: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var r, d string
		if err := rows.Scan(&r, &d); err != nil {
			return nil, fmt.Errorf("postgresql: list grants: %w", err)
		}
		if !slices.Contains(reservedDatabases, d) && !slices.Contains(out[r], d) {
			out[r] = append(out[r], d)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgresql: list grants: %w", err)
	}
	for _, dbs := range out {
		slices.Sort(dbs)
	}
	return out, nil
}

// ListUsers implements datastore.UserAdmin: every role but the hidden
// ones, with host "%", sorted by name.
func (e *Engine) ListUsers(ctx context.Context, c datastore.Conn) ([]datastore.UserInfo, error) {
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, "SELECT rolname FROM pg_catalog.pg_roles")
	if err != nil {
		return nil, fmt.Errorf("postgresql: list users: %w", err)
	}
	var out []datastore.UserInfo
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgresql: list users: %w", err)
		}
		if !hiddenRole(n) && n != c.User {
			out = append(out, datastore.UserInfo{Name: n, Host: anyHost})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgresql: list users: %w", err)
	}
	grants, err := connectGrants(ctx, conn, "")
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Databases = grants[out[i].Name]
	}
	slices.SortFunc(out, func(a, b datastore.UserInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// checkRole validates an addressed user (name and host).
func checkRole(name, host string) error {
	if err := ValidateUserName(name); err != nil {
		return err
	}
	return ValidateHost(host)
}

// openExisting validates name@host, connects to the maintenance database
// and checks that the role exists.
func openExisting(ctx context.Context, c datastore.Conn, op, name, host string) (*pgx.Conn, error) {
	if err := checkRole(name, host); err != nil {
		return nil, err
	}
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return nil, err
	}
	ok, err := roleExists(ctx, conn, name)
	if err == nil && !ok {
		err = userNotFound(op, name)
	}
	if err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return conn, nil
}

// GetUser implements datastore.UserAdmin.
func (e *Engine) GetUser(ctx context.Context, c datastore.Conn, name, host string) (datastore.UserInfo, error) {
	conn, err := openExisting(ctx, c, "postgresql.get_user", name, host)
	if err != nil {
		return datastore.UserInfo{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	grants, err := connectGrants(ctx, conn, name)
	if err != nil {
		return datastore.UserInfo{}, err
	}
	return datastore.UserInfo{Name: name, Host: anyHost, Databases: grants[name]}, nil
}

// UpdateUser implements datastore.UserAdmin. A rename is ALTER ROLE ...
// RENAME TO, which keeps the role's privileges and objects, and its
// password: SCRAM verifiers do not depend on the role name (only MD5
// ones do, and PostgreSQL clears those on rename; hoard stores SCRAM
// only). A new name that is taken is a fault.Invalid error; the host can
// only be "%".
func (e *Engine) UpdateUser(ctx context.Context, c datastore.Conn, name, host string, ch datastore.UserChange) error {
	const op = "postgresql.update_user"
	if ch.Name != "" {
		if err := ValidateUserName(ch.Name); err != nil {
			return err
		}
	}
	if err := ValidateHost(ch.Host); err != nil {
		return err
	}
	if ch.Password != "" {
		if err := ValidatePassword(string(ch.Password)); err != nil {
			return err
		}
	}
	conn, err := openExisting(ctx, c, op, name, host)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	role := name
	if newName := cmp.Or(ch.Name, name); newName != name {
		taken, err := roleExists(ctx, conn, newName)
		if err != nil {
			return err
		}
		if taken {
			return fault.Errorf(fault.Invalid, op, "A user with the name \"%s\" already exists.", printable(newName))
		}
		if err := execAll(ctx, conn, "rename user "+ident(name), "ALTER ROLE "+ident(name)+" RENAME TO "+ident(newName)); err != nil {
			return err
		}
		role = newName
	}
	if ch.Password != "" {
		verifier, err := scramVerifier(string(ch.Password))
		if err != nil {
			return err
		}
		if err := execAll(ctx, conn, "set password of "+ident(role), "ALTER ROLE "+ident(role)+" WITH PASSWORD "+quoteLiteral(verifier)); err != nil {
			return err
		}
	}
	e.log.Debug("user updated", "user", name, "renamed", role != name, "password", ch.Password != "")
	return nil
}

// terminate ends the sessions of role (on database db if not empty).
func terminate(ctx context.Context, conn *pgx.Conn, role, db string) error {
	q := "SELECT count(pg_terminate_backend(pid)) FROM pg_catalog.pg_stat_activity WHERE usename = $1"
	args := []any{role}
	if db != "" {
		q += " AND datname = $2"
		args = append(args, db)
	}
	var n int
	if err := conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return fmt.Errorf("postgresql: end sessions of %s: %w", ident(role), err)
	}
	return nil
}

// dropRole drops a role that may own objects and hold privileges in any
// database: its sessions are ended, and in every database that allows
// connections what it owns is given to the admin (REASSIGN OWNED, so a
// user's tables outlive it, as in MySQL) and its privileges are revoked
// (DROP OWNED), so that DROP ROLE succeeds.
func (e *Engine) dropRole(ctx context.Context, c datastore.Conn, conn *pgx.Conn, name string) error {
	role := ident(name)
	if err := terminate(ctx, conn, name, ""); err != nil {
		return err
	}
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn")
	if err != nil {
		return fmt.Errorf("postgresql: list databases: %w", err)
	}
	dbs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("postgresql: list databases: %w", err)
	}
	for _, db := range dbs {
		dc, err := adminConn(ctx, c, db)
		if err != nil {
			return err
		}
		err = execAll(ctx, dc, "release objects of "+role+" in "+ident(db),
			"REASSIGN OWNED BY "+role+" TO CURRENT_USER", "DROP OWNED BY "+role)
		_ = dc.Close(context.WithoutCancel(ctx))
		if err != nil {
			return err
		}
	}
	return execAll(ctx, conn, "drop user "+role, "DROP ROLE "+role)
}

// DeleteUser implements datastore.UserAdmin: the role's sessions end, its
// objects go to the admin, and the role is dropped.
func (e *Engine) DeleteUser(ctx context.Context, c datastore.Conn, name, host string) error {
	conn, err := openExisting(ctx, c, "postgresql.delete_user", name, host)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := e.dropRole(ctx, c, conn, name); err != nil {
		return err
	}
	e.log.Debug("user dropped", "user", name)
	return nil
}

// GrantAccess implements datastore.UserAdmin: the grants of CreateUsers
// (ALL on the database, and the use of schema public in it). Every
// database must exist.
func (e *Engine) GrantAccess(ctx context.Context, c datastore.Conn, name, host string, dbs []string) error {
	const op = "postgresql.grant_access"
	for _, db := range dbs {
		if err := ValidateDatabaseName(db); err != nil {
			return err
		}
	}
	conn, err := openExisting(ctx, c, op, name, host)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, db := range dbs {
		ok, err := databaseExists(ctx, conn, db)
		if err != nil {
			return err
		}
		if !ok {
			return databaseNotFound(op, db)
		}
	}
	role := ident(name)
	for _, db := range dbs {
		if err := execAll(ctx, conn, "grant database to "+role, "GRANT ALL ON DATABASE "+ident(db)+" TO "+role); err != nil {
			return err
		}
		if err := e.grantSchema(ctx, c, db, []string{role}); err != nil {
			return err
		}
	}
	e.log.Debug("access granted", "user", name, "databases", len(dbs))
	return nil
}

// RevokeAccess implements datastore.UserAdmin: the role loses every
// privilege on the database and on schema public and its contents there,
// and its sessions on the database end. Objects it created there stay its
// own, out of its reach while it cannot connect.
func (e *Engine) RevokeAccess(ctx context.Context, c datastore.Conn, name, host, db string) error {
	const op = "postgresql.revoke_access"
	if err := ValidateDatabaseName(db); err != nil {
		return err
	}
	conn, err := openExisting(ctx, c, op, name, host)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	grants, err := connectGrants(ctx, conn, name)
	if err != nil {
		return err
	}
	if !slices.Contains(grants[name], db) {
		return fault.Wrap(fault.NotFound, op,
			fmt.Sprintf("Database %s cannot be found on the instance.", printable(db)), datastore.ErrAccessNotFound)
	}
	role := ident(name)
	if err := execAll(ctx, conn, "revoke database from "+role, "REVOKE ALL ON DATABASE "+ident(db)+" FROM "+role); err != nil {
		return err
	}
	if err := terminate(ctx, conn, name, db); err != nil {
		return err
	}
	dc, err := adminConn(ctx, c, db)
	if err != nil {
		return err
	}
	defer dc.Close(context.WithoutCancel(ctx))
	if err := execAll(ctx, dc, "revoke schema public in "+ident(db)+" from "+role,
		"REVOKE ALL ON SCHEMA public FROM "+role,
		"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "+role,
		"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM "+role,
		"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM "+role,
	); err != nil {
		return err
	}
	e.log.Debug("access revoked", "user", name)
	return nil
}

// RootUser implements datastore.RootAdmin.
func (e *Engine) RootUser() string { return rootUser }

// EnableRoot implements datastore.RootAdmin: the role root, with LOGIN and
// the SCRAM verifier of password (created, or updated if it exists), the
// master user of a managed PostgreSQL rather than a superuser: CREATEDB,
// CREATEROLE, the predefined roles that read and write every table and
// watch and signal the server (rootRoles), and all privileges on every
// database. It is never SUPERUSER, so it cannot run programs, read or
// write server files, load untrusted code, ALTER SYSTEM, or change hoard's
// superuser account; memberships in the roles that allow server programs
// and files are revoked each time. pg_hba.conf lets it in from any address
// with its password.
func (e *Engine) EnableRoot(ctx context.Context, c datastore.Conn, password datastore.Secret) error {
	if err := ValidatePassword(string(password)); err != nil {
		return err
	}
	verifier, err := scramVerifier(string(password))
	if err != nil {
		return err
	}
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	exists, err := roleExists(ctx, conn, rootUser)
	if err != nil {
		return err
	}
	verb := "CREATE ROLE "
	if exists {
		verb = "ALTER ROLE "
	}
	role := ident(rootUser)
	if err := execAll(ctx, conn, "enable root",
		verb+role+" WITH NOSUPERUSER CREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS LOGIN PASSWORD "+quoteLiteral(verifier)); err != nil {
		return err
	}
	grant, revoke, err := predefinedRoles(ctx, conn)
	if err != nil {
		return err
	}
	if len(grant) > 0 {
		if err := execAll(ctx, conn, "enable root: roles", "GRANT "+strings.Join(grant, ", ")+" TO "+role); err != nil {
			return err
		}
	}
	for _, r := range revoke {
		if err := execAll(ctx, conn, "enable root: revoke "+r, "REVOKE "+r+" FROM "+role); err != nil {
			return err
		}
	}
	dbs, err := connectableDatabases(ctx, conn)
	if err != nil {
		return err
	}
	if err := e.grantRoot(ctx, c, conn, dbs); err != nil {
		return err
	}
	e.log.Debug("root enabled")
	return nil
}

// rootRoles are the predefined roles root is a member of, where the
// server has them (pg_read_all_data and pg_write_all_data since 14,
// pg_checkpoint since 15).
var rootRoles = []string{"pg_monitor", "pg_signal_backend", "pg_read_all_data", "pg_write_all_data", "pg_checkpoint"}

// serverAccessRoles are the predefined roles that run programs and read
// or write files as the server: root never holds them. (With CREATEROLE,
// PostgreSQL before 16 lets root grant them to itself; the server's OS
// user is the instance's own, so even then nothing outside the instance
// is reached, and the next root enable revokes them.)
var serverAccessRoles = []string{"pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"}

// predefinedRoles returns the rootRoles and serverAccessRoles this server
// has, quoted.
func predefinedRoles(ctx context.Context, conn *pgx.Conn) (grant, revoke []string, err error) {
	for _, r := range rootRoles {
		ok, err := roleExists(ctx, conn, r)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			grant = append(grant, ident(r))
		}
	}
	for _, r := range serverAccessRoles {
		ok, err := roleExists(ctx, conn, r)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			revoke = append(revoke, ident(r))
		}
	}
	return grant, revoke, nil
}

// connectableDatabases lists the databases that accept connections.
func connectableDatabases(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname")
	if err != nil {
		return nil, fmt.Errorf("postgresql: list databases: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgresql: list databases: %w", err)
	}
	return names, nil
}

// grantRoot gives root, if it exists, all privileges on each database of
// dbs and on schema public there (the maintenance database: CONNECT only),
// as a superuser would have had. conn is the admin's, on the maintenance
// database.
func (e *Engine) grantRoot(ctx context.Context, c datastore.Conn, conn *pgx.Conn, dbs []string) error {
	exists, err := roleExists(ctx, conn, rootUser)
	if err != nil || !exists {
		return err
	}
	role := ident(rootUser)
	for _, db := range dbs {
		if db == maintenanceDB {
			if err := execAll(ctx, conn, "root: connect "+db, "GRANT CONNECT ON DATABASE "+ident(db)+" TO "+role); err != nil {
				return err
			}
			continue
		}
		if err := execAll(ctx, conn, "root: database "+db, "GRANT ALL ON DATABASE "+ident(db)+" TO "+role); err != nil {
			return err
		}
		if err := e.grantSchema(ctx, c, db, []string{role}); err != nil {
			return err
		}
	}
	return nil
}

// DisableRoot implements datastore.RootAdmin: root's sessions end, what
// it owns goes to the admin, and the role is dropped.
func (e *Engine) DisableRoot(ctx context.Context, c datastore.Conn) error {
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	exists, err := roleExists(ctx, conn, rootUser)
	if err != nil || !exists {
		return err
	}
	if err := e.dropRole(ctx, c, conn, rootUser); err != nil {
		return err
	}
	e.log.Debug("root disabled")
	return nil
}

// RootEnabled implements datastore.RootAdmin: whether root exists.
func (e *Engine) RootEnabled(ctx context.Context, c datastore.Conn) (bool, error) {
	conn, err := adminConn(ctx, c, maintenanceDB)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return roleExists(ctx, conn, rootUser)
}
