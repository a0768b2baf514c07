package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/store"
)

// Config wires a Service.
type Config struct {
	Store   store.Store
	Driver  driver.Driver
	Engines map[string]datastore.Engine // by Engine.Name()
	Sealer  *secret.Sealer
	// Notify wakes the task runner after a task was written; may be nil.
	Notify func()
	// Addresses are the candidate instance addresses, in allocation order.
	// A driver with the driver.Addresser capability names its instances'
	// addresses itself and the pool is not used.
	Addresses []string
	// Versions returns the datastore versions engine e offers (the first
	// becomes the default); an error means the engine is not offered. Nil
	// uses e.Discover: the versions installed on this host, which the local
	// driver runs. Drivers that run engines elsewhere (the Kubernetes
	// driver's images) set it. When it is set, a version's configuration
	// parameters, which are read from the engine installed on this host, are
	// only offered if that engine's version matches (see Parameters).
	Versions func(ctx context.Context, e datastore.Engine) ([]datastore.Version, error)
	// DefaultDatastore is the datastore type used when a create request
	// names none; default "mysql".
	DefaultDatastore string
	// MaxVolumeGB is the largest volume one instance may ask for (413 above).
	MaxVolumeGB int
	// MaxInstances is the per-tenant instance quota (413 above); 0 = none.
	MaxInstances int
	// ReadyTimeout bounds how long a create or restart waits for the engine
	// to answer; default 2 minutes.
	ReadyTimeout time.Duration
	// AllowSharedRoot lets tenants enable root although the driver does not
	// isolate instances from each other (driver.Isolation): then a tenant's
	// root can reach every other instance on the host. Only for a developer
	// alone on a laptop.
	AllowSharedRoot bool
	Logger          *slog.Logger
	Now             func() time.Time
}

// Service implements the domain operations (api.Backend), the task
// definitions and the supervision of observed engine state.
type Service struct {
	cfg Config
	st  store.Store
	log *slog.Logger

	usageMu sync.Mutex
	usage   map[string]usageEntry

	// admin serialises inline database, user and root operations per
	// instance (users.go).
	admin instanceLocks

	// bk is the backup state (backups.go); nil until SetBackups.
	bk *backupState

	// remoteVersions is set when Config.Versions was given: the catalogue
	// does not describe the engines installed on this host.
	remoteVersions bool
}

type usageEntry struct {
	gb  float64
	at  time.Time
	err error
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Store == nil || cfg.Driver == nil || cfg.Sealer == nil {
		panic("service: New needs a store, a driver and a sealer")
	}
	if cfg.DefaultDatastore == "" {
		cfg.DefaultDatastore = "mysql"
	}
	if cfg.MaxVolumeGB == 0 {
		cfg.MaxVolumeGB = 10
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Notify == nil {
		cfg.Notify = func() {}
	}
	remote := cfg.Versions != nil
	if !remote {
		cfg.Versions = func(ctx context.Context, e datastore.Engine) ([]datastore.Version, error) { return e.Discover(ctx) }
	}
	return &Service{cfg: cfg, st: cfg.Store, log: cfg.Logger, usage: map[string]usageEntry{}, remoteVersions: remote}
}

// Ready implements api.Backend: the metadata store must answer.
func (s *Service) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		return fault.Wrap(fault.Unavailable, "service.ready", "The metadata store is unreachable.", err)
	}
	return nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Second) }

// engineFor returns the engine that runs an instance.
func (s *Service) engineFor(inst *model.Instance) (datastore.Engine, error) {
	v, err := s.versionByID(context.Background(), inst.DatastoreVersionID)
	if err != nil {
		return nil, err
	}
	e, ok := s.cfg.Engines[v.Engine]
	if !ok {
		return nil, fmt.Errorf("service: engine %q of instance %s is not available", v.Engine, inst.ID)
	}
	return e, nil
}

// spec describes an instance to the driver.
func (s *Service) spec(ctx context.Context, inst *model.Instance) (driver.Spec, error) {
	v, err := s.versionByID(ctx, inst.DatastoreVersionID)
	if err != nil {
		return driver.Spec{}, err
	}
	f, err := s.st.GetFlavor(ctx, inst.FlavorID)
	if err != nil {
		return driver.Spec{}, fmt.Errorf("service: flavor %d of instance %s: %w", inst.FlavorID, inst.ID, err)
	}
	return driver.Spec{
		InstanceID: inst.ID,
		TenantID:   inst.TenantID,
		Engine:     v.Engine,
		Address:    inst.Address,
		Port:       inst.Port,
		RAMMB:      f.RAM,
		VolumeGB:   inst.VolumeSize,
		Config:     s.groupValues(ctx, inst),
	}, nil
}

// adminConn returns how to reach an instance's engine as hoard's admin.
func (s *Service) adminConn(inst *model.Instance, sp driver.Spec, e datastore.Engine) (datastore.Conn, error) {
	pw, err := s.cfg.Sealer.Open(inst.AdminSecret)
	if err != nil {
		return datastore.Conn{}, fmt.Errorf("service: admin secret of %s: %w", inst.ID, err)
	}
	c := s.cfg.Driver.Conn(sp)
	c.User = e.AdminUser()
	c.Password = datastore.Secret(pw)
	return c, nil
}

// Credentials returns the admin account of an instance's engine; the local
// driver uses it for its supervision probes.
func (s *Service) Credentials(instanceID string) (string, datastore.Secret) {
	inst, err := s.st.GetInstance(context.Background(), "", instanceID)
	if err != nil {
		return "", ""
	}
	e, err := s.engineFor(inst)
	if err != nil {
		return "", ""
	}
	pw, err := s.cfg.Sealer.Open(inst.AdminSecret)
	if err != nil {
		return "", ""
	}
	return e.AdminUser(), datastore.Secret(pw)
}

// notFound is the fault for an instance that does not exist or is not
// visible to the tenant.
func notFound(op, id string) error {
	return fault.Errorf(fault.NotFound, op, "Resource %s cannot be found.", id)
}

// mapStoreErr classifies common store errors for instance operations.
func mapStoreErr(op, id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return notFound(op, id)
	}
	var se *store.StateError
	if errors.As(err, &se) {
		return fault.Errorf(fault.Unprocessable, op,
			"Instance %s is not currently available for an action to be performed (instance status was %s).", id, se.Status)
	}
	return fmt.Errorf("%s %s: %w", op, id, err)
}
