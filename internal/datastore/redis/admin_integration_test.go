package redis

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
)

// TestAdmin checks UserAdmin and RootAdmin against a real redis-server,
// every effect by connecting as the users with go-redis, and that ACL
// changes survive a restart.
func TestAdmin(t *testing.T) {
	srv := startServer(t)
	e := srv.engine
	ctx := testCtx(t)
	admin := srv.socketConn(adminUser, adminPassword)
	if err := e.Bootstrap(ctx, admin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if err := e.CreateUsers(ctx, admin, []datastore.User{{Name: "app", Password: "app-pw-1"}, {Name: "bob", Password: "bob-pw-1"}}); err != nil {
		t.Fatal(err)
	}
	var _ datastore.UserAdmin = e
	if _, ok := any(e).(datastore.DatabaseAdmin); ok {
		t.Error("redis implements DatabaseAdmin; it has no databases")
	}

	t.Run("Users", func(t *testing.T) {
		users, err := e.ListUsers(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]datastore.UserInfo{{Name: "app", Host: "%"}, {Name: "bob", Host: "%"}}, users); d != "" {
			t.Errorf("ListUsers (-want +got):\n%s", d)
		}
		if u, err := e.GetUser(ctx, admin, "app", ""); err != nil || u.Name != "app" || u.Host != "%" {
			t.Errorf("GetUser(app) = %+v, %v", u, err)
		}
		for _, tt := range []struct {
			name, host string
			kind       fault.Kind
		}{
			{"app", "10.0.0.1", fault.Invalid}, {"nosuch", "%", fault.NotFound}, {"default", "%", fault.Invalid},
			{"os_admin", "%", fault.Invalid}, {"root", "%", fault.Invalid}, {"APP", "%", fault.NotFound},
		} {
			_, err := e.GetUser(ctx, admin, tt.name, tt.host)
			if !fault.Is(err, tt.kind) {
				t.Errorf("GetUser(%q@%q) = %v, want %v", tt.name, tt.host, err, tt.kind)
			}
			if tt.kind == fault.NotFound && !errors.Is(err, datastore.ErrUserNotFound) {
				t.Errorf("GetUser(%q) = %v, want ErrUserNotFound", tt.name, err)
			}
		}
		for what, err := range map[string]error{
			"GrantAccess":  e.GrantAccess(ctx, admin, "app", "%", []string{"x"}),
			"RevokeAccess": e.RevokeAccess(ctx, admin, "app", "%", "x"),
		} {
			if !fault.Is(err, fault.NotImplemented) || !strings.Contains(fault.Message(err), "'redis' datastore") {
				t.Errorf("%s = %v, want NotImplemented naming redis", what, err)
			}
		}

		// Rename keeps the password; the old name is gone, with its clients.
		old := srv.goClient(t, "app", "app-pw-1")
		if err := old.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := e.UpdateUser(ctx, admin, "app", "%", datastore.UserChange{Name: "bob"}); !fault.Is(err, fault.Invalid) {
			t.Errorf("rename to a taken name = %v, want Invalid", err)
		}
		if err := e.UpdateUser(ctx, admin, "app", "%", datastore.UserChange{Host: "10.0.0.1"}); !fault.Is(err, fault.Invalid) {
			t.Errorf("move to a host = %v, want Invalid", err)
		}
		if err := e.UpdateUser(ctx, admin, "app", "%", datastore.UserChange{Name: "app2", Host: "%"}); err != nil {
			t.Fatalf("rename: %v", err)
		}
		if err := old.Get(ctx, "k").Err(); err == nil {
			t.Error("the old name's client goes on after the rename")
		}
		if err := srv.goClient(t, "app", "app-pw-1").Ping(ctx).Err(); err == nil {
			t.Error("the old name logs in")
		}
		a2 := srv.goClient(t, "app2", "app-pw-1")
		if v, err := a2.Get(ctx, "k").Result(); err != nil || v != "v" {
			t.Errorf("app2 GET = %q, %v", v, err)
		}
		if err := a2.Do(ctx, "ACL", "LIST").Err(); err == nil {
			t.Error("renamed user may run ACL LIST")
		}
		// New password: the old one stops working.
		if err := e.UpdateUser(ctx, admin, "app2", "%", datastore.UserChange{Password: "app-pw-2"}); err != nil {
			t.Fatal(err)
		}
		if err := srv.goClient(t, "app2", "app-pw-1").Ping(ctx).Err(); err == nil {
			t.Error("the old password works")
		}
		if err := srv.goClient(t, "app2", "app-pw-2").Ping(ctx).Err(); err != nil {
			t.Errorf("the new password: %v", err)
		}
		if err := e.UpdateUser(ctx, admin, "nobody", "%", datastore.UserChange{Password: "x-pw-1"}); !errors.Is(err, datastore.ErrUserNotFound) {
			t.Errorf("UpdateUser(nobody) = %v", err)
		}

		// Delete.
		b := srv.goClient(t, "bob", "bob-pw-1")
		if err := b.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := e.DeleteUser(ctx, admin, "bob", "%"); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if err := b.Ping(ctx).Err(); err == nil {
			t.Error("the deleted user's client goes on")
		}
		if err := e.DeleteUser(ctx, admin, "bob", "%"); !errors.Is(err, datastore.ErrUserNotFound) {
			t.Errorf("DeleteUser again = %v", err)
		}
	})

	t.Run("Root", func(t *testing.T) {
		if e.RootUser() != "root" {
			t.Errorf("RootUser = %q", e.RootUser())
		}
		if on, err := e.RootEnabled(ctx, admin); err != nil || on {
			t.Errorf("RootEnabled before = %v, %v", on, err)
		}
		if err := e.EnableRoot(ctx, admin, "r00t-pw-1"); err != nil {
			t.Fatal(err)
		}
		if err := e.EnableRoot(ctx, admin, "r00t-pw-2"); err != nil {
			t.Fatal(err)
		}
		if err := srv.goClient(t, "root", "r00t-pw-1").Ping(ctx).Err(); err == nil {
			t.Error("root's first password works")
		}
		r := srv.goClient(t, "root", "r00t-pw-2")
		if err := r.Do(ctx, "SET", "by-root", "1").Err(); err != nil {
			t.Errorf("root SET: %v", err)
		}
		if got, err := r.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || got != "root" {
			t.Errorf("root ACL WHOAMI = %q, %v", got, err)
		}
		// hoard's account is out of root's reach (and so are files).
		for _, cmd := range [][]any{
			{"ACL", "DELUSER", "os_admin"}, {"ACL", "SETUSER", "os_admin", "resetpass", ">taken"},
			{"ACL", "SETUSER", "root", "+@all"}, {"ACL", "LIST"}, {"ACL", "GETUSER", "os_admin"}, {"ACL", "SAVE"},
			{"CONFIG", "SET", "dir", "/tmp"}, {"CONFIG", "SET", "dbfilename", "x.so"}, {"DEBUG", "SLEEP", "0"}, {"MODULE", "LOAD", "/tmp/x.so"},
		} {
			if err := r.Do(ctx, cmd...).Err(); err == nil {
				t.Errorf("root: %v succeeded", cmd)
			}
		}
		if err := e.Ping(ctx, admin); err != nil {
			t.Errorf("admin after root's attempts: %v", err)
		}
		if on, err := e.RootEnabled(ctx, admin); err != nil || !on {
			t.Errorf("RootEnabled = %v, %v", on, err)
		}
		if users, _ := e.ListUsers(ctx, admin); len(users) != 1 || users[0].Name != "app2" {
			t.Errorf("ListUsers with root = %+v", users)
		}
		if err := e.DisableRoot(ctx, admin); err != nil {
			t.Fatal(err)
		}
		if err := r.Ping(ctx).Err(); err == nil {
			t.Error("root's client goes on after DisableRoot")
		}
		if err := srv.goClient(t, "root", "r00t-pw-2").Ping(ctx).Err(); err == nil {
			t.Error("root logs in after DisableRoot")
		}
		if on, err := e.RootEnabled(ctx, admin); err != nil || on {
			t.Errorf("RootEnabled after = %v, %v", on, err)
		}
		if err := e.DisableRoot(ctx, admin); err != nil {
			t.Errorf("DisableRoot again: %v", err)
		}
	})

	t.Run("Injection", func(t *testing.T) {
		for _, n := range []string{"x y", "x\r\nFLUSHALL", "~*", "+@all", ">pw", "x\x00y", "\xff", strings.Repeat("n", 65), "-x", "a\"b"} {
			checks := map[string]error{
				"DeleteUser": e.DeleteUser(ctx, admin, n, "%"),
				"UpdateUser": e.UpdateUser(ctx, admin, n, "%", datastore.UserChange{Password: "pw-x-1"}),
				"Rename":     e.UpdateUser(ctx, admin, "app2", "%", datastore.UserChange{Name: n}),
				"Host":       e.DeleteUser(ctx, admin, "app2", n+"x"),
			}
			if _, err := e.GetUser(ctx, admin, n, "%"); !fault.Is(err, fault.Invalid) {
				t.Errorf("GetUser(%q) = %v, want Invalid", n, err)
			}
			for what, err := range checks {
				if !fault.Is(err, fault.Invalid) {
					t.Errorf("%s(%q) = %v, want Invalid", what, n, err)
				}
			}
		}
		for _, pw := range []string{"p\x00w", "pé", strings.Repeat("p", 256), " pw", "p\r\nw"} {
			if err := e.UpdateUser(ctx, admin, "app2", "%", datastore.UserChange{Password: datastore.Secret(pw)}); !fault.Is(err, fault.Invalid) {
				t.Errorf("UpdateUser(password %q) = %v, want Invalid", pw, err)
			}
			if err := e.EnableRoot(ctx, admin, datastore.Secret(pw)); !fault.Is(err, fault.Invalid) {
				t.Errorf("EnableRoot(password %q) = %v, want Invalid", pw, err)
			}
		}
		// Valid names that are ACL rule words are only names.
		for _, n := range []string{"on", "nopass", "reset", "allkeys"} {
			if err := e.UpdateUser(ctx, admin, "app2", "%", datastore.UserChange{Name: n}); err != nil {
				t.Fatalf("rename to %q: %v", n, err)
			}
			if err := srv.goClient(t, n, "app-pw-2").Ping(ctx).Err(); err != nil {
				t.Errorf("%s: %v", n, err)
			}
			if err := srv.goClient(t, n, "wrong").Ping(ctx).Err(); err == nil {
				t.Errorf("user %q logs in with any password", n)
			}
			if err := e.UpdateUser(ctx, admin, n, "%", datastore.UserChange{Name: "app2"}); err != nil {
				t.Fatal(err)
			}
		}
		// ACL rule syntax in a password is only a password.
		for _, pw := range []string{"nopass", ">x ~* +@all", "#" + strings.Repeat("0", 64), `"; FLUSHALL`} {
			if err := e.UpdateUser(ctx, admin, "app2", "%", datastore.UserChange{Password: datastore.Secret(pw)}); err != nil {
				t.Fatalf("UpdateUser(password %q): %v", pw, err)
			}
			if err := srv.goClient(t, "app2", pw).Ping(ctx).Err(); err != nil {
				t.Errorf("app2 with password %q: %v", pw, err)
			}
			if err := srv.goClient(t, "app2", "x").Ping(ctx).Err(); err == nil {
				t.Errorf("after password %q any password works", pw)
			}
		}
		if err := e.UpdateUser(ctx, admin, "app2", "%", datastore.UserChange{Password: "app-pw-3"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Restart", func(t *testing.T) {
		if err := e.EnableRoot(ctx, admin, "r00t-pw-3"); err != nil {
			t.Fatal(err)
		}
		srv.stop(t)
		srv.start(t)
		if err := srv.goClient(t, "app2", "app-pw-3").Ping(ctx).Err(); err != nil {
			t.Errorf("app2 after restart: %v", err)
		}
		if err := srv.goClient(t, "root", "r00t-pw-3").Ping(ctx).Err(); err != nil {
			t.Errorf("root after restart: %v", err)
		}
		acl, err := os.ReadFile(filepath.Join(srv.spec.DataDir, aclName))
		if err != nil || strings.Contains(string(acl), "pw-") {
			t.Errorf("aclfile = %q, %v", acl, err)
		}
	})

	if logs := srv.logs.String(); strings.Contains(logs, "-pw-") || strings.Contains(logs, string(adminPassword)) {
		t.Errorf("a password reached the logs:\n%s", logs)
	}
}
