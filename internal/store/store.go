package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hoard-db/hoard/internal/model"
)

// Sentinel errors. Backends wrap them; callers test with errors.Is.
var (
	ErrNotFound  = errors.New("store: not found")
	ErrExists    = errors.New("store: already exists")
	ErrLeaseLost = errors.New("store: task lease lost")
	// ErrNoAddress means every candidate address is taken.
	ErrNoAddress = errors.New("store: no free address")
	// ErrBusy means an inline engine operation holds a live lease on the
	// instance (see [InlineLeases]).
	ErrBusy = errors.New("store: instance busy with an inline operation")
	// ErrIsReplica means a replica was asked of an instance that is itself
	// a replica.
	ErrIsReplica = errors.New("store: the source is a replica")
	// ErrReplicaLimit means the source has as many replicas as it may.
	ErrReplicaLimit = errors.New("store: the source has the most replicas it may have")
	// ErrNoProject means a write for a project the identity records do not
	// hold, under a [Quota] with RequireProject.
	ErrNoProject = errors.New("store: no such project")
)

// ProjectInUseError is DeleteProjectIfUnused's refusal of a project that
// still owns something: Resources counts it.
type ProjectInUseError struct {
	ProjectID string
	Resources model.ProjectResources
}

func (e *ProjectInUseError) Error() string {
	r := e.Resources
	return fmt.Sprintf("store: project %s owns %d instances, %d backups and %d configuration groups",
		e.ProjectID, r.Instances, r.Backups, r.Configurations)
}

// StateError is returned when a state gate refuses a change: Status is the
// status the instance had.
type StateError struct {
	InstanceID string
	Status     model.InstanceStatus
}

func (e *StateError) Error() string {
	return "store: instance " + e.InstanceID + " is in status " + string(e.Status)
}

// Store is the whole metadata store. Every backend implements all of it
// and passes the whole conformance suite (store/storetest).
type Store interface {
	Instances
	Tasks
	Catalog
	Identity
	RootHistory
	Configurations
	Backups
	Schedules
	TaskCopy
	SettingsCopy
	Settings
	InlineLeases
	Quotas
	HAGroups
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// SettingsCopy reads every setting, for copying a whole data set into
// another store (hoard migrate); InitSetting writes one back.
type SettingsCopy interface {
	// AllSettings returns every setting (empty, not nil, if none).
	AllSettings(ctx context.Context) (map[string]string, error)
}

// TaskCounter counts the tasks not finished, for the queue depth metric.
// It is apart from [Tasks], which the task runner's test doubles implement.
type TaskCounter interface {
	// CountTasks returns how many tasks are pending and running; finished
	// tasks are not counted.
	CountTasks(ctx context.Context) (pending, running int, err error)
}

// TaskCopy reads and writes tasks verbatim, for copying a whole data set
// into another store (hoard migrate). It is apart from [Tasks], which the
// task runner needs and its test doubles implement.
type TaskCopy interface {
	// AllTasks returns every task, finished ones and those of instances
	// already removed included, in the order ClaimTask would consider them
	// (Created, then insertion).
	AllTasks(ctx context.Context) ([]*model.Task, error)
	// InsertTask inserts t as it is: state, step and step name, owner,
	// lease, attempts, payload, error and times are kept (zero
	// Created/Updated are set to now, an empty State to pending). Tasks outlive their instance, so the
	// instance need not exist. ErrExists on a duplicate id or a second
	// unfinished task of an instance.
	InsertTask(ctx context.Context, t *model.Task) error
}

// InlineLeases makes inline engine operations (SQL the API runs on an
// instance's engine while the request waits) and the actions that take the
// engine away (restart, resize, delete, ...) mutually exclusive, across
// every hoard sharing the store. An inline operation holds a lease on the
// instance with an end, so that a holder that dies frees the instance when
// its lease ends. The actions' gate, [Instances.StartAction], refuses while
// a lease lives. Times are second precision; now is the caller's clock.
type InlineLeases interface {
	// AcquireInline is the gate of inline operations. In one transaction it
	// checks that the tenant's instance id exists (else ErrNotFound; tenantID
	// "" matches any tenant), has one of the allowed statuses and no
	// unfinished task (else *StateError), and that no other holder has a
	// lease on it ending after now (else ErrBusy); then it gives holder the
	// lease until now+lease and returns the instance.
	AcquireInline(ctx context.Context, tenantID, id string, allowed []model.InstanceStatus, holder string, now time.Time, lease time.Duration) (*model.Instance, error)
	// ReleaseInline ends holder's lease on instance id. It is a no-op if
	// holder holds none (its lease ended and was taken, or the instance is
	// gone).
	ReleaseInline(ctx context.Context, id, holder string) error
}

// Page selects a page of a list: items with key strictly greater than
// Marker (any if empty), at most Limit of them (Limit > 0).
type Page struct {
	Marker string
	Limit  int
	// SkipReplicas leaves read replicas out of a list of instances
	// (Rackspace's include_replicas=false); other lists ignore it.
	SkipReplicas bool
}

// InstanceAndReplicasGetter is an optional capability of stores that read
// an instance and its replicas (what GET /instances/{id} shows) together
// more cheaply than by GetInstance and ListReplicas: the PostgreSQL
// store, in one round trip.
type InstanceAndReplicasGetter interface {
	// GetInstanceAndReplicas is GetInstance(tenantID, id) and, for the
	// instance found, ListReplicas(id).
	GetInstanceAndReplicas(ctx context.Context, tenantID, id string) (*model.Instance, []*model.Instance, error)
}

// Instances stores instances. Lookups with a non-empty tenantID only see
// that tenant's instances (another tenant's instance is ErrNotFound).
type Instances interface {
	// CreateInstance inserts inst and its first task in one transaction,
	// within quota q (see [Quota]; the instance adds model.Usage(inst)).
	CreateInstance(ctx context.Context, inst *model.Instance, task *model.Task, q *Quota) error
	// AdoptInstance hands one ready instance of tenant from (a warm pool's)
	// to inst's tenant instead of inserting inst, in one transaction that
	// checks quota q for inst's tenant as CreateInstance does. The instance
	// taken is the oldest of from's that is ACTIVE, not being deleted, has
	// no unfinished task, an address, and inst's datastore version, flavor
	// and volume size, and no configuration group, source, HA group or
	// allowed networks. It takes inst's tenant, name, status and times and
	// loses any fault; its id, address, port, admin secret and everything
	// else stay. inst is then overwritten with the instance as stored, and
	// task (if not nil) is inserted for it. ErrNotFound: no instance
	// matched, and nothing was written.
	AdoptInstance(ctx context.Context, from string, inst *model.Instance, task *model.Task, q *Quota) error
	// GetInstance returns one instance; tenantID "" matches any tenant.
	GetInstance(ctx context.Context, tenantID, id string) (*model.Instance, error)
	// ListInstances returns a tenant's instances ordered by id, one page;
	// tenantID "" lists every tenant's.
	ListInstances(ctx context.Context, tenantID string, page Page) ([]*model.Instance, error)
	// ListInstanceSummaries is ListInstances for the summary list view: only
	// ID, TenantID, Name, Status, FlavorID, VolumeSize, Datastore,
	// DatastoreVersion and Address are set, every other field is zero.
	// The instances may be shared with other callers (a store may serve
	// them from memory): they must not be modified.
	ListInstanceSummaries(ctx context.Context, tenantID string, page Page) ([]*model.Instance, error)
	// CountInstances returns how many instances a tenant has.
	CountInstances(ctx context.Context, tenantID string) (int, error)
	// UpdateInstance reads instance id, calls fn on it and writes it back
	// (bumping Updated) in one transaction. If fn returns an error nothing is
	// written and that error is returned.
	UpdateInstance(ctx context.Context, id string, fn func(*model.Instance) error) (*model.Instance, error)
	// StartAction is the state gate: in one transaction it checks that the
	// tenant's instance id has one of the allowed statuses (else *StateError),
	// that no unfinished task exists for it (else *StateError) and that no
	// inline lease on it ends after now (else ErrBusy; see [InlineLeases]:
	// the status and task checks come first, so their *StateError wins);
	// then it drops any ended lease, sets its status to newStatus (and
	// Deleting if task is a delete) and inserts task.
	StartAction(ctx context.Context, tenantID, id string, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time) (*model.Instance, error)
	// StartVolumeResize is StartAction for a volume resize to size GB: in
	// the gate's transaction it also records size as the instance's
	// VolumeSize (what the project's quota counts from then on), after
	// checking quota q (see [Quota]; the resize adds size minus the
	// recorded size, if larger).
	StartVolumeResize(ctx context.Context, tenantID, id string, size int, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time, q *Quota) (*model.Instance, error)
	// SetObservedStatus sets the status of instance id to status only if its
	// current status is one of from and it has no unfinished task; it reports
	// whether it changed anything. The supervisor uses it so that observed
	// state never overwrites an operation in progress.
	SetObservedStatus(ctx context.Context, id string, from []model.InstanceStatus, status model.InstanceStatus) (bool, error)
	// AssignAddress gives instance id the first candidate address not used
	// by another instance, or returns the one it already has. ErrNoAddress if
	// none is free.
	AssignAddress(ctx context.Context, id string, candidates []string) (string, error)
	// DeleteInstance removes instance id and its finished tasks.
	DeleteInstance(ctx context.Context, id string) error
	// CreateReplica inserts inst, a replica of instance inst.ReplicaOf, and
	// its first task in one transaction, after checking the source with
	// its row locked: ErrNotFound if it does not exist or is not of
	// inst.TenantID; *StateError if its status is not one of allowed, it
	// is being deleted or it has an unfinished task; ErrIsReplica if it is
	// a replica itself; ErrReplicaLimit if it has max replicas already
	// (max <= 0: no limit); *QuotaError if it exceeds quota q (see
	// [Quota]; the replica adds model.Usage(inst)). A source without a
	// ReplicationSecret is given secret.
	CreateReplica(ctx context.Context, inst *model.Instance, task *model.Task, allowed []model.InstanceStatus, max int, secret []byte, q *Quota) error
	// ListReplicas returns the replicas of instance sourceID, by id.
	ListReplicas(ctx context.Context, sourceID string) ([]*model.Instance, error)
	// StartGroupAction is StartAction for an action on several instances
	// of one tenant at once (a replication set's switchover): in one
	// transaction it gates every instance of ids as StartAction does (the
	// first refusal wins: *StateError or ErrBusy; ErrNotFound for an
	// unknown one), sets them all to newStatus and inserts task, which
	// names one of them.
	StartGroupAction(ctx context.Context, tenantID string, ids []string, allowed []model.InstanceStatus, newStatus model.InstanceStatus, task *model.Task, now time.Time) error
}

// HAGroups stores HA instance groups (Rackspace /ha). Lookups with a
// non-empty tenantID only see that tenant's groups.
type HAGroups interface {
	// CreateHAGroup gives g the first candidate address no other group
	// has (ErrNoAddress if none is free), and inserts g and its first
	// member, source (HAID g.ID), with source's first task, in one
	// transaction, checking source against quota q as CreateInstance does
	// (nil: no check).
	CreateHAGroup(ctx context.Context, g *model.HAGroup, candidates []string, source *model.Instance, task *model.Task, q *Quota) error
	// InsertHAGroup inserts g as it is, address included (hoard migrate's
	// copy); ErrExists on a duplicate id or address.
	InsertHAGroup(ctx context.Context, g *model.HAGroup) error
	// GetHAGroup returns one group; tenantID "" matches any tenant.
	GetHAGroup(ctx context.Context, tenantID, id string) (*model.HAGroup, error)
	// ListHAGroups returns a tenant's groups by id; tenantID "" lists
	// every tenant's.
	ListHAGroups(ctx context.Context, tenantID string) ([]*model.HAGroup, error)
	// UpdateHAGroup reads group id, calls fn on it and writes it back
	// (bumping Updated) in one transaction; an error of fn is returned and
	// nothing is written.
	UpdateHAGroup(ctx context.Context, id string, fn func(*model.HAGroup) error) (*model.HAGroup, error)
	// DeleteHAGroup removes group id (its members are removed by their own
	// delete tasks); ErrNotFound if it does not exist.
	DeleteHAGroup(ctx context.Context, id string) error
	// ListHAMembers returns the instances whose HAID is haID, by id.
	ListHAMembers(ctx context.Context, haID string) ([]*model.Instance, error)
}

// Tasks stores durable tasks and their leases.
type Tasks interface {
	// ClaimTask takes the oldest task that is pending, or running with a
	// lease that ended before now, for owner until now+lease, incrementing
	// Attempts. ErrNotFound when there is none.
	ClaimTask(ctx context.Context, owner string, now time.Time, lease time.Duration) (*model.Task, error)
	// RenewLease extends owner's lease on task id; ErrLeaseLost if owner no
	// longer holds it.
	RenewLease(ctx context.Context, id, owner string, until time.Time) error
	// AdvanceTask records the next step to run, by index (step) and by name
	// (stepName, see model.Task.StepName), and replaces the task's payload
	// (nil keeps it); ErrLeaseLost if owner lost it.
	AdvanceTask(ctx context.Context, id, owner string, step int, stepName string, payload []byte) error
	// FinishTask sets the final state (TaskDone or TaskFailed) and error
	// text, clears the payload and the lease; ErrLeaseLost if owner lost it.
	FinishTask(ctx context.Context, id, owner string, state model.TaskState, errText string) error
	// ReleaseTask hands a running task back (pending, no owner) so that
	// another runner resumes it at once; ErrLeaseLost if owner lost it.
	ReleaseTask(ctx context.Context, id, owner string) error
	// ReleaseLeases makes every running task pending again (used at start-up
	// by a single-node hoard: nobody else can hold a lease).
	ReleaseLeases(ctx context.Context) error
	// GetTask returns one task.
	GetTask(ctx context.Context, id string) (*model.Task, error)
	// ActiveTask returns the unfinished task of an instance, or ErrNotFound.
	ActiveTask(ctx context.Context, instanceID string) (*model.Task, error)
}

// Catalog stores flavors and datastores.
type Catalog interface {
	// PutFlavor inserts or replaces a flavor.
	PutFlavor(ctx context.Context, f model.Flavor) error
	ListFlavors(ctx context.Context) ([]model.Flavor, error)
	GetFlavor(ctx context.Context, id int) (*model.Flavor, error)
	// PutDatastoreVersion inserts or updates a datastore version and its
	// datastore (matched by name; created if new, keeping existing IDs), and
	// makes it the datastore's default version if makeDefault.
	PutDatastoreVersion(ctx context.Context, v model.DatastoreVersion, makeDefault bool) (model.DatastoreVersion, error)
	// ListDatastores returns every datastore with its versions.
	ListDatastores(ctx context.Context) ([]model.Datastore, error)
}

// Identity stores the built-in identity service's records.
type Identity interface {
	CreateProject(ctx context.Context, p model.Project) error // ErrExists on a duplicate id or name
	GetProject(ctx context.Context, id string) (*model.Project, error)
	GetProjectByName(ctx context.Context, name string) (*model.Project, error)
	ListProjects(ctx context.Context) ([]model.Project, error)

	CreateUser(ctx context.Context, u model.User) error // ErrExists on a duplicate id or name
	GetUser(ctx context.Context, id string) (*model.User, error)
	GetUserByName(ctx context.Context, name string) (*model.User, error)
	ListUsers(ctx context.Context) ([]model.User, error)
	SetUserPassword(ctx context.Context, id string, hash []byte) error
	// UpdateProject writes p's name, description and enabled flag (not
	// Created): ErrNotFound if project p.ID does not exist, ErrExists if
	// another project has the name.
	UpdateProject(ctx context.Context, p model.Project) error
	// DeleteProject removes project id with its role assignments and every
	// token scoped to it, in one transaction; ErrNotFound if there is none.
	DeleteProject(ctx context.Context, id string) error
	// DeleteProjectIfUnused is DeleteProject after a check, in the same
	// transaction, that project id owns no instance (in any status),
	// backup or configuration group; if it owns any it deletes nothing and
	// returns a *ProjectInUseError with the counts. It is serialised with
	// the writes whose [Quota] has RequireProject: such a write either
	// commits before the check (and is counted) or finds no project.
	DeleteProjectIfUnused(ctx context.Context, id string) error
	// UpdateUser writes u's name and enabled flag (not the password hash,
	// nor Created): ErrNotFound if user u.ID does not exist, ErrExists if
	// another user has the name.
	UpdateUser(ctx context.Context, u model.User) error
	// DeleteUser removes user id with its role assignments and every token
	// of it, in one transaction; ErrNotFound if there is none.
	DeleteUser(ctx context.Context, id string) error

	// GrantRole is idempotent.
	GrantRole(ctx context.Context, a model.RoleAssignment) error
	// RevokeRole removes one role assignment and every token of its user
	// scoped to its project (their roles are a copy of the assignments), in
	// one transaction; ErrNotFound if there was no such assignment.
	RevokeRole(ctx context.Context, a model.RoleAssignment) error
	// RoleAssignments returns the assignments matching filter (an empty
	// field matches any), ordered by user, project and role; empty, not
	// nil, if none.
	RoleAssignments(ctx context.Context, filter model.RoleAssignment) ([]model.RoleAssignment, error)
	// Roles returns a user's role names on a project (empty if none).
	Roles(ctx context.Context, userID, projectID string) ([]string, error)
	// ProjectsOf returns the projects a user has any role on.
	ProjectsOf(ctx context.Context, userID string) ([]model.Project, error)

	CreateToken(ctx context.Context, t model.Token) error
	// GetToken returns the token with this hash, or ErrNotFound (expired
	// tokens are still returned; the caller checks ExpiresAt).
	GetToken(ctx context.Context, hash []byte) (*model.Token, error)
	DeleteToken(ctx context.Context, hash []byte) error
	// DeleteUserTokens removes user userID's tokens: those scoped to
	// projectID, or every one if projectID is "". It returns how many
	// there were; none is not an error.
	DeleteUserTokens(ctx context.Context, userID, projectID string) (int, error)
	// DeleteExpiredTokens removes tokens that expired before now.
	DeleteExpiredTokens(ctx context.Context, now time.Time) (int, error)
}
