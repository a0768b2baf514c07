package driver

import (
	"context"
	"errors"

	"github.com/hoard-db/hoard/internal/datastore"
)

// ErrNotFound means the driver knows nothing of the instance.
var ErrNotFound = errors.New("driver: instance not found")

// Spec describes one instance to a driver.
type Spec struct {
	InstanceID string
	// TenantID is the project owning the instance; drivers that separate
	// tenants (the Kubernetes driver's namespaces) use it.
	TenantID string
	Engine   string // datastore engine name, e.g. "mariadb"
	Address  string
	Port     int
	RAMMB    int
	VolumeGB int
	// Config holds the attached configuration group's values (see
	// datastore.Spec.Config).
	Config map[string]string `json:",omitempty"`
	// ReplicaOf makes the instance a replica of that source (see
	// datastore.Replicator); nil for a source or a standalone instance.
	ReplicaOf *datastore.ReplicaSource `json:",omitempty"`
	// Replicated: see datastore.Spec.Replicated.
	Replicated bool `json:",omitempty"`
	// Synchronous: see datastore.Spec.Synchronous.
	Synchronous bool `json:",omitempty"`
	// Logs: see datastore.Spec.Logs.
	Logs []string `json:",omitempty"`
	// Access is who may connect to the instance (AccessEnforcer).
	Access Access `json:",omitzero"`
	// TLSNames are further names (IP addresses or DNS names) that the
	// instance's certificate carries besides Address: the addresses
	// clients reach it through and verify it by, its HA group's. A
	// driver that serves TLS issues the certificate for Address and
	// these, and issues a new one when they change.
	TLSNames []string `json:",omitempty"`
}

// Access is who may connect to an instance's engine over the network.
type Access struct {
	// Allowed are the networks (canonical CIDR prefixes, IPv4 or IPv6)
	// whose clients may connect; none means every network (no filter).
	Allowed []string `json:",omitempty"`
	// Peers are the instances whose engines must always get through
	// whatever Allowed says: the instance's replicas, its source and the
	// other members of its HA group (replication connects engine to
	// engine). hoard's own connections (admin, health, backups, the HA
	// group proxy) always get through.
	Peers []string `json:",omitempty"`
}

// State is what the driver observes of an instance's engine.
type State string

// Observed states.
const (
	StateRunning State = "running" // process alive (not necessarily ready)
	StateStopped State = "stopped" // no process
	StateAbsent  State = "absent"  // nothing provisioned
)

// EventKind says what happened to an engine outside an explicit call.
type EventKind string

// Event kinds reported to an Observer.
const (
	// EventExited: the engine exited although it should run. The driver
	// restarts it by itself (with back-off).
	EventExited EventKind = "exited"
	// EventRecovered: an engine that had exited runs and answers again.
	EventRecovered EventKind = "recovered"
)

// Event is reported by a driver to its Observer.
type Event struct {
	InstanceID string
	Kind       EventKind
	Detail     string
}

// Observer receives events; it must not block for long.
type Observer func(Event)

// Driver runs instances. Every method is idempotent and safe for concurrent
// use; operations on one instance are serialised by the driver.
type Driver interface {
	// Provision creates what the instance needs before its first start
	// (directories, config, initialised data). Repeating it is harmless.
	Provision(ctx context.Context, s Spec) error
	// Start starts the engine unless it already runs, and from then on
	// keeps it running (restarting it if it dies) until Stop or Destroy.
	// It returns once the process is started, not once it is ready.
	Start(ctx context.Context, s Spec) error
	// Stop stops the engine gracefully, escalating to a kill after a grace
	// period; a no-op if it is not running.
	Stop(ctx context.Context, id string) error
	// Restart stops the engine (if running) and starts it again with the
	// configuration rendered from s; only the database service restarts.
	Restart(ctx context.Context, s Spec) error
	// Destroy stops the engine and removes everything the instance had
	// (processes, files, volume); a no-op if nothing is left.
	Destroy(ctx context.Context, id string) error
	// State reports what the driver observes now.
	State(ctx context.Context, id string) (State, error)
	// UsedBytes reports the disk space the instance's data uses.
	UsedBytes(ctx context.Context, id string) (int64, error)
	// Conn returns how hoard reaches the engine as its admin account; the
	// password is filled in by the caller.
	Conn(s Spec) datastore.Conn
	// Recover re-attaches to the engines of instances that outlived a hoard
	// restart (keeping the running ones supervised), and removes the
	// processes and files of instances not in specs (orphans).
	Recover(ctx context.Context, specs []Spec) error
	// Close stops supervising (engines keep running) and releases resources.
	Close() error
}

// Isolation is an optional Driver capability: whether one instance's engine
// is kept from every other instance's files and processes by the operating
// system (its own OS user, its own container). A driver without it is
// taken to isolate instances. When it does not, a tenant that can run
// programs or read files through its engine (root enabled) could reach
// other tenants, so the service refuses root unless the operator allows it.
type Isolation interface {
	IsolatesInstances() bool
}

// AccessEnforcer is an optional Driver capability of drivers that can keep
// clients outside an instance's allowed networks from connecting to it
// (Spec.Access). Drivers without it cannot: the service then refuses a
// non-empty list rather than leave an instance open that its tenant
// believes closed. Start, Restart and Recover apply s.Access too, so that
// neither a hoard restart nor a host reboot leaves an instance open.
type AccessEnforcer interface {
	// AccessAvailable returns nil when the driver can enforce access on
	// this host, else an error saying why not (no packet filter, no
	// privilege to change it, no network policies).
	AccessAvailable() error
	// SetAccess applies s.Access to instance s now, replacing what was
	// applied before: an empty s.Access.Allowed removes the filter. It is
	// idempotent; when it fails, what was in force before stays.
	SetAccess(ctx context.Context, s Spec) error
}

// VolumeResizer is an optional Driver capability of drivers that enforce an
// instance's volume size and can grow it. Drivers without it only record a
// new size (the service stores it either way).
type VolumeResizer interface {
	// ResizeVolume grows instance s's volume to s.VolumeGB GiB, keeping its
	// data. The engine may be stopped while the volume grows; when
	// ResizeVolume returns nil the engine has been started again (as Start:
	// started, not necessarily ready) with the configuration rendered from s.
	// A volume already at least that large is left alone (the engine is only
	// started if it does not run). It is idempotent and safe to repeat after
	// a failure or a crash at any point: a repeat converges. Shrinking is
	// never done.
	ResizeVolume(ctx context.Context, s Spec) error
}

// Addresser is an optional Driver capability of drivers whose instances have
// a stable name that clients use to reach them (the Kubernetes driver's
// Service DNS names). The service records that name as the instance's
// address instead of taking one from its pool of local addresses; drivers
// without it get an address from the pool in Spec.Address.
type Addresser interface {
	// Address returns the stable name clients use to reach instance s: a
	// DNS name or an IP address, without a port. It is pure (no I/O), and
	// depends only on s.InstanceID and s.TenantID, so that it is the same
	// for the whole life of the instance and on every hoard replica; two
	// instances never share one. "" means the driver has none for s (the
	// service then takes one from its pool).
	Address(s Spec) string
}

// Readier is an optional Driver capability of drivers that have their own,
// authoritative signal that an instance's engine is ready to serve (the
// Kubernetes driver: the pod's Ready condition, which the kubelet sets from
// a readiness probe running the engine's own check inside the container).
// The service waits on it, after a start or restart, instead of connecting
// to the engine itself; drivers without it are waited on by pinging the
// engine at Conn.
type Readier interface {
	// WaitReady blocks until the engine of instance s, running the spec
	// the driver last applied for it, is ready by the driver's signal, and
	// then returns nil. It changes nothing, is safe for concurrent use and
	// may be called any number of times (it returns at once for an engine
	// that is ready).
	//
	// It waits as long as ctx allows: the caller bounds the wait with a
	// deadline. When ctx ends first, it returns an error wrapping ctx.Err()
	// (context.DeadlineExceeded or context.Canceled) that says what the
	// driver last saw. Transient failures reaching the signal (an API
	// server that does not answer) are retried inside the wait; an error
	// that waiting cannot cure (an invalid spec, a closed driver) is
	// returned at once, and never wraps a context error.
	WaitReady(ctx context.Context, s Spec) error
}
