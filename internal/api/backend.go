package api

import (
	"context"

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
	RenameInstance(ctx context.Context, tenantID, id, name string) error
	DeleteInstance(ctx context.Context, tenantID, id string) error
	RestartInstance(ctx context.Context, tenantID, id string) error

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
