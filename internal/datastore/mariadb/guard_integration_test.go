package mariadb

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
)

// testRootConfined checks that root (ALL PRIVILEGES, FILE included) reads
// and writes server files only in the instance's files directory, and that
// when it drops hoard's account the loss is reported as ErrAdminLost and a
// restart (the init-file) repairs it.
func testRootConfined(t *testing.T, srv *testServer, admin datastore.Conn) {
	e := srv.engine
	ctx := testCtx(t)
	const rootPW = "root-pw-confined-1"
	if err := e.EnableRoot(ctx, admin, rootPW); err != nil {
		t.Fatal(err)
	}
	root := mustOpen(t, srv.tcpConn(rootUser, rootPW))
	defer root.Close()
	if got, want := query(t, root, "SELECT @@global.secure_file_priv"), srv.spec.RunDir+string(filepath.Separator); got != want {
		t.Errorf("secure_file_priv = %q, want %q", got, want)
	}
	if got := query(t, root, "SELECT COALESCE(LOAD_FILE('/etc/passwd'), 'NULL')"); got != "NULL" {
		t.Errorf("LOAD_FILE(/etc/passwd) read %d bytes", len(got))
	}
	const erOptionPreventsStatement = 1290
	if err := root.exec(ctx, "SELECT 1 INTO OUTFILE '/tmp/hoard-root-outfile'"); mysqlErrNumber(err) != erOptionPreventsStatement {
		t.Errorf("SELECT INTO OUTFILE /tmp = %v, want error %d", err, erOptionPreventsStatement)
	}
	if err := root.exec(ctx, "LOAD DATA INFILE '/etc/passwd' INTO TABLE app.kept"); mysqlErrNumber(err) != erOptionPreventsStatement {
		t.Errorf("LOAD DATA INFILE /etc/passwd = %v, want error %d", err, erOptionPreventsStatement)
	}
	if err := root.exec(ctx, "SELECT 'inside' INTO OUTFILE '"+filepath.Join(srv.spec.RunDir, "export.txt")+"'"); err != nil {
		t.Errorf("SELECT INTO OUTFILE in the files directory: %v", err)
	}

	// Root takes hoard's account away.
	for _, q := range []string{"DROP USER 'os_admin'@'localhost'", "DROP USER 'os_admin'@'%'"} {
		if err := root.exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := e.CheckAdmin(ctx, admin); !errors.Is(err, datastore.ErrAdminLost) {
		t.Errorf("CheckAdmin after DROP USER = %v, want ErrAdminLost", err)
	}
	if _, err := e.ListUsers(ctx, admin); !errors.Is(err, datastore.ErrAdminLost) {
		t.Errorf("ListUsers after DROP USER = %v, want ErrAdminLost", err)
	}
	if err := e.Ping(ctx, admin); err != nil {
		t.Errorf("Ping after DROP USER = %v, want nil (the server answers)", err)
	}

	// The next start gives it back.
	srv.spec.AdminUser, srv.spec.AdminPassword = admin.User, admin.Password
	srv.stop(t)
	srv.start(t)
	if err := e.CheckAdmin(ctx, admin); err != nil {
		t.Errorf("CheckAdmin after restart = %v, want nil (repaired)", err)
	}
	if err := e.DisableRoot(ctx, admin); err != nil {
		t.Fatal(err)
	}
}
