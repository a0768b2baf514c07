package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/task"
)

// Config wires a Service.
type Config struct {
	// CACert is the PEM certificate of the CA that signs the instances'
	// TLS certificates (tls.go); nil when instances serve no TLS.
	CACert  []byte
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
	// names none; empty means a request must name one (400).
	DefaultDatastore string
	// MaxVolumeGB is the largest volume one instance may ask for (413 above).
	MaxVolumeGB int
	// MaxInstances is the default instance quota of a project (413
	// above; replicas count too); 0 = none. The defaults apply to projects
	// without limits of their own (quotas.go).
	MaxInstances int
	// MaxProjectVolumeGB is the default quota of volume GB of a project;
	// 0 = none.
	MaxProjectVolumeGB int
	// MaxProjectReplicas is the default quota of read replicas of a
	// project; 0 = none (replicas still count as instances).
	MaxProjectReplicas int
	// MaxReplicas is how many read replicas one source may have;
	// DefaultMaxReplicas if zero.
	MaxReplicas int
	// FailoverAfter turns automatic failover on (RunFailover): a source
	// with replicas whose engine has been down (SHUTDOWN) for this long,
	// and still does not answer, is ejected and its most advanced replica
	// promoted. Zero leaves it off.
	FailoverAfter time.Duration
	// HAAddresses are the candidate addresses of HA groups (their stable
	// write and read endpoints), in allocation order; none turns HA groups
	// off (501).
	HAAddresses []string
	// HAFailoverAfter is FailoverAfter for the sources of HA groups, where
	// automatic failover is always on; DefaultHAFailoverAfter if zero.
	HAFailoverAfter time.Duration
	// Router serves the HA groups' addresses (package groupproxy); nil
	// turns HA groups off (501).
	Router HARouter
	// WarmPool are the pools of instances created and started ahead of
	// time, each handed to a create that matches it (warmpool.go,
	// RunWarmPool); none keeps no pool.
	WarmPool []WarmPool
	// ReadyTimeout bounds how long a create or restart waits for the engine
	// to answer; default 2 minutes.
	ReadyTimeout time.Duration
	// RequireProjects makes every create of an instance, replica, HA group
	// or backup check, in its store transaction, that its project exists
	// (store.Quota.RequireProject): set it when the built-in identity keeps
	// the projects in the same store, so that a create cannot slip into a
	// project being deleted (store.Identity.DeleteProjectIfUnused). Off
	// for an external identity, whose projects the store does not hold.
	RequireProjects bool
	// AllowSharedRoot lets tenants enable root although the driver does not
	// isolate instances from each other (driver.Isolation): then a tenant's
	// root can reach every other instance on the host. Only for a developer
	// alone on a laptop.
	AllowSharedRoot bool
	// Backups turns backups, restores and schedules on; with no Storage
	// they are refused (501).
	Backups BackupConfig
	// OnBackup, if set, is told of every backup that completes, with its
	// record (size, datastore, creation time); metrics use it. It must not
	// block.
	OnBackup func(b *model.Backup)
	Logger   *slog.Logger
	Now      func() time.Time
}

// Service is hoard's domain: it implements api.Backend by composing one
// part per resource over shared dependencies (deps.go). Each part owns
// its operations, its task steps and its state:
//
//   - [Catalog]: flavors, datastores and versions (catalog.go);
//   - [Instances]: create, show, list, rename, restart, resize, delete,
//     their task steps and the supervision of observed engine state
//     (instances.go, resize.go, tasks.go, supervise.go);
//   - [Schema]: databases, users and root inside an instance's engine
//     (users.go);
//   - [Backups]: backups, restores and schedules (backups.go,
//     schedules.go);
//   - [Configurations]: configuration groups and the parameter catalogue
//     (configurations.go, memory.go);
//   - [HA]: HA instance groups over read replicas (ha.go,
//     ha_reconcile.go);
//   - [Logs]: the guest logs of instances (logs.go);
//   - [Quotas]: projects' quotas and limits (quotas.go).
//
// Where a new instance action goes: see the package documentation.
type Service struct {
	*deps
	*Catalog
	*Instances
	*Schema
	*Backups
	*Configurations
	*Quotas
	*HA
	*Logs
}

// New returns a Service. It does no I/O: Recover, at start-up, re-attaches
// engines and cleans up what an earlier hoard left.
func New(cfg Config) *Service {
	if cfg.Store == nil || cfg.Driver == nil || cfg.Sealer == nil {
		panic("service: New needs a store, a driver and a sealer")
	}
	if cfg.Backups.Storage != nil && cfg.Backups.WorkDir == "" {
		panic("service: backups need a work directory")
	}
	if cfg.Backups.MaxBackups == 0 {
		cfg.Backups.MaxBackups = DefaultMaxBackups
	}
	if cfg.MaxReplicas == 0 {
		cfg.MaxReplicas = DefaultMaxReplicas
	}
	if cfg.HAFailoverAfter == 0 {
		cfg.HAFailoverAfter = DefaultHAFailoverAfter
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
	d := &deps{cfg: cfg, st: cfg.Store, log: cfg.Logger, remoteVersions: remote}
	s := &Service{
		deps:           d,
		Catalog:        &Catalog{deps: d},
		Instances:      &Instances{deps: d, usage: map[string]usageEntry{}, warm: warmState{wake: make(chan struct{}, 1)}},
		Schema:         &Schema{deps: d},
		Backups:        &Backups{deps: d},
		Configurations: &Configurations{deps: d},
		Quotas:         &Quotas{deps: d},
		Logs:           &Logs{deps: d},
	}
	s.HA = &HA{deps: d, instances: s.Instances, backups: s.Backups, configs: s.Configurations}
	s.Instances.backups, s.Instances.configs = s.Backups, s.Configurations
	s.Backups.instances = s.Instances
	s.Backups.bs = labelledBackups{Backups: d.st, s: s.Backups} // artifacts.go
	return s
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

// Definitions returns the task definitions of every operation, to be
// registered with a task.Runner. Every step is idempotent.
func (s *Service) Definitions() []task.Definition {
	return append(s.Instances.definitions(), s.Backups.definitions()...)
}

// Recover prepares the service after a start: it removes the backup
// scratch directories and fails the backups that an earlier hoard left
// unfinished (Backups.recover), then re-attaches the driver to the engines
// of every known instance and lets it remove what belongs to no instance
// (Instances.recover). Call it once at start-up, before the task runner
// and the API start.
func (s *Service) Recover(ctx context.Context) error {
	if err := s.Backups.recover(ctx); err != nil {
		return err
	}
	return s.Instances.recover(ctx)
}
