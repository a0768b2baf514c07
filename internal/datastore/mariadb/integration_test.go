package mariadb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

const adminPassword datastore.Secret = "Adm1n-pw_0f-h0ard"

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// mustOpen connects to c or fails the test.
func mustOpen(t *testing.T, c datastore.Conn) *session {
	t.Helper()
	s, err := open(testCtx(t), c, c.User, c.Password, opTimeouts)
	if err != nil {
		t.Fatalf("connect as %q: %v", c.User, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// query returns the single string value of q.
func query(t *testing.T, s *session, q string, args ...any) string {
	t.Helper()
	var v string
	if err := s.conn.QueryRowContext(testCtx(t), q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func mysqlErrNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// TestIntegration runs everything that needs a real server against one
// mariadbd (one init, two starts), in order.
func TestIntegration(t *testing.T) {
	srv := startServer(t)
	e := srv.engine
	admin := srv.socketConn(adminUser, adminPassword)
	adminTCP := srv.tcpConn(adminUser, adminPassword)

	t.Run("Discover", func(t *testing.T) { testDiscover(t, srv) })
	if !t.Run("Bootstrap", func(t *testing.T) { testBootstrap(t, srv) }) {
		t.FailNow()
	}
	t.Run("Ping", func(t *testing.T) { testPing(t, srv) })
	t.Run("CreateDatabases", func(t *testing.T) { testCreateDatabases(t, e, admin) })
	t.Run("CreateUsers", func(t *testing.T) { testCreateUsers(t, srv, adminTCP) })
	t.Run("Injection", func(t *testing.T) { testInjection(t, srv, admin) })
	t.Run("Admin", func(t *testing.T) { testAdmin(t, srv, adminTCP) })
	t.Run("AdminInjection", func(t *testing.T) { testAdminInjection(t, srv, admin) })
	t.Run("Restart", func(t *testing.T) { testRestart(t, srv, admin) })
	t.Run("RootConfined", func(t *testing.T) { testRootConfined(t, srv, admin) })

	// The rendered configuration is accepted as it is: no unknown or
	// ignored options, no errors.
	b, err := os.ReadFile(filepath.Join(srv.spec.LogDir, "error.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"[ERROR]", "unknown variable", "unknown option", "ignored", "Could not increase"} {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, bad) && !strings.Contains(line, "root@") {
				t.Errorf("error log: %s", line)
			}
		}
	}

	if logs := srv.logs.String(); strings.Contains(logs, string(adminPassword)) || strings.Contains(logs, "pw-") {
		t.Errorf("a password reached the logs:\n%s", logs)
	}
}

func testDiscover(t *testing.T, srv *testServer) {
	vs, err := srv.engine.Discover(testCtx(t))
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if len(vs) != 1 || !strings.HasPrefix(vs[0].Version, vs[0].Name+".") {
		t.Fatalf("Discover = %+v", vs)
	}
	// Before Bootstrap root has an empty password: ask the server itself.
	s := mustOpen(t, srv.socketConn("root", ""))
	if v := query(t, s, "SELECT VERSION()"); !strings.HasPrefix(v, vs[0].Version+"-MariaDB") {
		t.Errorf("Discover = %+v, server says %q", vs[0], v)
	}
}

func testBootstrap(t *testing.T, srv *testServer) {
	e := srv.engine
	ctx := testCtx(t)
	// First run: root with an empty password over the socket.
	if err := e.Bootstrap(ctx, srv.socketConn(adminUser, adminPassword)); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	// Again over TCP, where root is gone: the os_admin path.
	if err := e.Bootstrap(ctx, srv.tcpConn(adminUser, adminPassword)); err != nil {
		t.Fatalf("Bootstrap again over TCP: %v", err)
	}
	// And over the socket once more.
	if err := e.Bootstrap(ctx, srv.socketConn(adminUser, adminPassword)); err != nil {
		t.Fatalf("Bootstrap a third time: %v", err)
	}
	// A wrong admin password cannot bootstrap, and is not in the error.
	const wrong = "Wr0ng-pw-xyz"
	err := e.Bootstrap(ctx, srv.tcpConn(adminUser, wrong))
	if err == nil {
		t.Fatal("Bootstrap with a wrong password over TCP succeeded")
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error reveals the password: %v", err)
	}

	// The admin account works over both paths and may grant.
	for _, c := range []datastore.Conn{srv.socketConn(adminUser, adminPassword), srv.tcpConn(adminUser, adminPassword)} {
		s := mustOpen(t, c)
		grants := query(t, s, "SHOW GRANTS")
		if !strings.Contains(grants, "ALL PRIVILEGES ON *.*") || !strings.Contains(grants, "WITH GRANT OPTION") {
			t.Errorf("admin grants = %q", grants)
		}
	}

	// Root with an empty password is refused over TCP (root@127.0.0.1 is
	// gone), and root@localhost takes no password at all.
	_, err = open(ctx, srv.tcpConn("root", ""), "root", "", opTimeouts)
	if n := mysqlErrNumber(err); n != erAccessDenied {
		t.Errorf("root over TCP: err = %v (%d), want access denied", err, n)
	}
	s, err := open(ctx, srv.socketConn("root", ""), "root", "", opTimeouts)
	if os.Geteuid() == 0 {
		// unix_socket lets the OS root user in, and nobody else.
		if err != nil {
			t.Errorf("root over the socket as OS root: %v", err)
		} else {
			_ = s.Close()
		}
	} else if n := mysqlErrNumber(err); n != erAccessDeniedNoPasswd && n != erAccessDenied {
		t.Errorf("root over the socket: err = %v, want access denied", err)
	}

	// Only these accounts are left.
	a := mustOpen(t, srv.socketConn(adminUser, adminPassword))
	rows, err := a.conn.QueryContext(ctx, "SELECT CONCAT(User, '@', Host, ':', JSON_VALUE(Priv, '$.plugin')) FROM mysql.global_priv ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"mariadb.sys@localhost:mysql_native_password",
		"os_admin@%:mysql_native_password",
		"os_admin@localhost:mysql_native_password",
		"root@localhost:unix_socket",
	}
	if !slices.Equal(got, want) {
		t.Errorf("accounts after Bootstrap = %q, want %q", got, want)
	}
}

func testPing(t *testing.T, srv *testServer) {
	e := srv.engine
	ctx := testCtx(t)
	for name, c := range map[string]datastore.Conn{
		"admin socket":   srv.socketConn(adminUser, adminPassword),
		"admin tcp":      srv.tcpConn(adminUser, adminPassword),
		"wrong password": srv.tcpConn(adminUser, "nope"),
		"no such user":   srv.socketConn("nobody", "x"),
	} {
		if err := e.Ping(ctx, c); err != nil {
			t.Errorf("Ping(%s) = %v, want nil", name, err)
		}
	}
	dead := datastore.Conn{Address: "127.0.0.1", Port: freePort(t), User: adminUser, Password: adminPassword}
	if err := e.Ping(ctx, dead); err == nil {
		t.Error("Ping of a closed port succeeded")
	}
	if err := e.Ping(ctx, datastore.Conn{Socket: srv.base + "/nothing.sock"}); err == nil {
		t.Error("Ping of a missing socket succeeded")
	}
}

func testCreateDatabases(t *testing.T, e *Engine, admin datastore.Conn) {
	ctx := testCtx(t)
	dbs := []datastore.Database{
		{Name: "app"},
		{Name: "a_b"},
		{Name: "aXb"},
		{Name: "latin", CharacterSet: "latin1"},
		{Name: "unicode", Collate: "utf8mb4_unicode_ci"},
		{Name: "trove-default", CharacterSet: "utf8", Collate: "utf8_general_ci"},
		{Name: "odd #@name"},
	}
	for range 2 {
		if err := e.CreateDatabases(ctx, admin, dbs); err != nil {
			t.Fatalf("CreateDatabases: %v", err)
		}
	}
	// An existing database is left as it is.
	if err := e.CreateDatabases(ctx, admin, []datastore.Database{{Name: "latin", CharacterSet: "utf8mb4"}}); err != nil {
		t.Fatalf("CreateDatabases on an existing one: %v", err)
	}
	s := mustOpen(t, admin)
	want := map[string]string{
		"app":           "utf8mb4/utf8mb4_general_ci",
		"latin":         "latin1/latin1_swedish_ci",
		"unicode":       "utf8mb4/utf8mb4_unicode_ci",
		"trove-default": "utf8mb3/utf8mb3_general_ci",
		"odd #@name":    "utf8mb4/utf8mb4_general_ci",
	}
	for name, w := range want {
		got := query(t, s, "SELECT CONCAT(DEFAULT_CHARACTER_SET_NAME, '/', DEFAULT_COLLATION_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name)
		if got != w {
			t.Errorf("database %q: charset/collation = %q, want %q", name, got, w)
		}
	}

	bad := []struct {
		db   datastore.Database
		want string
	}{
		{datastore.Database{Name: "x1", CharacterSet: "klingon"}, "'klingon' not a valid character set."},
		{datastore.Database{Name: "x1", CharacterSet: "latin1; DROP DATABASE app"}, "'latin1; DROP DATABASE app' not a valid character set."},
		{datastore.Database{Name: "x1", Collate: "latin1_klingon_ci"}, "'latin1_klingon_ci' not a valid collation."},
		{datastore.Database{Name: "x1", Collate: "x' OR '1'='1"}, "'x' OR '1'='1' not a valid collation."},
		{datastore.Database{Name: "x1", CharacterSet: "latin1", Collate: "utf8mb4_general_ci"}, "utf8mb4_general_ci not a valid collation for charset latin1."},
		{datastore.Database{Name: "mysql"}, `Database name "mysql" is on the reserved list: ['#mysql50#lost+found', 'information_schema', 'lost+found', 'mysql', 'performance_schema', 'sys'].`},
		{datastore.Database{Name: "x`; DROP DATABASE app; --"}, "'x`; DROP DATABASE app; --' is not a valid database name."},
	}
	for _, b := range bad {
		err := e.CreateDatabases(ctx, admin, []datastore.Database{b.db})
		if !fault.Is(err, fault.Invalid) || fault.Message(err) != b.want {
			t.Errorf("CreateDatabases(%+v) = %v, want Invalid %q", b.db, err, b.want)
		}
	}
	if n := query(t, s, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'x1'"); n != "0" {
		t.Error("a refused database was created")
	}
}

func testCreateUsers(t *testing.T, srv *testServer, admin datastore.Conn) {
	e := srv.engine
	ctx := testCtx(t)
	alice := datastore.User{Name: "alice", Host: "%", Password: "pw-1st", Databases: []string{"app", "a_b"}}
	bob := datastore.User{Name: "bob", Host: "127.0.0.1", Password: "pw-bob", Databases: []string{"latin"}}
	if err := e.CreateUsers(ctx, admin, []datastore.User{alice, bob}); err != nil {
		t.Fatalf("CreateUsers: %v", err)
	}
	// Again with a new password: idempotent, and the password changes.
	alice.Password = "pw-2nd"
	if err := e.CreateUsers(ctx, admin, []datastore.User{alice, bob}); err != nil {
		t.Fatalf("CreateUsers again: %v", err)
	}
	if _, err := open(ctx, srv.tcpConn("alice", "pw-1st"), "alice", "pw-1st", opTimeouts); mysqlErrNumber(err) != erAccessDenied {
		t.Errorf("alice with the old password: err = %v, want access denied", err)
	}

	a := mustOpen(t, srv.tcpConn("alice", alice.Password))
	for _, q := range []string{
		"CREATE TABLE app.t (id INT PRIMARY KEY)",
		"INSERT INTO app.t VALUES (1), (2)",
		"CREATE TABLE a_b.t (id INT)",
	} {
		if err := a.exec(ctx, q); err != nil {
			t.Fatalf("alice: %s: %v", q, err)
		}
	}
	if n := query(t, a, "SELECT COUNT(*) FROM app.t"); n != "2" {
		t.Errorf("alice sees %s rows", n)
	}
	// No access to databases not granted, including aXb, which a grant on
	// a_b would match if '_' were not escaped.
	for _, q := range []string{"CREATE TABLE aXb.t (id INT)", "CREATE TABLE latin.t (id INT)", "SELECT * FROM mysql.user"} {
		err := a.exec(ctx, q)
		if n := mysqlErrNumber(err); n != erDBAccessDenied && n != 1142 {
			t.Errorf("alice: %s: err = %v, want access denied", q, err)
		}
	}
	b := mustOpen(t, srv.tcpConn("bob", bob.Password))
	if err := b.exec(ctx, "CREATE TABLE latin.t (id INT)"); err != nil {
		t.Errorf("bob: %v", err)
	}

	bad := []struct {
		u    datastore.User
		want string
	}{
		{datastore.User{Name: "root", Password: "pw1"}, `User name "root" is on the reserved list: ['mariadb.sys', 'os_admin', 'os_repl', 'root'].`},
		{datastore.User{Name: "a'@'%' IDENTIFIED BY 'x'; --", Password: "pw1"}, "User name 'a'@'%' IDENTIFIED BY 'x'; --' is too long. Max length = 16."},
		{datastore.User{Name: "a';--", Password: "pw1"}, "'a';--' is not a valid user name."},
		{datastore.User{Name: "carol", Host: "%' OR 1=1", Password: "pw1"}, "'%' OR 1=1' is not a valid hostname."},
		{datastore.User{Name: "carol", Password: "pw1", Databases: []string{"mysql"}}, `Database name "mysql" is on the reserved list: ['#mysql50#lost+found', 'information_schema', 'lost+found', 'mysql', 'performance_schema', 'sys'].`},
	}
	for _, c := range bad {
		err := e.CreateUsers(ctx, admin, []datastore.User{c.u})
		if !fault.Is(err, fault.Invalid) || fault.Message(err) != c.want {
			t.Errorf("CreateUsers(%q@%q) = %v, want Invalid %q", c.u.Name, c.u.Host, err, c.want)
		}
	}
	err := e.CreateUsers(ctx, admin, []datastore.User{{Name: "carol", Password: "pw'; DROP USER alice; --"}})
	if !fault.Is(err, fault.Invalid) || strings.Contains(err.Error(), "DROP USER") {
		t.Errorf("CreateUsers with a quote in the password = %v, want Invalid without the password", err)
	}
}

// testInjection shows that names reaching the server are stored literally:
// through the public methods (names the rules allow, with every special
// character they allow) and through the internal quoting alone (names the
// rules would refuse).
func testInjection(t *testing.T, srv *testServer, admin datastore.Conn) {
	e := srv.engine
	ctx := testCtx(t)
	s := mustOpen(t, admin)
	tests := []struct {
		name     string
		db       string
		user     string
		password datastore.Secret
		public   bool // go through CreateDatabases/CreateUsers
	}{
		{"allowed specials", "x-- #?@y", "u@%x?#y", "p@ss--w0rd%$*!()", true},
		{"comment lookalikes", "a--b", "us-- r", "pw/* */x", false},
		{"backtick break-out", "x`; DROP DATABASE app; --", "x", "pw", false},
		{"quote break-out", "q", "o'x'@'%'; --", "p'w\"; DROP USER alice; --", false},
		{"backslash", `b\`, `u\`, `p\`, false},
		{"NUL and newline", "n\nl", "n\nu", "p\x00w\nd", false},
		{"wildcards", "w%_", "%", "%", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := datastore.Database{Name: tt.db}
			u := datastore.User{Name: tt.user, Host: "127.0.0.1", Password: tt.password, Databases: []string{tt.db}}
			if tt.public {
				if err := e.CreateDatabases(ctx, admin, []datastore.Database{db}); err != nil {
					t.Fatalf("CreateDatabases(%q): %v", tt.db, err)
				}
				if err := e.CreateUsers(ctx, admin, []datastore.User{u}); err != nil {
					t.Fatalf("CreateUsers(%q): %v", tt.user, err)
				}
			} else {
				if err := e.createDatabase(ctx, s, db); err != nil {
					t.Fatalf("createDatabase(%q): %v", tt.db, err)
				}
				if err := e.createUser(ctx, s, u); err != nil {
					t.Fatalf("createUser(%q): %v", tt.user, err)
				}
			}
			if n := query(t, s, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", tt.db); n != "1" {
				t.Errorf("database %q not stored literally", tt.db)
			}
			if n := query(t, s, "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = '127.0.0.1'", tt.user); n != "1" {
				t.Errorf("user %q not stored literally", tt.user)
			}
			// The user logs in with exactly its password and reaches exactly its database.
			c := srv.tcpConn(tt.user, tt.password)
			us := mustOpen(t, c)
			q, _ := quoteIdent(tt.db)
			if err := us.exec(ctx, "CREATE TABLE "+q+".t (id INT)"); err != nil {
				t.Errorf("user %q cannot use database %q: %v", tt.user, tt.db, err)
			}
		})
	}
	// Nothing else was touched.
	for _, db := range []string{"app", "mysql"} {
		if n := query(t, s, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", db); n != "1" {
			t.Errorf("database %s is gone", db)
		}
	}
	if n := query(t, s, "SELECT COUNT(*) FROM mysql.user WHERE User IN ('alice', 'os_admin', 'root')"); n != "4" {
		t.Errorf("accounts alice, os_admin, root: %s rows, want 4", n)
	}
}

// testRestart checks engines.md §3: a restart drops SET GLOBAL changes and
// keeps committed data.
func testRestart(t *testing.T, srv *testServer, admin datastore.Conn) {
	e := srv.engine
	ctx := testCtx(t)
	s := mustOpen(t, admin)
	want := query(t, s, "SELECT @@global.max_connections")
	if want != "100" {
		t.Errorf("configured max_connections = %s, want 100 for 512 MB", want)
	}
	for _, q := range []string{"SET GLOBAL max_connections = 77", "CREATE TABLE app.kept (v VARCHAR(10))", "INSERT INTO app.kept VALUES ('committed')"} {
		if err := s.exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if got := query(t, s, "SELECT @@global.max_connections"); got != "77" {
		t.Fatalf("after SET GLOBAL: %s", got)
	}
	_ = s.Close()

	srv.stop(t)
	if err := e.Ping(ctx, admin); err == nil {
		t.Error("Ping of a stopped server succeeded")
	}
	srv.start(t)

	s = mustOpen(t, admin)
	if got := query(t, s, "SELECT @@global.max_connections"); got != want {
		t.Errorf("max_connections after restart = %s, want %s", got, want)
	}
	if got := query(t, s, "SELECT v FROM app.kept"); got != "committed" {
		t.Errorf("row after restart = %q", got)
	}
	if got := query(t, s, "SELECT COUNT(*) FROM app.t"); got != "2" {
		t.Errorf("alice's rows after restart = %s", got)
	}
}
