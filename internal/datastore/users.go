package datastore

import (
	"context"
	"errors"
)

// Sentinel errors of the optional administration capabilities. Engines
// wrap them; the service turns them into 404 faults with Trove's messages.
var (
	ErrDatabaseNotFound = errors.New("datastore: database not found")
	ErrUserNotFound     = errors.New("datastore: user not found")
	// ErrAccessNotFound means the user holds no grant on the database.
	ErrAccessNotFound = errors.New("datastore: access not found")
)

// UserInfo is an engine user as the API shows it: never its password.
type UserInfo struct {
	Name      string
	Host      string
	Databases []string // databases the user has privileges on, sorted
}

// UserChange is a change of a user's attributes; empty fields are kept.
type UserChange struct {
	Name     string
	Host     string
	Password Secret
}

// DatabaseAdmin is an optional Engine capability: creating, listing and
// dropping the tenant's databases; an engine without databases (Redis)
// does not have it. Every method connects as c, runs quickly and must not
// block past ctx. Reserved (system) databases are never listed and never
// dropped.
type DatabaseAdmin interface {
	// CreateDatabases creates databases; existing ones are left as they are
	// (idempotent, so a resumed task can repeat it).
	CreateDatabases(ctx context.Context, c Conn, dbs []Database) error
	// ListDatabases returns the tenant's databases sorted by name.
	ListDatabases(ctx context.Context, c Conn) ([]Database, error)
	// DeleteDatabase drops a database; ErrDatabaseNotFound if it does not
	// exist, a fault.Invalid error for a reserved or invalid name.
	DeleteDatabase(ctx context.Context, c Conn, name string) error
}

// UserAdmin is an optional Engine capability: the tenant's users and their
// access. Users are addressed by name and host (both exact). Reserved users
// (root, the engine's admin account, system accounts) are never listed,
// shown, changed or deleted: they are reported as not found or invalid.
// Invalid names, hosts or passwords are fault.Invalid errors whose message
// never contains the password.
type UserAdmin interface {
	// ListUsers returns the tenant's users sorted by name, then host.
	ListUsers(ctx context.Context, c Conn) ([]UserInfo, error)
	// GetUser returns one user; ErrUserNotFound if missing.
	GetUser(ctx context.Context, c Conn, name, host string) (UserInfo, error)
	// UpdateUser renames a user, moves it to another host and/or sets its
	// password, keeping its grants; ErrUserNotFound if missing. The caller
	// checks that the new name@host is free.
	UpdateUser(ctx context.Context, c Conn, name, host string, ch UserChange) error
	// DeleteUser drops a user; ErrUserNotFound if missing.
	DeleteUser(ctx context.Context, c Conn, name, host string) error
	// GrantAccess grants all privileges on each database;
	// ErrUserNotFound or ErrDatabaseNotFound if one is missing.
	GrantAccess(ctx context.Context, c Conn, name, host string, dbs []string) error
	// RevokeAccess revokes the privileges on one database;
	// ErrUserNotFound, or ErrAccessNotFound when the user has no grant there.
	RevokeAccess(ctx context.Context, c Conn, name, host, db string) error
}

// RootAdmin is an optional Engine capability: the superuser reachable from
// the network (Trove's "root"). Whether root was ever enabled is recorded by
// the service, not the engine.
type RootAdmin interface {
	// RootUser is the name of the superuser EnableRoot creates ("root").
	RootUser() string
	// EnableRoot creates the superuser, reachable from any host, with
	// password (or sets the password if it exists); idempotent.
	EnableRoot(ctx context.Context, c Conn, password Secret) error
	// DisableRoot removes the network superuser, so that no password logs
	// in as it any more; idempotent.
	DisableRoot(ctx context.Context, c Conn) error
	// RootEnabled reports whether the network superuser exists now.
	RootEnabled(ctx context.Context, c Conn) (bool, error)
}
