package mariadb

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// This file implements the optional capabilities datastore.DatabaseAdmin,
// datastore.UserAdmin and datastore.RootAdmin. As everywhere in this
// package, names reach the server only through quoteIdent, quoteAccount
// and grantDatabase (or as bound parameters of queries), passwords only as
// passwordHash. Every name is checked with Trove's rules first, so reserved
// accounts and databases cannot be addressed at all.

var (
	_ datastore.DatabaseAdmin = (*Engine)(nil)
	_ datastore.UserAdmin     = (*Engine)(nil)
	_ datastore.RootAdmin     = (*Engine)(nil)
)

// rootUser is the network superuser EnableRoot creates.
const rootUser = "root"

// rootHost is where the enabled root may connect from: anywhere.
const rootHost = "%"

// ListDatabases implements datastore.DatabaseAdmin: every database but
// the reserved (system) ones, sorted by name (byte order, as the API
// pages by name).
func (e *Engine) ListDatabases(ctx context.Context, c datastore.Conn) ([]datastore.Database, error) {
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rows, err := s.conn.QueryContext(ctx,
		"SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA")
	if err != nil {
		return nil, fmt.Errorf("mariadb: list databases: %w", err)
	}
	defer rows.Close()
	var out []datastore.Database
	for rows.Next() {
		var d datastore.Database
		if err := rows.Scan(&d.Name, &d.CharacterSet, &d.Collate); err != nil {
			return nil, fmt.Errorf("mariadb: list databases: %w", err)
		}
		if !slices.Contains(reservedDatabases, d.Name) {
			out = append(out, d)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mariadb: list databases: %w", err)
	}
	slices.SortFunc(out, func(a, b datastore.Database) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// databaseExists reports whether a database of exactly this name exists
// (information_schema compares case-insensitively; the exact comparison
// is done here).
func databaseExists(ctx context.Context, s *session, name string) (bool, error) {
	rows, err := s.conn.QueryContext(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name)
	if err != nil {
		return false, fmt.Errorf("mariadb: look up database: %w", err)
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return false, fmt.Errorf("mariadb: look up database: %w", err)
		}
		found = found || n == name
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("mariadb: look up database: %w", err)
	}
	return found, nil
}

// databaseNotFound is the 404 for a missing database.
func databaseNotFound(op, name string) error {
	return fault.Wrap(fault.NotFound, op,
		fmt.Sprintf("Database %s cannot be found on the instance.", printable(name)), datastore.ErrDatabaseNotFound)
}

// userNotFound is the 404 for a missing user.
func userNotFound(op, name, host string) error {
	return fault.Wrap(fault.NotFound, op,
		fmt.Sprintf("User %s@%s cannot be found on the instance.", printable(name), printable(host)), datastore.ErrUserNotFound)
}

// DeleteDatabase implements datastore.DatabaseAdmin. The grants users
// held on the database are revoked too, so that a later database of the
// same name does not silently open to them.
func (e *Engine) DeleteDatabase(ctx context.Context, c datastore.Conn, name string) error {
	const op = "mariadb.delete_database"
	if err := ValidateDatabaseName(name); err != nil {
		return err
	}
	q, err := quoteIdent(name)
	if err != nil {
		return fault.Wrap(fault.Invalid, op, fmt.Sprintf("'%s' is not a valid database name.", printable(name)), err)
	}
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	ok, err := databaseExists(ctx, s, name)
	if err != nil {
		return err
	}
	if !ok {
		return databaseNotFound(op, name)
	}
	grants, err := databaseGrants(ctx, s, name)
	if err != nil {
		return err
	}
	for _, g := range grants {
		if err := revokeGrant(ctx, s, g); err != nil {
			return err
		}
	}
	if err := s.exec(ctx, "DROP DATABASE "+q); err != nil {
		return fmt.Errorf("mariadb: drop database %s: %w", q, err)
	}
	e.log.Debug("database dropped", "database", name)
	return nil
}

// grant is one database-level grant row of mysql.db: Db is the stored
// pattern (with '_' and '%' escaped when hoard granted it).
type grant struct{ user, host, db string }

// escapeGrantDB is the stored form of a database name granted by
// grantDatabase.
func escapeGrantDB(name string) string {
	return strings.NewReplacer(`\`, `\\`, `_`, `\_`, `%`, `\%`).Replace(name)
}

// unescapeGrantDB reverses escapeGrantDB.
func unescapeGrantDB(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			i++
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// databaseGrants lists the grant rows on database name, in its escaped and
// its literal form.
func databaseGrants(ctx context.Context, s *session, name string) ([]grant, error) {
	return queryGrants(ctx, s, "SELECT User, Host, Db FROM mysql.db WHERE Db = ? OR Db = ?",
		func(g grant) bool { return g.db == name || g.db == escapeGrantDB(name) }, escapeGrantDB(name), name)
}

// userGrants lists the database-level grant rows of one account.
func userGrants(ctx context.Context, s *session, name, host string) ([]grant, error) {
	return queryGrants(ctx, s, "SELECT User, Host, Db FROM mysql.db WHERE User = ? AND Host = ?",
		func(g grant) bool { return g.user == name && strings.EqualFold(g.host, host) }, name, host)
}

// queryGrants runs a mysql.db query and keeps the rows keep accepts
// (mysql.db compares some columns case-insensitively).
func queryGrants(ctx context.Context, s *session, q string, keep func(grant) bool, args ...any) ([]grant, error) {
	rows, err := s.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("mariadb: list grants: %w", err)
	}
	defer rows.Close()
	var out []grant
	for rows.Next() {
		var g grant
		if err := rows.Scan(&g.user, &g.host, &g.db); err != nil {
			return nil, fmt.Errorf("mariadb: list grants: %w", err)
		}
		if keep(g) {
			out = append(out, g)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mariadb: list grants: %w", err)
	}
	return out, nil
}

// revokeGrant revokes one stored grant row, naming the database exactly as
// stored.
func revokeGrant(ctx context.Context, s *session, g grant) error {
	q, err := quoteIdent(g.db)
	if err != nil {
		return fmt.Errorf("mariadb: revoke: stored grant on an unquotable database: %w", err)
	}
	acct := quoteAccount(g.user, g.host)
	if err := s.exec(ctx, "REVOKE ALL PRIVILEGES ON "+q+".* FROM "+acct); err != nil {
		return fmt.Errorf("mariadb: revoke %s on %s: %w", acct, q, err)
	}
	return nil
}

// hiddenUser reports whether an account is never shown: reserved names,
// hoard's admin account and the anonymous user.
func hiddenUser(name string) bool {
	return name == "" || name == adminUser || slices.Contains(reservedUsers, name)
}

// ListUsers implements datastore.UserAdmin.
func (e *Engine) ListUsers(ctx context.Context, c datastore.Conn) ([]datastore.UserInfo, error) {
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rows, err := s.conn.QueryContext(ctx, "SELECT User, Host FROM mysql.user WHERE is_role = 'N'")
	if err != nil {
		return nil, fmt.Errorf("mariadb: list users: %w", err)
	}
	var out []datastore.UserInfo
	for rows.Next() {
		var u datastore.UserInfo
		if err := rows.Scan(&u.Name, &u.Host); err != nil {
			rows.Close()
			return nil, fmt.Errorf("mariadb: list users: %w", err)
		}
		if !hiddenUser(u.Name) {
			out = append(out, u)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mariadb: list users: %w", err)
	}
	grants, err := queryGrants(ctx, s, "SELECT User, Host, Db FROM mysql.db", func(grant) bool { return true })
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Databases = grantedDatabases(grants, out[i].Name, out[i].Host)
	}
	slices.SortFunc(out, func(a, b datastore.UserInfo) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Host, b.Host))
	})
	return out, nil
}

// grantedDatabases returns the sorted, unescaped databases of one
// account's grants, without reserved databases.
func grantedDatabases(grants []grant, name, host string) []string {
	var dbs []string
	for _, g := range grants {
		if g.user != name || !strings.EqualFold(g.host, host) {
			continue
		}
		db := unescapeGrantDB(g.db)
		if !slices.Contains(reservedDatabases, db) && !slices.Contains(dbs, db) {
			dbs = append(dbs, db)
		}
	}
	slices.Sort(dbs)
	return dbs
}

// checkAccount validates an addressed account (host "" means "%") and
// returns its host.
func checkAccount(name, host string) (string, error) {
	if host == "" {
		host = "%"
	}
	if err := ValidateUserName(name); err != nil {
		return "", err
	}
	if err := ValidateHost(host); err != nil {
		return "", err
	}
	return host, nil
}

// userExists reports whether the account name@host exists.
func userExists(ctx context.Context, s *session, name, host string) (bool, error) {
	rows, err := s.conn.QueryContext(ctx, "SELECT User, Host FROM mysql.user WHERE User = ? AND Host = ?", name, host)
	if err != nil {
		return false, fmt.Errorf("mariadb: look up user: %w", err)
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var u, h string
		if err := rows.Scan(&u, &h); err != nil {
			return false, fmt.Errorf("mariadb: look up user: %w", err)
		}
		found = found || (u == name && strings.EqualFold(h, host))
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("mariadb: look up user: %w", err)
	}
	return found, nil
}

// openExisting validates name@host, connects and checks the account
// exists.
func (e *Engine) openExisting(ctx context.Context, c datastore.Conn, op, name, host string) (*session, string, error) {
	host, err := checkAccount(name, host)
	if err != nil {
		return nil, "", err
	}
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return nil, "", err
	}
	ok, err := userExists(ctx, s, name, host)
	if err == nil && !ok {
		err = userNotFound(op, name, host)
	}
	if err != nil {
		_ = s.Close()
		return nil, "", err
	}
	return s, host, nil
}

// GetUser implements datastore.UserAdmin.
func (e *Engine) GetUser(ctx context.Context, c datastore.Conn, name, host string) (datastore.UserInfo, error) {
	s, host, err := e.openExisting(ctx, c, "mariadb.get_user", name, host)
	if err != nil {
		return datastore.UserInfo{}, err
	}
	defer s.Close()
	grants, err := userGrants(ctx, s, name, host)
	if err != nil {
		return datastore.UserInfo{}, err
	}
	return datastore.UserInfo{Name: name, Host: host, Databases: grantedDatabases(grants, name, host)}, nil
}

// UpdateUser implements datastore.UserAdmin: RENAME USER keeps the grants;
// a new name@host that is taken is a fault.Invalid error.
func (e *Engine) UpdateUser(ctx context.Context, c datastore.Conn, name, host string, ch datastore.UserChange) error {
	const op = "mariadb.update_user"
	if ch.Name != "" {
		if err := ValidateUserName(ch.Name); err != nil {
			return err
		}
	}
	if ch.Host != "" {
		if err := ValidateHost(ch.Host); err != nil {
			return err
		}
	}
	if ch.Password != "" {
		if err := ValidatePassword(string(ch.Password)); err != nil {
			return err
		}
	}
	s, host, err := e.openExisting(ctx, c, op, name, host)
	if err != nil {
		return err
	}
	defer s.Close()
	newName, newHost := cmp.Or(ch.Name, name), cmp.Or(ch.Host, host)
	acct := quoteAccount(name, host)
	if newName != name || !strings.EqualFold(newHost, host) {
		taken, err := userExists(ctx, s, newName, newHost)
		if err != nil {
			return err
		}
		if taken {
			return fault.Errorf(fault.Invalid, op, "A user with the name \"%s\" already exists.", printable(newName+"@"+newHost))
		}
		to := quoteAccount(newName, newHost)
		if err := s.exec(ctx, "RENAME USER "+acct+" TO "+to); err != nil {
			return fmt.Errorf("mariadb: rename user %s: %w", acct, err)
		}
		acct = to
	}
	if ch.Password != "" {
		if err := s.exec(ctx, "ALTER USER "+acct+" IDENTIFIED BY PASSWORD "+quoteString(passwordHash(string(ch.Password)))); err != nil {
			return fmt.Errorf("mariadb: set password of %s: %w", acct, err)
		}
	}
	e.log.Debug("user updated", "user", name, "host", host, "renamed", newName != name || newHost != host, "password", ch.Password != "")
	return nil
}

// DeleteUser implements datastore.UserAdmin.
func (e *Engine) DeleteUser(ctx context.Context, c datastore.Conn, name, host string) error {
	s, host, err := e.openExisting(ctx, c, "mariadb.delete_user", name, host)
	if err != nil {
		return err
	}
	defer s.Close()
	acct := quoteAccount(name, host)
	if err := s.exec(ctx, "DROP USER "+acct); err != nil {
		return fmt.Errorf("mariadb: drop user %s: %w", acct, err)
	}
	e.log.Debug("user dropped", "user", name, "host", host)
	return nil
}

// GrantAccess implements datastore.UserAdmin. Every database must exist.
func (e *Engine) GrantAccess(ctx context.Context, c datastore.Conn, name, host string, dbs []string) error {
	const op = "mariadb.grant_access"
	for _, db := range dbs {
		if err := ValidateDatabaseName(db); err != nil {
			return err
		}
	}
	s, host, err := e.openExisting(ctx, c, op, name, host)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, db := range dbs {
		ok, err := databaseExists(ctx, s, db)
		if err != nil {
			return err
		}
		if !ok {
			return databaseNotFound(op, db)
		}
	}
	acct := quoteAccount(name, host)
	for _, db := range dbs {
		g, err := grantDatabase(db)
		if err != nil {
			return fault.Wrap(fault.Invalid, op, fmt.Sprintf("'%s' is not a valid database name.", printable(db)), err)
		}
		if err := s.exec(ctx, "GRANT ALL PRIVILEGES ON "+g+".* TO "+acct); err != nil {
			return fmt.Errorf("mariadb: grant %s on %s: %w", acct, g, err)
		}
	}
	e.log.Debug("access granted", "user", name, "host", host, "databases", len(dbs))
	return nil
}

// RevokeAccess implements datastore.UserAdmin.
func (e *Engine) RevokeAccess(ctx context.Context, c datastore.Conn, name, host, db string) error {
	const op = "mariadb.revoke_access"
	if err := ValidateDatabaseName(db); err != nil {
		return err
	}
	s, host, err := e.openExisting(ctx, c, op, name, host)
	if err != nil {
		return err
	}
	defer s.Close()
	grants, err := userGrants(ctx, s, name, host)
	if err != nil {
		return err
	}
	found := false
	for _, g := range grants {
		if g.db == db || g.db == escapeGrantDB(db) {
			if err := revokeGrant(ctx, s, g); err != nil {
				return err
			}
			found = true
		}
	}
	if !found {
		return fault.Wrap(fault.NotFound, op,
			fmt.Sprintf("Database %s cannot be found on the instance.", printable(db)), datastore.ErrAccessNotFound)
	}
	e.log.Debug("access revoked", "user", name, "host", host)
	return nil
}

// RootUser implements datastore.RootAdmin.
func (e *Engine) RootUser() string { return rootUser }

// EnableRoot implements datastore.RootAdmin: root@'%' with ALL PRIVILEGES
// WITH GRANT OPTION, but for the privilege that lets an account write
// despite read_only (READ_ONLY ADMIN; see readOnlyBypass), so that root
// cannot write on a replica either (replication.go). Root can therefore
// not GRANT ALL PRIVILEGES ON *.* to others (it can grant everything else,
// and ALL PRIVILEGES on a database). root@localhost keeps authenticating
// by unix_socket only (Bootstrap), so the password works over the network.
func (e *Engine) EnableRoot(ctx context.Context, c datastore.Conn, password datastore.Secret) error {
	if err := ValidatePassword(string(password)); err != nil {
		return err
	}
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	acct := quoteAccount(rootUser, rootHost)
	hash := quoteString(passwordHash(string(password)))
	for _, q := range []string{
		"CREATE USER IF NOT EXISTS " + acct + " IDENTIFIED BY PASSWORD " + hash,
		"ALTER USER " + acct + " IDENTIFIED BY PASSWORD " + hash,
		"GRANT ALL PRIVILEGES ON *.* TO " + acct + " WITH GRANT OPTION",
	} {
		if err := s.exec(ctx, q); err != nil {
			return fmt.Errorf("mariadb: enable root: %w", err)
		}
	}
	var version string
	if err := s.conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return fmt.Errorf("mariadb: enable root: server version: %w", err)
	}
	privs, err := readOnlyBypass(version)
	if err != nil {
		return fmt.Errorf("mariadb: enable root: %w", err)
	}
	if err := s.exec(ctx, "REVOKE "+strings.Join(privs, ", ")+" ON *.* FROM "+acct); err != nil {
		return fmt.Errorf("mariadb: enable root: withhold the read-only bypass: %w", err)
	}
	e.log.Debug("root enabled")
	return nil
}

// networkRootHosts lists the hosts of root accounts other than
// root@localhost.
func networkRootHosts(ctx context.Context, s *session) ([]string, error) {
	rows, err := s.conn.QueryContext(ctx, "SELECT Host FROM mysql.user WHERE User = ? AND Host <> 'localhost'", rootUser)
	if err != nil {
		return nil, fmt.Errorf("mariadb: list root accounts: %w", err)
	}
	defer rows.Close()
	var hosts []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("mariadb: list root accounts: %w", err)
		}
		hosts = append(hosts, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mariadb: list root accounts: %w", err)
	}
	return hosts, nil
}

// DisableRoot implements datastore.RootAdmin: every root account but
// root@localhost (unix_socket only) is dropped, including ones root made
// for itself while enabled.
func (e *Engine) DisableRoot(ctx context.Context, c datastore.Conn) error {
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return err
	}
	defer s.Close()
	hosts, err := networkRootHosts(ctx, s)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		acct := quoteAccount(rootUser, h)
		if err := s.exec(ctx, "DROP USER IF EXISTS "+acct); err != nil {
			return fmt.Errorf("mariadb: disable root: drop %s: %w", acct, err)
		}
	}
	e.log.Debug("root disabled", "accounts", len(hosts))
	return nil
}

// RootEnabled implements datastore.RootAdmin.
func (e *Engine) RootEnabled(ctx context.Context, c datastore.Conn) (bool, error) {
	s, err := open(ctx, c, c.User, c.Password, opTimeouts)
	if err != nil {
		return false, err
	}
	defer s.Close()
	hosts, err := networkRootHosts(ctx, s)
	return len(hosts) > 0, err
}
