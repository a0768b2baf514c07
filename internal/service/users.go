package service

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/store"
)

// The operations of this file (API reference §10–§12) act on the engine
// inline: they are quick SQL statements over the engine's socket, so the
// client sees their effect as soon as it gets its 202. They run through
// withEngine (inline.go), which serialises them per instance and makes them
// mutually exclusive with the actions that take the engine away.

// Schema is the part of the service that administers what lives inside an
// instance's engine: databases, users and their access, and root.
type Schema struct {
	*deps
}

// withWritableEngine is withEngine for an operation that changes the
// engine's databases, users or root: a read replica takes those from its
// source (its engine is read-only, and some engines do not replicate
// accounts), so they are refused on it (400) and made on the source.
func (s *Schema) withWritableEngine(ctx context.Context, tenantID, id, op string, fn func(ctx context.Context, t adminTarget) error) error {
	return s.withEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		if src := t.inst.ReplicaOf; src != "" {
			return fault.Errorf(fault.Invalid, op, "Instance %s is a read replica: change its databases, users and root on its source %s.", t.inst.ID, src)
		}
		if err := fn(ctx, t); err != nil {
			return err
		}
		s.applyToReplicas(ctx, op, t, fn)
		return nil
	})
}

// applyToReplicas makes an account change made on source t on its ready
// replicas too, when the engine does not replicate accounts
// (datastore.AccountsNotReplicated). A replica that refuses or cannot be
// reached is logged: the change stands on the source, which the request
// was about, and a replica re-created later is seeded with it.
func (s *Schema) applyToReplicas(ctx context.Context, op string, t adminTarget, fn func(ctx context.Context, t adminTarget) error) {
	if _, ok := t.eng.(datastore.AccountsNotReplicated); !ok {
		return
	}
	replicas, err := s.st.ListReplicas(ctx, t.inst.ID)
	if err != nil {
		s.log.Warn("account change not applied to replicas", "instance_id", t.inst.ID, "op", op, "err", err)
		return
	}
	for _, r := range replicas {
		if !slices.Contains(adminAllowed, r.Status) {
			s.log.Warn("account change not applied to a replica that is not ready", "instance_id", r.ID, "source_id", t.inst.ID, "op", op, "status", string(r.Status))
			continue
		}
		rt, _, err := s.reach(ctx, r)
		if err == nil {
			err = fn(ctx, rt)
		}
		if err != nil {
			s.log.Warn("account change not applied to a replica", "instance_id", r.ID, "source_id", t.inst.ID, "op", op, "err", err)
		}
	}
}

// adminTimeout bounds one inline engine operation.
const adminTimeout = 30 * time.Second

// rootPasswordLen is the number of random bytes of a generated root
// password (base64url: 32 characters, 192 bits).
const rootPasswordLen = 24

// adminAllowed are the statuses in which databases, users and root can be
// changed (reference §10: the database must be running).
var adminAllowed = []model.InstanceStatus{model.StatusActive, model.StatusRestartRequired}

// adminTarget is an instance ready for an inline engine operation.
type adminTarget struct {
	inst *model.Instance
	eng  datastore.Engine
	conn datastore.Conn
}

// notReady is the 422 of reference §10.
func notReady(op string, inst *model.Instance) error {
	return fault.Errorf(fault.Unprocessable, op, "Instance %s is not ready, status: %s.", inst.ID, inst.Status)
}

// notSupported is the 501 for an engine without the capability.
func notSupported(op string, inst *model.Instance, what string) error {
	return fault.Errorf(fault.NotImplemented, op, "The '%s' operation is not supported for the '%s' datastore.", what, inst.Datastore)
}

func databaseAdmin(op string, t adminTarget) (datastore.DatabaseAdmin, error) {
	if a, ok := t.eng.(datastore.DatabaseAdmin); ok {
		return a, nil
	}
	return nil, notSupported(op, t.inst, "database")
}

func userAdmin(op string, t adminTarget) (datastore.UserAdmin, error) {
	if a, ok := t.eng.(datastore.UserAdmin); ok {
		return a, nil
	}
	return nil, notSupported(op, t.inst, "user")
}

func rootAdmin(op string, t adminTarget) (datastore.RootAdmin, error) {
	if a, ok := t.eng.(datastore.RootAdmin); ok {
		return a, nil
	}
	return nil, notSupported(op, t.inst, "root")
}

// CreateDatabases implements api.Backend: 400 for an invalid, reserved,
// repeated or existing name, then the databases are created by the same
// engine call as at instance create.
func (s *Schema) CreateDatabases(ctx context.Context, tenantID, id string, dbs []datastore.Database) error {
	const op = "database.create"
	if len(dbs) == 0 {
		return fault.New(fault.Invalid, op, "No databases given.")
	}
	return s.withWritableEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		da, err := databaseAdmin(op, t)
		if err != nil {
			return err
		}
		if err := s.checkDatabasesUsers(t.eng, dbs, nil); err != nil {
			return err
		}
		have, err := da.ListDatabases(ctx, t.conn)
		if err != nil {
			return err
		}
		for _, d := range dbs {
			if slices.ContainsFunc(have, func(h datastore.Database) bool { return h.Name == d.Name }) {
				return fault.Errorf(fault.Invalid, op, "A database with the name \"%s\" already exists.", d.Name)
			}
		}
		if err := da.CreateDatabases(ctx, t.conn, dbs); err != nil {
			return err
		}
		s.log.Info("databases created", "instance_id", id, "tenant_id", tenantID, "count", len(dbs))
		return nil
	})
}

// ListDatabases implements api.Backend: one page by name, and whether more
// follow.
func (s *Schema) ListDatabases(ctx context.Context, tenantID, id string, page store.Page) ([]datastore.Database, bool, error) {
	const op = "database.list"
	var out []datastore.Database
	var more bool
	err := s.withEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		da, err := databaseAdmin(op, t)
		if err != nil {
			return err
		}
		all, err := da.ListDatabases(ctx, t.conn)
		if err != nil {
			return err
		}
		out, more = pageOf(all, page, func(d datastore.Database) int { return strings.Compare(d.Name, page.Marker) })
		return nil
	})
	return out, more, err
}

// pageOf returns the items after the marker (afterMarker > 0) up to
// page.Limit, and whether more follow. items are sorted.
func pageOf[T any](items []T, page store.Page, afterMarker func(T) int) ([]T, bool) {
	start := 0
	if page.Marker != "" {
		start = len(items)
		for i, it := range items {
			if afterMarker(it) > 0 {
				start = i
				break
			}
		}
	}
	items = items[start:]
	if page.Limit > 0 && len(items) > page.Limit {
		return items[:page.Limit], true
	}
	return items, false
}

// DeleteDatabase implements api.Backend: 404 for a missing database, 400
// for an invalid or reserved name.
func (s *Schema) DeleteDatabase(ctx context.Context, tenantID, id, name string) error {
	const op = "database.delete"
	return s.withWritableEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		da, err := databaseAdmin(op, t)
		if err != nil {
			return err
		}
		if err := da.DeleteDatabase(ctx, t.conn, name); err != nil {
			return err
		}
		s.log.Info("database deleted", "instance_id", id, "tenant_id", tenantID)
		return nil
	})
}

// CreateUsers implements api.Backend: every user is validated, must be new
// and may only name existing databases; then the users are created by the
// same engine call as at instance create.
func (s *Schema) CreateUsers(ctx context.Context, tenantID, id string, users []datastore.User) error {
	const op = "user.create"
	if len(users) == 0 {
		return fault.New(fault.Invalid, op, "No users given.")
	}
	return s.withWritableEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		ua, err := userAdmin(op, t)
		if err != nil {
			return err
		}
		// Only users that name databases need the engine's databases (an
		// engine without databases, such as Redis, still has users).
		var dbs []datastore.Database
		if slices.ContainsFunc(users, func(u datastore.User) bool { return len(u.Databases) > 0 }) {
			da, err := databaseAdmin(op, t)
			if err != nil {
				return err
			}
			have, err := da.ListDatabases(ctx, t.conn)
			if err != nil {
				return err
			}
			for _, d := range have {
				dbs = append(dbs, datastore.Database{Name: d.Name})
			}
		}
		for i := range users {
			users[i].Host = cmp.Or(users[i].Host, "%")
			for _, d := range users[i].Databases {
				if !slices.ContainsFunc(dbs, func(h datastore.Database) bool { return h.Name == d }) {
					if err := s.validateDatabaseName(t.eng, d); err != nil {
						return err
					}
					return fault.Errorf(fault.NotFound, op, "Database %s cannot be found on the instance.", d)
				}
			}
		}
		if err := s.checkUsers(t.eng, users); err != nil {
			return err
		}
		for _, u := range users {
			_, err := ua.GetUser(ctx, t.conn, u.Name, u.Host)
			switch {
			case err == nil:
				return fault.Errorf(fault.Invalid, op, "A user with the name \"%s\" already exists.", u.Name)
			case !errors.Is(err, datastore.ErrUserNotFound):
				return err
			}
		}
		if err := t.eng.CreateUsers(ctx, t.conn, users); err != nil {
			return err
		}
		s.log.Info("users created", "instance_id", id, "tenant_id", tenantID, "count", len(users))
		return nil
	})
}

// validateDatabaseName checks one database name with the engine's rules.
func (s *Schema) validateDatabaseName(eng datastore.Engine, name string) error {
	if v, ok := eng.(datastore.Validator); ok {
		return v.ValidateDatabase(datastore.Database{Name: name})
	}
	return nil
}

// checkUsers applies the user rules of instance create (names, reserved,
// repeats) without requiring the databases to be in the request.
func (s *Schema) checkUsers(eng datastore.Engine, users []datastore.User) error {
	stripped := make([]datastore.User, len(users))
	for i, u := range users {
		u.Databases = nil
		stripped[i] = u
	}
	if err := s.checkDatabasesUsers(eng, nil, stripped); err != nil {
		return err
	}
	if v, ok := eng.(datastore.Validator); ok {
		for _, u := range users {
			if err := v.ValidateUser(u); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListUsers implements api.Backend: one page ordered by name, then host;
// the marker is "name@host" (split on the last '@').
func (s *Schema) ListUsers(ctx context.Context, tenantID, id string, page store.Page) ([]datastore.UserInfo, bool, error) {
	const op = "user.list"
	var out []datastore.UserInfo
	var more bool
	err := s.withEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		ua, err := userAdmin(op, t)
		if err != nil {
			return err
		}
		all, err := ua.ListUsers(ctx, t.conn)
		if err != nil {
			return err
		}
		mName, mHost := SplitUserHost(page.Marker)
		out, more = pageOf(all, page, func(u datastore.UserInfo) int {
			return cmp.Or(strings.Compare(u.Name, mName), strings.Compare(u.Host, mHost))
		})
		return nil
	})
	return out, more, err
}

// SplitUserHost splits "user@host" on the last '@' (reference §12.2); no
// '@' means host "%". A trailing '@' stays part of the name, as in Trove.
func SplitUserHost(s string) (name, host string) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 || i == len(s)-1 {
		return s, "%"
	}
	return s[:i], s[i+1:]
}

// GetUser implements api.Backend.
func (s *Schema) GetUser(ctx context.Context, tenantID, id, name, host string) (*datastore.UserInfo, error) {
	const op = "user.get"
	var out datastore.UserInfo
	err := s.withEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		ua, err := userAdmin(op, t)
		if err != nil {
			return err
		}
		out, err = ua.GetUser(ctx, t.conn, name, host)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateUser implements api.Backend: rename, move and/or set the password
// of one user; at least one change.
func (s *Schema) UpdateUser(ctx context.Context, tenantID, id, name, host string, ch datastore.UserChange) error {
	const op = "user.update"
	if ch == (datastore.UserChange{}) {
		return fault.New(fault.Invalid, op, "User update error: nothing to change (give name, host or password).")
	}
	return s.withWritableEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		ua, err := userAdmin(op, t)
		if err != nil {
			return err
		}
		if ch.Name != "" && strings.EqualFold(ch.Name, t.eng.AdminUser()) {
			return fault.Errorf(fault.Invalid, op, "User name \"%s\" is on the reserved list.", ch.Name)
		}
		if err := ua.UpdateUser(ctx, t.conn, name, host, ch); err != nil {
			return err
		}
		s.log.Info("user updated", "instance_id", id, "tenant_id", tenantID, "user", name)
		return nil
	})
}

// UpdatePasswords implements api.Backend: every user must exist (else 404
// and nothing changes); then each gets its new password.
func (s *Schema) UpdatePasswords(ctx context.Context, tenantID, id string, users []datastore.User) error {
	const op = "user.update_passwords"
	if len(users) == 0 {
		return fault.New(fault.Invalid, op, "No users given.")
	}
	return s.withWritableEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		ua, err := userAdmin(op, t)
		if err != nil {
			return err
		}
		for i := range users {
			users[i].Host = cmp.Or(users[i].Host, "%")
		}
		if err := s.checkUsers(t.eng, users); err != nil {
			return err
		}
		for _, u := range users {
			if _, err := ua.GetUser(ctx, t.conn, u.Name, u.Host); err != nil {
				return err
			}
		}
		for _, u := range users {
			if err := ua.UpdateUser(ctx, t.conn, u.Name, u.Host, datastore.UserChange{Password: u.Password}); err != nil {
				return err
			}
		}
		s.log.Info("user passwords changed", "instance_id", id, "tenant_id", tenantID, "count", len(users))
		return nil
	})
}

// DeleteUser implements api.Backend.
func (s *Schema) DeleteUser(ctx context.Context, tenantID, id, name, host string) error {
	const op = "user.delete"
	return s.withWritableEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		ua, err := userAdmin(op, t)
		if err != nil {
			return err
		}
		if err := ua.DeleteUser(ctx, t.conn, name, host); err != nil {
			return err
		}
		s.log.Info("user deleted", "instance_id", id, "tenant_id", tenantID, "user", name)
		return nil
	})
}

// GrantAccess implements api.Backend.
func (s *Schema) GrantAccess(ctx context.Context, tenantID, id, name, host string, dbs []string) error {
	const op = "user.grant"
	if len(dbs) == 0 {
		return fault.New(fault.Invalid, op, "No databases given.")
	}
	return s.withWritableEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		ua, err := userAdmin(op, t)
		if err != nil {
			return err
		}
		if err := ua.GrantAccess(ctx, t.conn, name, host, dbs); err != nil {
			return err
		}
		s.log.Info("access granted", "instance_id", id, "tenant_id", tenantID, "user", name, "count", len(dbs))
		return nil
	})
}

// RevokeAccess implements api.Backend.
func (s *Schema) RevokeAccess(ctx context.Context, tenantID, id, name, host, db string) error {
	const op = "user.revoke"
	return s.withWritableEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		ua, err := userAdmin(op, t)
		if err != nil {
			return err
		}
		if err := ua.RevokeAccess(ctx, t.conn, name, host, db); err != nil {
			return err
		}
		s.log.Info("access revoked", "instance_id", id, "tenant_id", tenantID, "user", name)
		return nil
	})
}

// EnableRoot implements api.Backend: it sets password (a generated one if
// empty) on the engine's network superuser and records the enabling. It
// returns the user name and the password, which is shown only once.
func (s *Schema) EnableRoot(ctx context.Context, tenantID, id string, password datastore.Secret) (string, datastore.Secret, error) {
	const op = "root.enable"
	if iso, ok := s.cfg.Driver.(driver.Isolation); ok && !iso.IsolatesInstances() && !s.cfg.AllowSharedRoot {
		return "", "", fault.New(fault.Forbidden, op,
			"Root cannot be enabled on this deployment: its instances share one operating-system user, so root on one would reach the others. The operator can run hoard as root (one user per instance) or allow it with --allow-shared-root.")
	}
	if password == "" {
		password = datastore.Secret(secret.Password(rootPasswordLen))
	}
	var user string
	err := s.withWritableEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		ra, err := rootAdmin(op, t)
		if err != nil {
			return err
		}
		if err := ra.EnableRoot(ctx, t.conn, password); err != nil {
			return err
		}
		if err := s.st.RecordRootEnabled(ctx, id, "", s.now()); err != nil {
			return mapStoreErr(op, id, err)
		}
		user = ra.RootUser()
		s.log.Info("root enabled", "instance_id", id, "tenant_id", tenantID)
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return user, password, nil
}

// RootEnabled implements api.Backend: true once root was ever enabled
// (reference §10, Kilo behaviour), from the store's root history.
func (s *Schema) RootEnabled(ctx context.Context, tenantID, id string) (bool, error) {
	const op = "root.check"
	var on bool
	err := s.withEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		var err error
		on, err = s.rootEverEnabled(ctx, op, t)
		return err
	})
	return on, err
}

func (s *Schema) rootEverEnabled(ctx context.Context, op string, t adminTarget) (bool, error) {
	if _, err := rootAdmin(op, t); err != nil {
		return false, err
	}
	_, err := s.st.RootEnabledAt(ctx, t.inst.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// DisableRoot implements api.Backend: 404 if root was never enabled;
// otherwise the network superuser is removed (again, if need be).
func (s *Schema) DisableRoot(ctx context.Context, tenantID, id string) error {
	const op = "root.disable"
	return s.withWritableEngine(ctx, tenantID, id, op, func(ctx context.Context, t adminTarget) error {
		on, err := s.rootEverEnabled(ctx, op, t)
		if err != nil {
			return err
		}
		if !on {
			return fault.New(fault.NotFound, op, "Root user has never been enabled on the instance.")
		}
		ra, _ := rootAdmin(op, t)
		if err := ra.DisableRoot(ctx, t.conn); err != nil {
			return err
		}
		s.log.Info("root disabled", "instance_id", id, "tenant_id", tenantID)
		return nil
	})
}
