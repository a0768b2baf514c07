package api

import (
	"context"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/identity"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
	"github.com/hoard-db/hoard/internal/store"
)

// Backend is what the HTTP layer needs from the domain. Every error it
// returns is classified with package fault (unclassified errors are
// internal: 500 with a request id, the text only in the log).
type Backend interface {
	ListFlavors(ctx context.Context) ([]model.Flavor, error)
	GetFlavor(ctx context.Context, id int) (*model.Flavor, error)
	ListDatastores(ctx context.Context) ([]model.Datastore, error)

	// CreateInstance validates req and records the instance (status BUILD)
	// and its create task.
	CreateInstance(ctx context.Context, tenantID string, req service.CreateInstanceRequest) (*service.InstanceDetail, error)
	GetInstance(ctx context.Context, tenantID, id string) (*service.InstanceDetail, error)
	// ListInstances returns one page ordered by id and whether more follow.
	ListInstances(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, bool, error)
	// ListInstanceSummaries is ListInstances with only the summary view's
	// fields set (ID, Name, Status, FlavorID, VolumeSize, Datastore,
	// DatastoreVersion, Address; see store.Instances.ListInstanceSummaries),
	// which is cheaper: the summary list uses it.
	ListInstanceSummaries(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, bool, error)
	RenameInstance(ctx context.Context, tenantID, id, name string) error
	// SetInstanceAccess replaces the networks allowed to connect to the
	// instance (none: every network) and applies them to it at once.
	SetInstanceAccess(ctx context.Context, tenantID, id string, cidrs []string) error
	// InstanceCA returns the PEM certificate of the CA that the tenant's
	// instance id's TLS certificate chains to (NotImplemented when
	// instances serve no TLS).
	InstanceCA(ctx context.Context, tenantID, id string) ([]byte, error)
	DeleteInstance(ctx context.Context, tenantID, id string) error
	RestartInstance(ctx context.Context, tenantID, id string) error
	// ListReplicas returns the replicas of the tenant's instance id.
	ListReplicas(ctx context.Context, tenantID, id string) ([]*model.Instance, error)
	// DetachReplica makes the tenant's replica id a standalone instance.
	DetachReplica(ctx context.Context, tenantID, id string) error
	// PromoteReplica makes the tenant's replica id the source of its set
	// (promote_to_replica_source); EjectReplicaSource replaces the tenant's
	// source id, whose engine is gone, by its most advanced replica.
	PromoteReplica(ctx context.Context, tenantID, id string) error
	EjectReplicaSource(ctx context.Context, tenantID, id string) error

	// Databases, users and root (reference §10–§12) act on the engine of
	// the tenant's instance id at once; the instance must be ACTIVE or
	// RESTART_REQUIRED (else Unprocessable). Users are addressed by name
	// and host; host "" means "%".
	CreateDatabases(ctx context.Context, tenantID, id string, dbs []datastore.Database) error
	// ListDatabases returns one page ordered by name and whether more follow.
	ListDatabases(ctx context.Context, tenantID, id string, page store.Page) ([]datastore.Database, bool, error)
	DeleteDatabase(ctx context.Context, tenantID, id, name string) error
	CreateUsers(ctx context.Context, tenantID, id string, users []datastore.User) error
	// ListUsers returns one page ordered by name then host (the marker is
	// "name@host") and whether more follow.
	ListUsers(ctx context.Context, tenantID, id string, page store.Page) ([]datastore.UserInfo, bool, error)
	GetUser(ctx context.Context, tenantID, id, name, host string) (*datastore.UserInfo, error)
	UpdateUser(ctx context.Context, tenantID, id, name, host string, ch datastore.UserChange) error
	UpdatePasswords(ctx context.Context, tenantID, id string, users []datastore.User) error
	DeleteUser(ctx context.Context, tenantID, id, name, host string) error
	GrantAccess(ctx context.Context, tenantID, id, name, host string, dbs []string) error
	RevokeAccess(ctx context.Context, tenantID, id, name, host, db string) error
	// EnableRoot sets the root password (generated if password is empty)
	// and returns the root user name and the password.
	EnableRoot(ctx context.Context, tenantID, id string, password datastore.Secret) (string, datastore.Secret, error)
	// RootEnabled reports whether root was ever enabled.
	RootEnabled(ctx context.Context, tenantID, id string) (bool, error)
	// DisableRoot removes root; NotFound if it was never enabled.
	DisableRoot(ctx context.Context, tenantID, id string) error

	// Ready reports whether the backend can serve (metadata store reachable);
	// an error makes the API answer 503.
	Ready(ctx context.Context) error
}

// Authenticator validates tokens (implemented by package identity).
type Authenticator interface {
	// Authenticate returns the principal of a valid, unexpired token, or an
	// error of kind fault.Unauthorized.
	Authenticate(ctx context.Context, token string) (*identity.Principal, error)
}
