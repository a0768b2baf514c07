package store

import (
	"context"
	"errors"
	"time"

	"github.com/hoard-db/hoard/internal/model"
)

// ErrInUse is returned when a record cannot be removed because others
// refer to it (a configuration group attached to instances).
var ErrInUse = errors.New("store: in use")

// Configurations is an optional Store capability: configuration groups
// (API reference §14) and the parameter catalogue of each datastore
// version. Lookups with a non-empty tenantID only see that tenant's groups.
type Configurations interface {
	// CreateConfiguration inserts c; zero Created/Updated are set to now.
	// ErrExists on a duplicate id.
	CreateConfiguration(ctx context.Context, c *model.Configuration) error
	// GetConfiguration returns one group; tenantID "" matches any tenant.
	GetConfiguration(ctx context.Context, tenantID, id string) (*model.Configuration, error)
	// ListConfigurations returns a tenant's groups ordered by id, one page;
	// tenantID "" lists every tenant's.
	ListConfigurations(ctx context.Context, tenantID string, page Page) ([]*model.Configuration, error)
	// UpdateConfiguration reads group id (of tenantID, "" for any), calls fn
	// on it and writes it back (bumping Updated) in one transaction; if fn
	// fails nothing is written and its error is returned.
	UpdateConfiguration(ctx context.Context, tenantID, id string, fn func(*model.Configuration) error) (*model.Configuration, error)
	// DeleteConfiguration removes group id of tenantID ("" for any):
	// ErrNotFound if there is none, ErrInUse if an instance has it attached.
	DeleteConfiguration(ctx context.Context, tenantID, id string) error
	// ConfigurationInstances returns the instances that have group id
	// attached, ordered by id, one page.
	ConfigurationInstances(ctx context.Context, id string, page Page) ([]*model.Instance, error)
	// CountConfigurationInstances returns how many instances have group id
	// attached.
	CountConfigurationInstances(ctx context.Context, id string) (int, error)

	// PutParameters stores the parameter catalogue (opaque JSON) of a
	// datastore version, replacing an earlier one.
	PutParameters(ctx context.Context, versionID string, params []byte) error
	// GetParameters returns the stored catalogue of a datastore version, or
	// ErrNotFound.
	GetParameters(ctx context.Context, versionID string) ([]byte, error)
	// ListParameters returns every stored catalogue, ordered by datastore
	// version id (for copying a data set).
	ListParameters(ctx context.Context) ([]ParameterSet, error)
	// InsertParameters inserts a catalogue as it is, its Updated time
	// included (zero: now). ErrExists if the version already has one.
	InsertParameters(ctx context.Context, p ParameterSet) error
}

// ParameterSet is the stored parameter catalogue of a datastore version.
type ParameterSet struct {
	VersionID string
	// Params is the catalogue, opaque JSON. Backends may normalise its
	// formatting (PostgreSQL keeps it as jsonb): compare it decoded.
	Params  []byte
	Updated time.Time
}
