package admintest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
	"github.com/hoard-db/hoard/internal/fault"
)

// Client does what a tenant's client does, as any account, so that the
// suite checks the engine's behaviour and not only what the admin calls
// report. Each call opens a new connection over TCP and closes it.
type Client interface {
	// Login reports whether user logs in with password: nil if the engine
	// accepts them (even when the user may do nothing yet).
	Login(ctx context.Context, user string, password datastore.Secret) error
	// Write writes something (a table, a key) in database db as user; nil
	// if the engine allows it. db is "" for engines without databases.
	Write(ctx context.Context, user string, password datastore.Secret, db string) error
	// Privileged does, as user, something only the engine's superuser
	// equivalent may (create and drop a role or a database, read the slow
	// log), leaving nothing behind; nil if the engine allows it.
	Privileged(ctx context.Context, user string, password datastore.Secret) error
}

// Runtime is a setting changed on the running server, which a restart
// must take away (the engine renders its configuration again and resets
// what its Preparer resets).
type Runtime struct {
	// Set changes the setting on the running server, as hoard's admin.
	Set func(ctx context.Context) error
	// IsSet reports whether the server has the changed value now.
	IsSet func(ctx context.Context) (bool, error)
}

// Harness is what the suite needs of one engine.
type Harness struct {
	// Engine is the engine under test.
	Engine datastore.Engine
	// Server is a running server of Engine, not bootstrapped yet: the
	// suite bootstraps it with Admin and restarts it (the Restart case).
	Server *enginetest.Server
	// Admin is hoard's admin account at Server.
	Admin datastore.Conn
	// Client acts as the engine's users.
	Client Client
	// Runtime is a runtime setting for the Restart case; nil when the
	// engine has none (NoRuntime says why).
	Runtime   *Runtime
	NoRuntime string
}

// A kase is one case of the suite.
type kase struct {
	name        string
	explanation string
	applies     func(e *env) string // why it does not apply, "" if it does
	run         func(e *env) error
}

var cases = []kase{
	{"Databases", "CreateDatabases makes databases ListDatabases shows (once each, a repeated create is harmless); " +
		"DeleteDatabase drops one, and a second DeleteDatabase is ErrDatabaseNotFound", needsDatabases, testDatabases},
	{"Users", "CreateUsers makes users that ListUsers and GetUser show and that log in with their password only " +
		"(a repeated create is harmless); DeleteUser drops one (it no longer logs in), a second is ErrUserNotFound", nil, testUsers},
	{"Password", "UpdateUser with a new password: the old one is refused, the new one works", nil, testPassword},
	{"Access", "GrantAccess lets a user write in a database it could not, GetUser shows it; RevokeAccess takes it away " +
		"(a second revoke is ErrAccessNotFound); a grant on a missing database is ErrDatabaseNotFound", needsDatabases, testAccess},
	{"Root", "EnableRoot makes a superuser that logs in and does what only the superuser may (a tenant user may not), " +
		"never listed as a user; a second EnableRoot sets its password; DisableRoot (twice) takes it away", needsRoot, testRoot},
	{"HostileNames", "a name with quotes, backticks, semicolons, control characters, unicode or past the length " +
		"limits is refused by the Validator and the admin calls with fault.Invalid, or stored and shown exactly; " +
		"it never changes anything else", nil, testHostileNames},
	{"Restart", "users, their passwords and grants, databases and root survive a restart; a runtime setting does not", nil, testRestart},
}

func needsDatabases(e *env) string {
	if e.dbs == nil {
		return fmt.Sprintf("%s has no databases (no datastore.DatabaseAdmin)", e.h.Engine.Name())
	}
	return ""
}

func needsRoot(e *env) string {
	if e.root == nil {
		return fmt.Sprintf("%s has no datastore.RootAdmin", e.h.Engine.Name())
	}
	return ""
}

// env is the state of the suite's run.
type env struct {
	// refused and stored count the hostile names of each outcome.
	refused, stored int
	t               *testing.T
	h               *Harness
	users           datastore.UserAdmin
	dbs             datastore.DatabaseAdmin // nil without databases
	root            datastore.RootAdmin     // nil without root
	valid           datastore.Validator     // nil without a Validator
}

// Run bootstraps the harness's server and runs every case against it, in
// order (Restart last), each as a subtest reporting every violation it
// finds. A case that needs a capability the engine lacks is skipped with
// the reason.
func Run(t *testing.T, h Harness) {
	t.Helper()
	ctx := testCtx(t)
	if err := h.Engine.Bootstrap(ctx, h.Admin); err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	e := &env{t: t, h: &h}
	var ok bool
	if e.users, ok = h.Engine.(datastore.UserAdmin); !ok {
		t.Fatalf("%s has no datastore.UserAdmin: every engine has users", h.Engine.Name())
	}
	if d, ok := h.Engine.(datastore.DatabaseAdmin); ok {
		e.dbs = d
	}
	e.root, _ = h.Engine.(datastore.RootAdmin)
	e.valid, _ = h.Engine.(datastore.Validator)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.applies != nil {
				if why := c.applies(e); why != "" {
					t.Skipf("not applicable: %s", why)
				}
			}
			e.t = t
			if err := c.run(e); err != nil {
				t.Errorf("%s:\n%v", c.explanation, err)
			}
		})
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// violations collects a case's violations.
type violations []error

func (v *violations) add(err error) {
	if err != nil {
		*v = append(*v, err)
	}
}

func (v *violations) addf(format string, args ...any) { *v = append(*v, fmt.Errorf(format, args...)) }

func (v violations) err() error { return errors.Join(v...) }

// dbNames lists the databases' names.
func (e *env) dbNames(ctx context.Context) ([]string, error) {
	dbs, err := e.dbs.ListDatabases(ctx, e.h.Admin)
	if err != nil {
		return nil, fmt.Errorf("ListDatabases: %w", err)
	}
	var out []string
	for _, d := range dbs {
		out = append(out, d.Name)
	}
	return out, nil
}

// userNames lists the users' names.
func (e *env) userNames(ctx context.Context) ([]string, error) {
	us, err := e.users.ListUsers(ctx, e.h.Admin)
	if err != nil {
		return nil, fmt.Errorf("ListUsers: %w", err)
	}
	var out []string
	for _, u := range us {
		out = append(out, u.Name)
	}
	return out, nil
}

func count(names []string, name string) int {
	n := 0
	for _, x := range names {
		if x == name {
			n++
		}
	}
	return n
}

// createDB creates databases; the case fails at once if it cannot.
func (e *env) createDB(ctx context.Context, names ...string) error {
	var dbs []datastore.Database
	for _, n := range names {
		dbs = append(dbs, datastore.Database{Name: n})
	}
	if err := e.dbs.CreateDatabases(ctx, e.h.Admin, dbs); err != nil {
		return fmt.Errorf("CreateDatabases(%q): %w", names, err)
	}
	return nil
}

// user is a tenant user of the suite, with access to dbs.
func user(name string, pw datastore.Secret, dbs ...string) datastore.User {
	return datastore.User{Name: name, Host: "%", Password: pw, Databases: dbs}
}

func (e *env) createUsers(ctx context.Context, us ...datastore.User) error {
	if err := e.h.Engine.CreateUsers(ctx, e.h.Admin, us); err != nil {
		return fmt.Errorf("CreateUsers: %w", err)
	}
	return nil
}

// Engine users are shared by the whole server: every case uses names of
// its own (short: MariaDB allows 16 characters).

func testDatabases(e *env) error {
	ctx := testCtx(e.t)
	var v violations
	if err := e.createDB(ctx, "ctdb_a", "ctdb_b"); err != nil {
		return err
	}
	if err := e.createDB(ctx, "ctdb_a", "ctdb_b"); err != nil {
		v.addf("a repeated create: %w", err)
	}
	names, err := e.dbNames(ctx)
	if err != nil {
		return err
	}
	for _, n := range []string{"ctdb_a", "ctdb_b"} {
		if c := count(names, n); c != 1 {
			v.addf("ListDatabases = %q: %s %d times, want once", names, n, c)
		}
	}
	if !slices.IsSorted(names) {
		v.addf("ListDatabases = %q, want sorted by name", names)
	}
	if err := e.dbs.DeleteDatabase(ctx, e.h.Admin, "ctdb_b"); err != nil {
		v.addf("DeleteDatabase: %w", err)
	}
	if names, err := e.dbNames(ctx); err != nil || count(names, "ctdb_b") != 0 || count(names, "ctdb_a") != 1 {
		v.addf("after DeleteDatabase(ctdb_b): ListDatabases = %q, %v; want ctdb_a without ctdb_b", names, err)
	}
	if err := e.dbs.DeleteDatabase(ctx, e.h.Admin, "ctdb_b"); !errors.Is(err, datastore.ErrDatabaseNotFound) {
		v.addf("a second DeleteDatabase = %v, want ErrDatabaseNotFound", err)
	}
	return v.err()
}

func testUsers(e *env) error {
	ctx := testCtx(e.t)
	cl := e.h.Client
	var v violations
	u1, u2 := user("ctu_a", "Ct-pw-a1"), user("ctu_b", "Ct-pw-b1")
	if err := e.createUsers(ctx, u1, u2); err != nil {
		return err
	}
	if err := e.createUsers(ctx, u1); err != nil {
		v.addf("a repeated create: %w", err)
	}
	names, err := e.userNames(ctx)
	if err != nil {
		return err
	}
	for _, n := range []string{u1.Name, u2.Name} {
		if c := count(names, n); c != 1 {
			v.addf("ListUsers = %q: %s %d times, want once", names, n, c)
		}
	}
	for _, hidden := range []string{e.h.Engine.AdminUser(), e.h.Admin.User} {
		if count(names, hidden) != 0 {
			v.addf("ListUsers = %q shows hoard's admin account %q", names, hidden)
		}
	}
	if got, err := e.users.GetUser(ctx, e.h.Admin, u1.Name, u1.Host); err != nil || got.Name != u1.Name {
		v.addf("GetUser(%s) = %+v, %v", u1.Name, got, err)
	}
	if _, err := e.users.GetUser(ctx, e.h.Admin, "ctu_none", "%"); !errors.Is(err, datastore.ErrUserNotFound) {
		v.addf("GetUser of a missing user = %v, want ErrUserNotFound", err)
	}
	if err := cl.Login(ctx, u1.Name, u1.Password); err != nil {
		v.addf("%s with its password: %w", u1.Name, err)
	}
	if err := cl.Login(ctx, u1.Name, "Ct-wrong-pw"); err == nil {
		v.addf("%s logs in with a wrong password", u1.Name)
	}
	if err := cl.Login(ctx, u1.Name, u2.Password); err == nil {
		v.addf("%s logs in with %s's password", u1.Name, u2.Name)
	}
	if err := e.users.DeleteUser(ctx, e.h.Admin, u2.Name, u2.Host); err != nil {
		v.addf("DeleteUser: %w", err)
	}
	if err := cl.Login(ctx, u2.Name, u2.Password); err == nil {
		v.addf("%s logs in after DeleteUser", u2.Name)
	}
	if names, err := e.userNames(ctx); err != nil || count(names, u2.Name) != 0 {
		v.addf("after DeleteUser: ListUsers = %q, %v; want no %s", names, err, u2.Name)
	}
	if err := e.users.DeleteUser(ctx, e.h.Admin, u2.Name, u2.Host); !errors.Is(err, datastore.ErrUserNotFound) {
		v.addf("a second DeleteUser = %v, want ErrUserNotFound", err)
	}
	return v.err()
}

func testPassword(e *env) error {
	ctx := testCtx(e.t)
	cl := e.h.Client
	var v violations
	u := user("ctu_pw", "Ct-pw-old1")
	if err := e.createUsers(ctx, u); err != nil {
		return err
	}
	if err := e.users.UpdateUser(ctx, e.h.Admin, u.Name, u.Host, datastore.UserChange{Password: "Ct-pw-new2"}); err != nil {
		return fmt.Errorf("UpdateUser(password): %w", err)
	}
	if err := cl.Login(ctx, u.Name, u.Password); err == nil {
		v.addf("the old password still logs in")
	}
	if err := cl.Login(ctx, u.Name, "Ct-pw-new2"); err != nil {
		v.addf("the new password: %w", err)
	}
	// CreateUsers of an existing user sets its password too.
	if err := e.createUsers(ctx, user(u.Name, "Ct-pw-new3")); err != nil {
		v.add(err)
	} else if err := cl.Login(ctx, u.Name, "Ct-pw-new3"); err != nil {
		v.addf("CreateUsers of an existing user did not set its password: %w", err)
	}
	if err := e.users.UpdateUser(ctx, e.h.Admin, "ctu_none", "%", datastore.UserChange{Password: "Ct-pw-x1"}); !errors.Is(err, datastore.ErrUserNotFound) {
		v.addf("UpdateUser of a missing user = %v, want ErrUserNotFound", err)
	}
	return v.err()
}

func testAccess(e *env) error {
	ctx := testCtx(e.t)
	cl := e.h.Client
	var v violations
	if err := e.createDB(ctx, "ctdb_acc", "ctdb_own"); err != nil {
		return err
	}
	u := user("ctu_acc", "Ct-pw-acc1", "ctdb_own")
	if err := e.createUsers(ctx, u); err != nil {
		return err
	}
	if err := cl.Write(ctx, u.Name, u.Password, "ctdb_own"); err != nil {
		v.addf("writing in the database CreateUsers gave access to: %w", err)
	}
	if err := cl.Write(ctx, u.Name, u.Password, "ctdb_acc"); err == nil {
		v.addf("the user writes in ctdb_acc before any grant")
	}
	if err := e.users.GrantAccess(ctx, e.h.Admin, u.Name, u.Host, []string{"ctdb_acc"}); err != nil {
		return fmt.Errorf("GrantAccess: %w", err)
	}
	if err := e.users.GrantAccess(ctx, e.h.Admin, u.Name, u.Host, []string{"ctdb_acc"}); err != nil {
		v.addf("a repeated GrantAccess: %w", err)
	}
	if err := cl.Write(ctx, u.Name, u.Password, "ctdb_acc"); err != nil {
		v.addf("writing after GrantAccess: %w", err)
	}
	if got, err := e.users.GetUser(ctx, e.h.Admin, u.Name, u.Host); err != nil || !slices.Equal(got.Databases, []string{"ctdb_acc", "ctdb_own"}) {
		v.addf("GetUser after GrantAccess = %+v, %v; want databases [ctdb_acc ctdb_own]", got, err)
	}
	if err := e.users.GrantAccess(ctx, e.h.Admin, u.Name, u.Host, []string{"ctdb_none"}); !errors.Is(err, datastore.ErrDatabaseNotFound) {
		v.addf("GrantAccess on a missing database = %v, want ErrDatabaseNotFound", err)
	}
	if err := e.users.GrantAccess(ctx, e.h.Admin, "ctu_none", "%", []string{"ctdb_acc"}); !errors.Is(err, datastore.ErrUserNotFound) {
		v.addf("GrantAccess of a missing user = %v, want ErrUserNotFound", err)
	}
	if err := e.users.RevokeAccess(ctx, e.h.Admin, u.Name, u.Host, "ctdb_acc"); err != nil {
		return errors.Join(append(v, fmt.Errorf("RevokeAccess: %w", err))...)
	}
	if err := cl.Write(ctx, u.Name, u.Password, "ctdb_acc"); err == nil {
		v.addf("the user writes in ctdb_acc after RevokeAccess")
	}
	if err := cl.Write(ctx, u.Name, u.Password, "ctdb_own"); err != nil {
		v.addf("RevokeAccess of another database took ctdb_own away: %w", err)
	}
	if got, err := e.users.GetUser(ctx, e.h.Admin, u.Name, u.Host); err != nil || !slices.Equal(got.Databases, []string{"ctdb_own"}) {
		v.addf("GetUser after RevokeAccess = %+v, %v; want databases [ctdb_own]", got, err)
	}
	if err := e.users.RevokeAccess(ctx, e.h.Admin, u.Name, u.Host, "ctdb_acc"); !errors.Is(err, datastore.ErrAccessNotFound) {
		v.addf("a second RevokeAccess = %v, want ErrAccessNotFound", err)
	}
	return v.err()
}

func testRoot(e *env) error {
	ctx := testCtx(e.t)
	cl := e.h.Client
	r := e.root
	name := r.RootUser()
	var v violations
	if on, err := r.RootEnabled(ctx, e.h.Admin); err != nil || on {
		v.addf("RootEnabled on a new server = %v, %v; want false", on, err)
	}
	if err := r.EnableRoot(ctx, e.h.Admin, "Ct-root-pw1"); err != nil {
		return fmt.Errorf("EnableRoot: %w", err)
	}
	if on, err := r.RootEnabled(ctx, e.h.Admin); err != nil || !on {
		v.addf("RootEnabled after EnableRoot = %v, %v; want true", on, err)
	}
	if err := cl.Login(ctx, name, "Ct-root-pw1"); err != nil {
		v.addf("root logs in: %w", err)
	}
	if err := cl.Privileged(ctx, name, "Ct-root-pw1"); err != nil {
		v.addf("root does what only the superuser may: %w", err)
	}
	u := user("ctu_nonroot", "Ct-pw-nr1")
	if err := e.createUsers(ctx, u); err != nil {
		v.add(err)
	} else if err := cl.Privileged(ctx, u.Name, u.Password); err == nil {
		v.addf("a tenant user does what only the superuser may")
	}
	if names, err := e.userNames(ctx); err != nil || count(names, name) != 0 {
		v.addf("ListUsers with root enabled = %q, %v; want root not listed", names, err)
	}
	if err := r.EnableRoot(ctx, e.h.Admin, "Ct-root-pw2"); err != nil {
		v.addf("a second EnableRoot: %w", err)
	}
	if err := cl.Login(ctx, name, "Ct-root-pw1"); err == nil {
		v.addf("root's first password works after a second EnableRoot")
	}
	if err := cl.Login(ctx, name, "Ct-root-pw2"); err != nil {
		v.addf("root's second password: %w", err)
	}
	if err := r.DisableRoot(ctx, e.h.Admin); err != nil {
		return errors.Join(append(v, fmt.Errorf("DisableRoot: %w", err))...)
	}
	if err := cl.Login(ctx, name, "Ct-root-pw2"); err == nil {
		v.addf("root logs in after DisableRoot")
	}
	if on, err := r.RootEnabled(ctx, e.h.Admin); err != nil || on {
		v.addf("RootEnabled after DisableRoot = %v, %v; want false", on, err)
	}
	if err := r.DisableRoot(ctx, e.h.Admin); err != nil {
		v.addf("a second DisableRoot: %w", err)
	}
	if err := e.h.Engine.Ping(ctx, e.h.Admin); err != nil {
		v.addf("hoard's admin account after root's life: %w", err)
	}
	return v.err()
}

// hostile returns names that an engine must refuse or store exactly.
func hostile(base string) []string {
	return []string{
		base + "'q", base + "`b", base + `"d`, base + ";x", base + "; DROP DATABASE ctdb_canary; --",
		base + "') OR ('1'='1", base + `\x`, base + "\x00z", base + "\nz", base + "\r\nFLUSHALL",
		base + " x", base + "-ünï", base + "日本", base + "%", base + "_", "x" + base + "\u202e",
		base + strings.Repeat("n", 16-len(base)), base + strings.Repeat("n", 17-len(base)),
		base + strings.Repeat("n", 32-len(base)), base + strings.Repeat("n", 63-len(base)),
		base + strings.Repeat("n", 64-len(base)), base + strings.Repeat("n", 65-len(base)),
		base + strings.Repeat("n", 200),
	}
}

func testHostileNames(e *env) error {
	ctx := testCtx(e.t)
	var v violations
	canaryUser := user("ctu_canary", "Ct-pw-can1")
	if err := e.createUsers(ctx, canaryUser); err != nil {
		return err
	}
	usersBefore, err := e.userNames(ctx)
	if err != nil {
		return err
	}
	var dbsBefore []string
	if e.dbs != nil {
		if err := e.createDB(ctx, "ctdb_canary"); err != nil {
			return err
		}
		if dbsBefore, err = e.dbNames(ctx); err != nil {
			return err
		}
		for _, n := range hostile("ctd") {
			v.add(e.hostileDatabase(ctx, n))
		}
	}
	for _, n := range hostile("ctu") {
		v.add(e.hostileUser(ctx, n))
	}
	e.t.Logf("hostile names: %d refused with fault.Invalid, %d stored exactly", e.refused, e.stored)
	// Nothing else changed.
	if after, err := e.userNames(ctx); err != nil || !slices.Equal(after, usersBefore) {
		v.addf("users after the hostile names = %q, %v; want as before, %q", after, err, usersBefore)
	}
	if err := e.h.Client.Login(ctx, canaryUser.Name, canaryUser.Password); err != nil {
		v.addf("the canary user after the hostile names: %w", err)
	}
	if e.dbs != nil {
		if after, err := e.dbNames(ctx); err != nil || !slices.Equal(after, dbsBefore) {
			v.addf("databases after the hostile names = %q, %v; want as before, %q", after, err, dbsBefore)
		}
	}
	return v.err()
}

// hostileDatabase checks one hostile database name.
func (e *env) hostileDatabase(ctx context.Context, name string) error {
	db := datastore.Database{Name: name}
	refused := false
	if e.valid != nil {
		err := e.valid.ValidateDatabase(db)
		if err != nil && !fault.Is(err, fault.Invalid) {
			return fmt.Errorf("ValidateDatabase(%q) = %v, want nil or fault.Invalid", name, err)
		}
		refused = err != nil
	}
	err := e.dbs.CreateDatabases(ctx, e.h.Admin, []datastore.Database{db})
	switch {
	case refused && !fault.Is(err, fault.Invalid):
		return fmt.Errorf("CreateDatabases(%q), refused by ValidateDatabase, = %v; want fault.Invalid", name, err)
	case err != nil && !fault.Is(err, fault.Invalid):
		return fmt.Errorf("CreateDatabases(%q) = %v, want nil or fault.Invalid", name, err)
	case err != nil:
		e.refused++
		if derr := e.dbs.DeleteDatabase(ctx, e.h.Admin, name); !fault.Is(derr, fault.Invalid) && !errors.Is(derr, datastore.ErrDatabaseNotFound) {
			return fmt.Errorf("DeleteDatabase(%q) of a refused name = %v, want fault.Invalid or ErrDatabaseNotFound", name, derr)
		}
		return nil
	}
	e.stored++
	names, lerr := e.dbNames(ctx)
	if lerr != nil {
		return lerr
	}
	var errs []error
	if count(names, name) != 1 {
		errs = append(errs, fmt.Errorf("database %q was accepted but ListDatabases = %q does not show it exactly", name, names))
	}
	if err := e.dbs.DeleteDatabase(ctx, e.h.Admin, name); err != nil {
		errs = append(errs, fmt.Errorf("DeleteDatabase(%q) of an accepted name: %w", name, err))
	}
	return errors.Join(errs...)
}

// hostileUser checks one hostile user name.
func (e *env) hostileUser(ctx context.Context, name string) error {
	u := user(name, "Ct-pw-hostile1")
	refused := false
	if e.valid != nil {
		err := e.valid.ValidateUser(u)
		if err != nil && !fault.Is(err, fault.Invalid) {
			return fmt.Errorf("ValidateUser(%q) = %v, want nil or fault.Invalid", name, err)
		}
		refused = err != nil
	}
	err := e.h.Engine.CreateUsers(ctx, e.h.Admin, []datastore.User{u})
	switch {
	case refused && !fault.Is(err, fault.Invalid):
		return fmt.Errorf("CreateUsers(%q), refused by ValidateUser, = %v; want fault.Invalid", name, err)
	case err != nil && !fault.Is(err, fault.Invalid):
		return fmt.Errorf("CreateUsers(%q) = %v, want nil or fault.Invalid", name, err)
	case err != nil:
		e.refused++
		if derr := e.users.DeleteUser(ctx, e.h.Admin, name, u.Host); !fault.Is(derr, fault.Invalid) && !errors.Is(derr, datastore.ErrUserNotFound) {
			return fmt.Errorf("DeleteUser(%q) of a refused name = %v, want fault.Invalid or ErrUserNotFound", name, derr)
		}
		return nil
	}
	e.stored++
	var errs []error
	names, lerr := e.userNames(ctx)
	if lerr != nil {
		return lerr
	}
	if count(names, name) != 1 {
		errs = append(errs, fmt.Errorf("user %q was accepted but ListUsers = %q does not show it exactly", name, names))
	}
	if err := e.h.Client.Login(ctx, name, u.Password); err != nil {
		errs = append(errs, fmt.Errorf("user %q was accepted but does not log in by that name: %w", name, err))
	}
	if err := e.users.DeleteUser(ctx, e.h.Admin, name, u.Host); err != nil {
		errs = append(errs, fmt.Errorf("DeleteUser(%q) of an accepted name: %w", name, err))
	}
	return errors.Join(errs...)
}

func testRestart(e *env) error {
	ctx := testCtx(e.t)
	cl := e.h.Client
	var v violations
	u := user("ctu_rst", "Ct-pw-rst1")
	db := ""
	if e.dbs != nil {
		db = "ctdb_rst"
		if err := e.createDB(ctx, db); err != nil {
			return err
		}
		u.Databases = []string{db}
	}
	if err := e.createUsers(ctx, u); err != nil {
		return err
	}
	if e.root != nil {
		if err := e.root.EnableRoot(ctx, e.h.Admin, "Ct-root-rst1"); err != nil {
			return fmt.Errorf("EnableRoot: %w", err)
		}
	}
	if e.h.Runtime != nil {
		if err := e.h.Runtime.Set(ctx); err != nil {
			return fmt.Errorf("setting the runtime setting: %w", err)
		}
		if on, err := e.h.Runtime.IsSet(ctx); err != nil || !on {
			v.addf("the runtime setting before the restart: set %v, %v; want set", on, err)
		}
	} else {
		e.t.Logf("no runtime setting: %s", e.h.NoRuntime)
	}
	e.h.Server.Restart(e.t)
	if err := cl.Login(ctx, u.Name, u.Password); err != nil {
		v.addf("the user after the restart: %w", err)
	}
	if err := cl.Write(ctx, u.Name, u.Password, db); err != nil {
		v.addf("the user's access after the restart: %w", err)
	}
	if names, err := e.userNames(ctx); err != nil || count(names, u.Name) != 1 {
		v.addf("ListUsers after the restart = %q, %v; want %s", names, err, u.Name)
	}
	if e.dbs != nil {
		if names, err := e.dbNames(ctx); err != nil || count(names, db) != 1 {
			v.addf("ListDatabases after the restart = %q, %v; want %s", names, err, db)
		}
	}
	if e.root != nil {
		if err := cl.Login(ctx, e.root.RootUser(), "Ct-root-rst1"); err != nil {
			v.addf("root after the restart: %w", err)
		}
		if err := e.root.DisableRoot(ctx, e.h.Admin); err != nil {
			v.addf("DisableRoot after the restart: %w", err)
		}
	}
	if e.h.Runtime != nil {
		if on, err := e.h.Runtime.IsSet(ctx); err != nil || on {
			v.addf("the runtime setting after the restart: set %v, %v; want it gone", on, err)
		}
	}
	return v.err()
}
