package api

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// fakeEngine is the in-memory engine side of one fake instance.
type fakeEngine struct {
	dbs       []string
	users     map[string]*fakeUser // by name@host
	rootEver  bool
	rootPW    datastore.Secret
	rootCalls int
}

type fakeUser struct {
	name, host string
	password   datastore.Secret
	dbs        []string
}

var fakeReservedUsers = []string{"root", "os_admin", "mariadb.sys"}

// engineOf returns the instance's fake engine once it is ready (the same
// 404 and 422 rules as the service).
func (f *fakeBackend) engineOf(tenantID, id string) (*fakeEngine, error) {
	in, err := f.lookup(tenantID, id)
	if err != nil {
		return nil, err
	}
	if in.Status != model.StatusActive && in.Status != model.StatusRestartRequired {
		return nil, fault.Errorf(fault.Unprocessable, "fake", "Instance %s is not ready, status: %s.", id, in.Status)
	}
	if f.engines == nil {
		f.engines = map[string]*fakeEngine{}
	}
	e := f.engines[id]
	if e == nil {
		e = &fakeEngine{users: map[string]*fakeUser{}}
		f.engines[id] = e
	}
	return e, nil
}

func fakeCheckUser(name string) error {
	if name == "" || slices.Contains(fakeReservedUsers, name) || strings.ContainsAny(name, "'\";`,/\\") {
		return fault.Errorf(fault.Invalid, "fake", "'%s' is not a valid user name.", name)
	}
	return nil
}

func (e *fakeEngine) user(name, host string) (*fakeUser, error) {
	if err := fakeCheckUser(name); err != nil {
		return nil, err
	}
	u := e.users[name+"@"+cmp.Or(host, "%")]
	if u == nil {
		return nil, fault.Errorf(fault.NotFound, "fake", "User %s@%s cannot be found on the instance.", name, host)
	}
	return u, nil
}

func (f *fakeBackend) CreateDatabases(ctx context.Context, tenantID, id string, dbs []datastore.Database) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return err
	}
	for _, d := range dbs {
		if slices.Contains(e.dbs, d.Name) {
			return fault.Errorf(fault.Invalid, "fake", "A database with the name \"%s\" already exists.", d.Name)
		}
	}
	for _, d := range dbs {
		e.dbs = append(e.dbs, d.Name)
	}
	slices.Sort(e.dbs)
	return nil
}

func (f *fakeBackend) ListDatabases(ctx context.Context, tenantID, id string, page store.Page) ([]datastore.Database, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listedPages = append(f.listedPages, page)
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return nil, false, err
	}
	var out []datastore.Database
	for _, d := range e.dbs {
		if d > page.Marker {
			out = append(out, datastore.Database{Name: d})
		}
	}
	if len(out) > page.Limit {
		return out[:page.Limit], true, nil
	}
	return out, false, nil
}

func (f *fakeBackend) DeleteDatabase(ctx context.Context, tenantID, id, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return err
	}
	if name == "mysql" {
		return fault.New(fault.Invalid, "fake", `Database name "mysql" is on the reserved list.`)
	}
	i := slices.Index(e.dbs, name)
	if i < 0 {
		return fault.Errorf(fault.NotFound, "fake", "Database %s cannot be found on the instance.", name)
	}
	e.dbs = slices.Delete(e.dbs, i, i+1)
	return nil
}

func (f *fakeBackend) CreateUsers(ctx context.Context, tenantID, id string, users []datastore.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return err
	}
	for _, u := range users {
		if err := fakeCheckUser(u.Name); err != nil {
			return err
		}
		if e.users[u.Name+"@"+u.Host] != nil {
			return fault.Errorf(fault.Invalid, "fake", "A user with the name \"%s\" already exists.", u.Name)
		}
	}
	for _, u := range users {
		e.users[u.Name+"@"+u.Host] = &fakeUser{name: u.Name, host: u.Host, password: u.Password, dbs: slices.Clone(u.Databases)}
	}
	return nil
}

func (f *fakeBackend) ListUsers(ctx context.Context, tenantID, id string, page store.Page) ([]datastore.UserInfo, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listedPages = append(f.listedPages, page)
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return nil, false, err
	}
	var all []datastore.UserInfo
	for _, u := range e.users {
		all = append(all, datastore.UserInfo{Name: u.name, Host: u.host, Databases: slices.Sorted(slices.Values(u.dbs))})
	}
	slices.SortFunc(all, func(a, b datastore.UserInfo) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Host, b.Host))
	})
	var out []datastore.UserInfo
	for _, u := range all {
		if page.Marker == "" || u.Name+"@"+u.Host > page.Marker {
			out = append(out, u)
		}
	}
	if len(out) > page.Limit {
		return out[:page.Limit], true, nil
	}
	return out, false, nil
}

func (f *fakeBackend) GetUser(ctx context.Context, tenantID, id, name, host string) (*datastore.UserInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return nil, err
	}
	u, err := e.user(name, host)
	if err != nil {
		return nil, err
	}
	return &datastore.UserInfo{Name: u.name, Host: u.host, Databases: slices.Sorted(slices.Values(u.dbs))}, nil
}

func (f *fakeBackend) UpdateUser(ctx context.Context, tenantID, id, name, host string, ch datastore.UserChange) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return err
	}
	u, err := e.user(name, host)
	if err != nil {
		return err
	}
	f.lastUserChange = ch
	delete(e.users, u.name+"@"+u.host)
	u.name, u.host = cmp.Or(ch.Name, u.name), cmp.Or(ch.Host, u.host)
	u.password = cmp.Or(ch.Password, u.password)
	e.users[u.name+"@"+u.host] = u
	return nil
}

func (f *fakeBackend) UpdatePasswords(ctx context.Context, tenantID, id string, users []datastore.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return err
	}
	for _, u := range users {
		if _, err := e.user(u.Name, u.Host); err != nil {
			return err
		}
	}
	for _, u := range users {
		e.users[u.Name+"@"+u.Host].password = u.Password
	}
	return nil
}

func (f *fakeBackend) DeleteUser(ctx context.Context, tenantID, id, name, host string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return err
	}
	if _, err := e.user(name, host); err != nil {
		return err
	}
	delete(e.users, name+"@"+host)
	return nil
}

func (f *fakeBackend) GrantAccess(ctx context.Context, tenantID, id, name, host string, dbs []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return err
	}
	u, err := e.user(name, host)
	if err != nil {
		return err
	}
	for _, d := range dbs {
		if !slices.Contains(e.dbs, d) {
			return fault.Errorf(fault.NotFound, "fake", "Database %s cannot be found on the instance.", d)
		}
	}
	for _, d := range dbs {
		if !slices.Contains(u.dbs, d) {
			u.dbs = append(u.dbs, d)
		}
	}
	return nil
}

func (f *fakeBackend) RevokeAccess(ctx context.Context, tenantID, id, name, host, db string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return err
	}
	u, err := e.user(name, host)
	if err != nil {
		return err
	}
	i := slices.Index(u.dbs, db)
	if i < 0 {
		return fault.Errorf(fault.NotFound, "fake", "Database %s cannot be found on the instance.", db)
	}
	u.dbs = slices.Delete(u.dbs, i, i+1)
	return nil
}

func (f *fakeBackend) EnableRoot(ctx context.Context, tenantID, id string, password datastore.Secret) (string, datastore.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return "", "", err
	}
	e.rootCalls++
	e.rootEver, e.rootPW = true, cmp.Or(password, datastore.Secret("generated-"+strings.Repeat("x", e.rootCalls)))
	return "root", e.rootPW, nil
}

func (f *fakeBackend) RootEnabled(ctx context.Context, tenantID, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return false, err
	}
	return e.rootEver, nil
}

func (f *fakeBackend) DisableRoot(ctx context.Context, tenantID, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, err := f.engineOf(tenantID, id)
	if err != nil {
		return err
	}
	if !e.rootEver {
		return fault.New(fault.NotFound, "fake", "Root user has never been enabled on the instance.")
	}
	e.rootPW = ""
	return nil
}
