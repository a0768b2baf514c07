package datastore

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"syscall"
)

// ErrNotInstalled is returned by Discover when the engine is not installed.
var ErrNotInstalled = errors.New("datastore: engine not installed")

// ErrAdminLost means the engine answered but refused hoard's
// administrative account: its password, its privileges or the account
// itself were changed from inside the instance (by a tenant's root).
// Engines wrap it; the service shows the instance BLOCKED until a restart
// repairs the account.
var ErrAdminLost = errors.New("datastore: the administrative account was refused")

// Version is an installed engine version found by Discover.
type Version struct {
	Name    string // short name offered by the API, e.g. "10.11"
	Version string // full version, e.g. "10.11.19"
}

// Spec is what an engine needs to know to lay out and run one instance on
// the local host. Paths are absolute; the driver creates the directories.
type Spec struct {
	InstanceID string
	DataDir    string // owned by the instance user
	RunDir     string // socket and pid file; owned by the instance user
	LogDir     string // owned by the instance user
	ConfDir    string // written by hoard only; readable, not writable, by the instance user
	// FilesDir is a directory private to the instance, on its volume and
	// owned by the instance user, where the engine may read and write
	// files on a tenant's behalf (MariaDB's secure_file_priv); "" when the
	// driver has none (engines then use RunDir).
	FilesDir string
	Address  string // IP the engine listens on
	Port     int
	RAMMB    int // flavor RAM, sizes the engine's memory settings
	VolumeGB int
	// Config holds configuration group values (canonical strings by
	// parameter name, see Configurable) that Render writes after its own
	// settings, so they win; nil or empty means none.
	Config map[string]string
	// AdminUser and AdminPassword are hoard's administrative account, when
	// the driver knows it: an engine whose tenant root could change or drop
	// that account renders what re-creates it at every start (MariaDB's
	// init-file), so that a restart repairs it. Empty when unknown.
	AdminUser     string
	AdminPassword Secret
	// ReplicaOf, when set, makes the server a read-only replica of that
	// source (see Replicator); nil for a source or a standalone server.
	ReplicaOf *ReplicaSource
	// Replicated is set for a server that is (or was) the source of read
	// replicas: it keeps what replicas need to follow it (MariaDB's binary
	// log, which a standalone server does without: a full volume makes
	// MariaDB wait for space to write it, instead of failing the write).
	Replicated bool
	// TLS, when set, makes the server offer TLS on its network port (for
	// Redis, on its port + RedisTLSPortOffset) with these files; nil
	// means no TLS. Clients may still connect without it.
	TLS *TLSFiles
	// Synchronous is set for the members of an HA group: a commit is
	// acknowledged to the client only once a replica has it, where the
	// engine can do so in its configuration (MariaDB's semi-synchronous
	// replication; see SyncCommitter for PostgreSQL's).
	Synchronous bool
	// Logs are the USER logs enabled on the instance (see Logger), by
	// name; the recipe renders what makes the server write them.
	Logs []string
	// AllowedSources are the networks the instance's clients may connect
	// from (its access list, masked prefixes); empty means every address.
	// An engine that can enforce them itself (PostgreSQL's pg_hba.conf)
	// renders them, together with what hoard needs on this host (see
	// AccessReloader); the driver's packet filter is the first line, this
	// the second. Engines that cannot ignore them.
	AllowedSources []netip.Prefix
}

// File is a configuration file rendered by an engine, relative to ConfDir.
type File struct {
	Name    string
	Content []byte
}

// Conn tells how to reach an engine as hoard's administrative account.
type Conn struct {
	Address  string
	Port     int
	Socket   string // local Unix socket; preferred when set
	User     string
	Password Secret
}

// Secret is a password that never prints: it implements slog.LogValuer and
// fmt.Stringer with a redacted value.
type Secret string

// String implements fmt.Stringer without revealing the secret.
func (Secret) String() string { return "[redacted]" }

// LogValue implements slog.LogValuer without revealing the secret.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Database is a database (schema) to create.
type Database struct {
	Name         string
	CharacterSet string
	Collate      string
}

// User is an engine user to create, with the databases it gets all
// privileges on.
type User struct {
	Name      string
	Host      string
	Password  Secret
	Databases []string
}

// Process is the recipe for running one engine server as a local process.
// Every method is pure (no side effects) unless it says otherwise.
type Process interface {
	// Render returns the configuration files for spec.
	Render(spec Spec) ([]File, error)
	// InitArgs returns the command that initialises an empty data directory,
	// run as the instance user; nil if the engine needs no init. The driver
	// records a successful init with a marker of its own; an init that was
	// interrupted is redone from an emptied data directory.
	InitArgs(spec Spec) []string
	// ServerArgs returns the command that runs the server in the foreground,
	// run as the instance user in its own session.
	ServerArgs(spec Spec) []string
	// StopSignal is the signal that makes the server shut down cleanly.
	StopSignal() syscall.Signal
	// Socket returns the local socket path of spec's server ("" if none).
	Socket(spec Spec) string
}

// Engine is one database engine.
type Engine interface {
	// Name is the engine package name, e.g. "mariadb".
	Name() string
	// Datastores are the API datastore type names this engine is offered
	// under, e.g. "mysql" and "mariadb"; the first is the primary one.
	Datastores() []string
	// DefaultPort is the engine's standard port.
	DefaultPort() int
	// Discover returns the installed versions (ErrNotInstalled if none).
	Discover(ctx context.Context) ([]Version, error)
	// Process returns the local process recipe.
	Process() Process
	// Ping checks once whether the server answers at c; nil when it does.
	// It must not block longer than ctx allows.
	Ping(ctx context.Context, c Conn) error
	// Bootstrap makes a freshly initialised server ready for hoard: it
	// creates hoard's administrative account c.User with c.Password (reachable
	// over the socket and the network) and removes anonymous and password-less
	// accounts. It connects over the local socket with the engine's
	// post-init credentials. It is idempotent: run again, it only makes sure
	// the account exists with that password.
	Bootstrap(ctx context.Context, c Conn) error
	// CreateUsers creates users (or, if one exists, sets its password) and
	// grants each all privileges on its databases; idempotent.
	CreateUsers(ctx context.Context, c Conn, users []User) error
	// AdminUser is the name of hoard's own account inside the engine; it is
	// reserved and never shown through the API.
	AdminUser() string
}

// AdminChecker is an optional Engine capability: CheckAdmin tells whether
// hoard's administrative account c still logs in and holds every privilege
// hoard relies on. It returns nil if so, an error wrapping ErrAdminLost if
// the engine answers but refuses the account or the account lost
// privileges, and another error if the engine cannot be asked. It must
// not block past ctx.
type AdminChecker interface {
	CheckAdmin(ctx context.Context, c Conn) error
}

// AdminPinger is an optional Engine capability of engines that tell only a
// client logged in as their admin account that they cannot serve yet
// (Redis answers LOADING to it while it reads its dataset, NOAUTH to anyone
// else). Readiness waits then Ping with the admin account's credentials;
// other engines are pinged without (a real login costs them more, and
// their refusals already tell).
type AdminPinger interface {
	PingAsAdmin() bool
}

// Validator is an optional Engine capability: it checks database and user
// definitions (name rules, reserved names) before a request is accepted, so
// that bad input gets a 400 at once instead of a failed task later. Errors
// are fault.Invalid with a public message.
type Validator interface {
	ValidateDatabase(db Database) error
	ValidateUser(u User) error
}

// Preparer is an optional Process capability: Prepare is called by the
// driver before every start of the server (after Render, with the server
// not running), as hoard itself rather than as the instance user. Engines
// use it to reset state in the data directory that must not survive a
// restart (PostgreSQL's postgresql.auto.conf). It must be idempotent and
// quick, and must not follow symbolic links out of spec's directories.
type Preparer interface {
	Prepare(spec Spec) error
}

// Templater is an optional Process capability: the engine's init
// (InitArgs) writes nothing of one instance into the data directory — no
// password, no name, no address — so that the driver may initialise data
// directories ahead of time and give each to one new instance instead of
// running the init for it (a pool of pre-initialised data directories).
// Each such directory is used once: what an init makes unique (PostgreSQL's
// system identifier, InnoDB's files) stays unique to one instance. The
// instance's first start and Bootstrap then run as after a fresh init and
// set every password.
type Templater interface {
	// TemplateVersion identifies the programs that init and run the
	// server, and anything else of the host the init's output depends on
	// (e.g. the whole output of their --version): a directory initialised
	// under another identity is stale and is not used. It is asked before
	// every use of a directory, so it must be cheap when nothing changed
	// (engineproc.VersionCache).
	TemplateVersion(ctx context.Context) (string, error)
	// Templatable reports whether a directory initialised ahead of time
	// (InitArgs of a Spec with no Config, ReplicaOf, TLS or admin account,
	// in directories of the driver's) holds exactly what InitArgs(spec)
	// would write: false when spec asks for something the init reads.
	Templatable(spec Spec) bool
}
