package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// memberClient makes a project with a member user through the identity
// admin API and logs that user in.
func memberClient(ctx context.Context, t *testing.T, h *hoard, admin *gophercloud.ServiceClient, project, user, pw string) *gophercloud.ServiceClient {
	t.Helper()
	proj := adminCall(t, admin, h, "POST", "/projects", map[string]any{"project": map[string]any{"name": project, "domain_id": "default"}})
	projID := proj["project"].(map[string]any)["id"].(string)
	usr := adminCall(t, admin, h, "POST", "/users", map[string]any{"user": map[string]any{"name": user, "password": pw}})
	userID := usr["user"].(map[string]any)["id"].(string)
	adminCall(t, admin, h, "PUT", "/projects/"+projID+"/users/"+userID+"/roles/member", nil)
	pc, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
		IdentityEndpoint: "http://" + h.listen + "/identity/v3",
		Username:         user, Password: pw, TenantName: project, DomainName: "Default",
	})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := openstack.NewDBV1(pc, gophercloud.EndpointOpts{Region: "RegionOne"})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// victim is what the attacker aims at: another tenant's instance.
type victim struct {
	id, dir, dataFile, dataDir string
	pid                        int
	startTime                  string
}

// lookVictim reads, as the host's root, where instance id keeps its files
// and which process runs it.
func lookVictim(t *testing.T, h *hoard, id string) victim {
	t.Helper()
	v := victim{id: id, dir: filepath.Join(h.dataDir, "instances", id)}
	for _, d := range []string{filepath.Join(v.dir, "vol", "data"), filepath.Join(v.dir, "data")} {
		if _, err := os.Stat(filepath.Join(d, "ibdata1")); err == nil {
			v.dataDir, v.dataFile = d, filepath.Join(d, "ibdata1")
		}
	}
	if v.dataFile == "" {
		t.Fatalf("no ibdata1 under %s", v.dir)
	}
	b, err := os.ReadFile(filepath.Join(v.dir, "handle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var hd struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal(b, &hd); err != nil || hd.PID == 0 {
		t.Fatalf("handle of %s: %s, %v", id, b, err)
	}
	v.pid = hd.PID
	v.startTime = procStart(t, v.pid)
	return v
}

// procStart is field 22 of /proc/<pid>/stat ("" if the process is gone).
func procStart(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return f[19]
}

// escapeProgram is a shell script that tries every way out of the
// instance it runs in and prints CAN-<what> for each that works, and RAN
// and its uid so that the caller knows it ran.
func escapeProgram(h *hoard, v victim) string {
	checks := []struct{ what, cmd string }{
		{"READ-DATA", "cat " + v.dataFile},
		{"LIST-DATA", "ls " + v.dataDir},
		{"WRITE-DATA", "touch " + v.dataDir + "/pwned"},
		{"READ-CONF", "cat " + filepath.Join(v.dir, "conf", "my.cnf")},
		{"READ-HANDLE", "cat " + filepath.Join(v.dir, "handle.json")},
		{"SIGNAL", "kill -0 " + strconv.Itoa(v.pid)},
		{"PROC-ENVIRON", "cat /proc/" + strconv.Itoa(v.pid) + "/environ"},
		{"PROC-FD", "ls /proc/" + strconv.Itoa(v.pid) + "/fd"},
		{"SOCKET", "test -S " + filepath.Join(v.dir, "run", "mysqld.sock") + " && ls " + filepath.Join(v.dir, "run")},
		{"LIST-INSTANCES", "ls " + filepath.Join(h.dataDir, "instances")},
		{"LIST-DATADIR", "ls " + h.dataDir},
		{"READ-STORE", "cat " + filepath.Join(h.dataDir, "hoard.db")},
		{"READ-KEY", "cat " + filepath.Join(h.dataDir, "secret.key")},
		{"READ-ADMIN-PW", "cat " + filepath.Join(h.dataDir, "admin-password")},
		{"READ-OPENRC", "cat " + filepath.Join(h.dataDir, "admin-openrc")},
		{"LIST-BACKUPS", "ls " + filepath.Join(h.dataDir, "backups")},
	}
	var b strings.Builder
	b.WriteString("echo RAN; id -u; ")
	for _, c := range checks {
		fmt.Fprintf(&b, "(%s) >/dev/null 2>&1 && echo CAN-%s; ", c.cmd, c.what)
	}
	b.WriteString("true")
	return b.String()
}

// TestRootConfined is the attack of the isolation issue: a member of
// project B with root enabled on B's MariaDB, PostgreSQL and Redis tries
// every way out of its instance towards project A's instance and hoard's
// own files (programs, server-side file reads and writes, large objects,
// signals, /proc, sockets), and fails; A's data and engine are untouched.
func TestRootConfined(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	admin := h.client(ctx)

	// Project A (the admin's): an instance with a secret row.
	a, err := instances.Create(ctx, admin, createOpts("victim")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	a = waitStatus(ctx, t, admin, a.ID, "ACTIVE", activeTimeout)
	const secret = "TOP-SECRET-OF-A-4711"
	adb := openDB(t, a.IP[0], "app", "app-pw-123", "shop")
	for _, q := range []string{"CREATE TABLE s (v VARCHAR(64))", "INSERT INTO s VALUES ('" + secret + "')"} {
		if _, err := adb.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	v := lookVictim(t, h, a.ID)
	program := escapeProgram(h, v)

	// Project B: root on each engine.
	bob := memberClient(ctx, t, h, admin, "attacker", "mallory", "mallory-pw-1")
	rootOn := func(t *testing.T, datastore string) (ip, pw string) {
		t.Helper()
		o := createOpts("b-" + datastore)
		o.Datastore = &instances.DatastoreOpts{Type: datastore}
		if datastore == "redis" {
			o.Databases, o.Users = nil, nil
		}
		inst, err := instances.Create(ctx, bob, o).Extract()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = instances.Delete(ctx, bob, inst.ID).ExtractErr() })
		inst = waitStatus(ctx, t, bob, inst.ID, "ACTIVE", activeTimeout)
		root, err := instances.EnableRootUser(ctx, bob, inst.ID).Extract()
		if err != nil {
			t.Fatalf("root enable: %v", err)
		}
		return inst.IP[0], root.Password
	}
	checkOutput := func(t *testing.T, out string) {
		t.Helper()
		if strings.Contains(out, "CAN-") || strings.Contains(out, secret) {
			t.Errorf("root escaped its instance:\n%s", out)
		}
	}

	t.Run("postgresql", func(t *testing.T) {
		ip, pw := rootOn(t, "postgresql")
		c := pgConnect(t, ip, "root", pw, "shop")
		if _, err := c.Exec(ctx, "CREATE TABLE out (line text)"); err != nil {
			t.Fatal(err)
		}
		copyProgram := "COPY out FROM PROGRAM $hoard$" + program + "$hoard$"
		if _, err := c.Exec(ctx, copyProgram); err == nil {
			t.Error("root runs programs without any grant")
		}
		// With CREATEROLE, PostgreSQL 15 lets root grant itself the
		// server-program and server-file roles: the programs and reads
		// then run as the instance's own OS user, and reach nothing else.
		_, grantErr := c.Exec(ctx, "GRANT pg_execute_server_program, pg_read_server_files, pg_write_server_files TO root")
		t.Logf("root granting itself the server roles: %v", grantErr)
		c = pgConnect(t, ip, "root", pw, "shop") // memberships take effect in a new session
		if _, err := c.Exec(ctx, copyProgram); err == nil {
			var out strings.Builder
			rows, err := c.Query(ctx, "SELECT line FROM out")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var l string
				_ = rows.Scan(&l)
				out.WriteString(l + "\n")
			}
			rows.Close()
			if !strings.HasPrefix(out.String(), "RAN\n") || strings.Contains(out.String(), "\n0\n") {
				t.Errorf("program output %q: want RAN and a non-root uid", out.String())
			}
			checkOutput(t, out.String())
		}
		for _, q := range []string{
			"SELECT pg_read_file('" + v.dataFile + "')",
			"SELECT pg_read_binary_file('" + filepath.Join(h.dataDir, "secret.key") + "')",
			"SELECT lo_import('" + v.dataFile + "')",
			"COPY out TO '" + filepath.Join(v.dataDir, "pwned") + "'",
			"COPY out FROM '" + filepath.Join(h.dataDir, "admin-password") + "'",
		} {
			var s string
			if err := c.QueryRow(ctx, q).Scan(&s); err == nil || strings.Contains(s, secret) {
				t.Errorf("root: %s succeeded", q)
			}
		}
	})

	t.Run("mariadb", func(t *testing.T) {
		ip, pw := rootOn(t, "mysql")
		r := openDB(t, ip, "root", pw, "")
		for _, q := range []string{
			"SELECT COALESCE(LOAD_FILE('" + v.dataFile + "'), 'NULL')",
			"SELECT COALESCE(LOAD_FILE('" + filepath.Join(h.dataDir, "secret.key") + "'), 'NULL')",
		} {
			var s string
			if err := r.QueryRowContext(ctx, q).Scan(&s); err != nil || s != "NULL" {
				t.Errorf("root: %s = %.40q, %v; want NULL", q, s, err)
			}
		}
		for _, q := range []string{
			"CREATE TABLE IF NOT EXISTS shop.out (line TEXT)",
		} {
			if _, err := r.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []string{
			"LOAD DATA INFILE '" + v.dataFile + "' INTO TABLE shop.out",
			"LOAD DATA INFILE '" + filepath.Join(h.dataDir, "admin-password") + "' INTO TABLE shop.out",
			"SELECT 'pwned' INTO OUTFILE '" + filepath.Join(v.dataDir, "pwned") + "'",
			"SELECT 'pwned' INTO DUMPFILE '/tmp/hoard-pwned-" + v.id + "'",
			"SET GLOBAL general_log_file = '" + filepath.Join(v.dataDir, "pwned.log") + "'",
		} {
			if _, err := r.ExecContext(ctx, q); err == nil {
				t.Errorf("root: %s succeeded", q)
			}
		}
	})

	t.Run("redis", func(t *testing.T) {
		ip, pw := rootOn(t, "redis")
		r := redisClient(t, ip, "root", pw)
		for _, cmd := range [][]any{
			{"CONFIG", "SET", "dir", v.dataDir}, {"CONFIG", "SET", "dbfilename", "pwned"},
			{"MODULE", "LOAD", "/tmp/x.so"}, {"DEBUG", "SLEEP", "0"},
			{"ACL", "SETUSER", "os_admin", "resetpass"}, {"ACL", "DELUSER", "os_admin"},
			{"EVAL", "return io.open('" + v.dataFile + "')", "0"},
			{"EVAL", "return os.execute('kill -9 " + strconv.Itoa(v.pid) + "')", "0"},
		} {
			if err := r.Do(ctx, cmd...).Err(); err == nil {
				t.Errorf("root: %v succeeded", cmd)
			}
		}
	})

	// A is untouched: same engine process, same data, nothing written.
	if got := procStart(t, v.pid); got != v.startTime {
		t.Errorf("A's engine (pid %d) is gone or was replaced", v.pid)
	}
	var got string
	if err := adb.QueryRowContext(ctx, "SELECT v FROM s").Scan(&got); err != nil || got != secret {
		t.Errorf("A's row = %q, %v; want %q", got, err, secret)
	}
	if _, err := os.Stat(filepath.Join(v.dataDir, "pwned")); err == nil {
		t.Error("a file was written into A's data directory")
	}
	// And every instance runs as a user of its own, never hoard's.
	var st syscall.Stat_t
	if err := syscall.Stat(v.dataDir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid == 0 || st.Uid == uint32(os.Geteuid()) {
		t.Errorf("A's data belongs to uid %d, want an instance user", st.Uid)
	}
	inst, err := instances.Get(ctx, admin, a.ID).Extract()
	if err != nil || inst.Status != "ACTIVE" {
		t.Errorf("A = %+v, %v; want ACTIVE", inst, err)
	}
}

// TestAdminAccountRepaired is the lock-out of the isolation issue: a
// tenant's root drops hoard's account on MariaDB. The user calls answer
// 422 (never 500), the instance shows BLOCKED with a fault that says
// what to do, and a restart repairs the account.
func TestAdminAccountRepaired(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)
	inst, err := instances.Create(ctx, sc, createOpts("lockout")).Extract()
	if err != nil {
		t.Fatal(err)
	}
	inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	root, err := instances.EnableRootUser(ctx, sc, inst.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	r := openDB(t, inst.IP[0], "root", root.Password, "")
	for _, q := range []string{"ALTER USER 'os_admin'@'%' IDENTIFIED BY 'taken-1'", "ALTER USER 'os_admin'@'localhost' IDENTIFIED BY 'taken-1'"} {
		if _, err := r.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// A backup then fails for good: FAILED, deletable, instance BLOCKED.
	b := createBackup(ctx, t, sc, "after-takeover", inst.ID, "")
	waitFor(t, backupTimeout, "backup "+b.ID+" to fail", func() bool {
		got, err := getBackup(ctx, sc, b.ID)
		return err == nil && got.Status == "FAILED"
	})
	if _, err := sc.Delete(ctx, sc.ServiceURL("backups", b.ID), &gophercloud.RequestOpts{OkCodes: []int{202, 204}}); err != nil {
		t.Errorf("delete the FAILED backup: %v", err)
	}
	if got := waitStatus(ctx, t, sc, inst.ID, "BLOCKED", activeTimeout); got.Fault == nil {
		t.Errorf("BLOCKED after the failed backup without a fault")
	}
	for _, q := range []string{"DROP USER 'os_admin'@'%'", "DROP USER 'os_admin'@'localhost'"} {
		if _, err := r.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	usersURL := sc.ServiceURL("instances", inst.ID, "users")
	_, err = sc.Get(ctx, usersURL, nil, nil)
	if !gophercloud.ResponseCodeIs(err, 422) {
		t.Fatalf("list users after root dropped hoard's account = %v, want 422", err)
	}
	got, err := instances.Get(ctx, sc, inst.ID).Extract()
	if err != nil || got.Status != "BLOCKED" || got.Fault == nil || !strings.Contains(got.Fault.Message, "restart the instance") {
		t.Fatalf("instance = %+v, %v; want BLOCKED with a fault naming the repair", got, err)
	}
	if err := instances.Restart(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatalf("restart of a BLOCKED instance: %v", err)
	}
	got = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
	if got.Fault != nil {
		t.Errorf("fault after the repair: %+v", got.Fault)
	}
	if _, err := sc.Get(ctx, usersURL, nil, nil); err != nil {
		t.Errorf("list users after restart: %v", err)
	}
}
