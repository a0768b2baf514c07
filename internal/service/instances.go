package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/safetext"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/store"
)

// Instances is the part of the service that creates, shows, lists,
// renames, restarts, resizes (resize.go) and deletes instances, runs the
// task steps of those operations (tasks.go) and reflects the driver's
// observations in instance statuses (supervise.go). A new instance action
// goes here: its request beside the others, its steps in tasks.go and its
// task kind in definitions.
type Instances struct {
	*deps
	// backups checks a create that restores a backup.
	backups *Backups
	// configs checks the configuration group a create names.
	configs *Configurations

	// usage caches the measured volume usage by instance id (usedGB).
	usageMu sync.Mutex
	usage   map[string]usageEntry

	// warm is the warm pool's state (warmpool.go).
	warm warmState
}

type usageEntry struct {
	gb  float64
	at  time.Time
	err error
}

var errNotFound = store.ErrNotFound

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// createPayload is what a create task still has to apply inside the engine.
// It is sealed before it is stored, and erased once applied.
type createPayload struct {
	Databases []datastore.Database `json:"databases,omitempty"`
	Users     []payloadUser        `json:"users,omitempty"`
}

// payloadUser is datastore.User with a password that marshals (Secret
// deliberately has no JSON form of its own).
type payloadUser struct {
	Name      string   `json:"name"`
	Host      string   `json:"host"`
	Password  string   `json:"password"`
	Databases []string `json:"databases,omitempty"`
}

// validName reports whether an instance (backup, configuration group) name
// is acceptable: 1–255 characters with at least one letter or digit, and no
// control or bidirectional formatting character ([safetext.Check]; the API
// refuses those first, with a message naming the character).
func validName(name string) bool {
	if name == "" || len([]rune(name)) > 255 || safetext.Check(name) != nil {
		return false
	}
	for _, r := range name {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return true
		}
	}
	return false
}

// CreateInstance implements api.Backend.
func (s *Instances) CreateInstance(ctx context.Context, tenantID string, req CreateInstanceRequest) (*InstanceDetail, error) {
	const op = "instance.create"
	if tenantID == WarmPoolTenant {
		return nil, fault.New(fault.Forbidden, op, "This project is reserved for hoard's warm pool.")
	}
	if req.ReplicaOf != "" {
		return s.createReplicas(ctx, tenantID, req) // replicas.go
	}
	if req.ReplicaCount != 0 {
		return nil, fault.New(fault.Invalid, op, "replica_count is only allowed with replica_of.")
	}
	if !validName(req.Name) {
		return nil, fault.New(fault.Invalid, op, "Instance name must be 1 to 255 characters, contain at least one letter or digit and no control or bidirectional formatting characters.")
	}
	if req.VolumeSize < 1 {
		return nil, fault.New(fault.Invalid, op, "Volume size was not specified.")
	}
	if req.VolumeSize > s.cfg.MaxVolumeGB {
		return nil, fault.Errorf(fault.OverLimit, op, "Volume 'size' cannot exceed maximum of %d GB, %d cannot be accepted.", s.cfg.MaxVolumeGB, req.VolumeSize)
	}
	flavor, err := s.resolveFlavor(ctx, req.FlavorRef)
	if err != nil {
		return nil, err
	}
	restoreFrom, err := s.backups.checkRestore(ctx, tenantID, &req) // backups.go
	if err != nil {
		return nil, err
	}
	ds, dv, err := s.resolveDatastore(ctx, req.DatastoreType, req.DatastoreVersion)
	if err != nil {
		return nil, err
	}
	engine, ok := s.cfg.Engines[dv.Engine]
	if !ok {
		return nil, fault.Errorf(fault.Invalid, op, "Datastore version '%s' is not active.", dv.Name)
	}
	if err := s.checkDatabasesUsers(engine, req.Databases, req.Users); err != nil {
		return nil, err
	}
	if err := s.checkAccess(op, req.AllowedCIDRs); err != nil { // access.go
		return nil, err
	}
	group, err := s.configs.createGroup(ctx, tenantID, req.Configuration, dv)
	if err != nil {
		return nil, err
	}
	if err := checkMemory(op, engine, group.Values, flavor, ""); err != nil {
		return nil, err
	}
	p := createPayload{Databases: req.Databases}
	for _, u := range req.Users {
		p.Users = append(p.Users, payloadUser{Name: u.Name, Host: u.Host, Password: string(u.Password), Databases: u.Databases})
	}
	var plain []byte
	if restoreFrom != nil {
		plain, err = json.Marshal(restorePayload{createPayload: p, BackupID: restoreFrom.ID})
	} else {
		plain, err = json.Marshal(p)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	payload, err := s.cfg.Sealer.Seal(plain)
	if err != nil {
		return nil, err
	}
	adminSecret, err := s.cfg.Sealer.Seal([]byte(secret.Password(24)))
	if err != nil {
		return nil, err
	}
	kind := model.TaskCreate
	if restoreFrom != nil {
		// The restored data holds the source's admin account: keep its password.
		kind, adminSecret = model.TaskRestore, restoreFrom.AdminSecret
	}
	now := s.now()
	inst := &model.Instance{
		ID:                 uuid.NewString(),
		TenantID:           tenantID,
		Name:               req.Name,
		Status:             model.StatusBuild,
		FlavorID:           flavor.ID,
		VolumeSize:         req.VolumeSize,
		Datastore:          ds.Name,
		DatastoreVersion:   dv.Name,
		DatastoreVersionID: dv.ID,
		Port:               engine.DefaultPort(),
		AdminSecret:        adminSecret,
		ConfigurationID:    group.ID,
		AllowedCIDRs:       req.AllowedCIDRs,
		Created:            now,
		Updated:            now,
	}
	task := &model.Task{
		ID: uuid.NewString(), InstanceID: inst.ID, Kind: kind, State: model.TaskPending,
		Payload: payload, Created: now, Updated: now,
	}
	// The quota is checked in the transaction that records the instance.
	if req.ha != nil {
		err = s.st.CreateHAGroup(ctx, req.ha, s.cfg.HAAddresses, inst, task, s.quota()) // ha.go
		if errors.Is(err, store.ErrNoAddress) {
			return nil, fault.New(fault.OverLimit, op, "No HA group address is free: the operator's pool of HA addresses is used up.")
		}
	} else if adopted, aerr := s.takeWarm(ctx, &req, restoreFrom, group.ID, inst, task); adopted || aerr != nil {
		err = aerr // warmpool.go: inst and task are the pool instance's now
	} else {
		err = s.st.CreateInstance(ctx, inst, task, s.quota())
	}
	if err != nil {
		if qf := quotaFault(op, err); qf != nil {
			return nil, qf
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	s.cfg.Notify()
	s.log.Info("instance create accepted", "instance_id", inst.ID, "tenant_id", tenantID, "task_id", task.ID)
	return &InstanceDetail{Instance: inst, ConfigurationName: group.Name}, nil
}

// checkDatabasesUsers applies the reference's create rules (§8.2, §11, §12).
func (s *deps) checkDatabasesUsers(engine datastore.Engine, dbs []datastore.Database, users []datastore.User) error {
	const op = "instance.create"
	v, _ := engine.(datastore.Validator)
	names := map[string]bool{}
	for _, d := range dbs {
		if v != nil {
			if err := v.ValidateDatabase(d); err != nil {
				return err
			}
		} else if d.Name == "" {
			return fault.New(fault.Invalid, op, "Database name must not be empty.")
		}
		if names[d.Name] {
			return fault.Errorf(fault.Invalid, op, "Database '%s' is listed more than once.", d.Name)
		}
		names[d.Name] = true
	}
	if _, ok := engine.(datastore.DatabaseAdmin); len(dbs) > 0 && !ok {
		return fault.Errorf(fault.NotImplemented, op, "Databases are not supported by engine %s.", engine.Name())
	}
	seen := map[string]bool{}
	for _, u := range users {
		if v != nil {
			if err := v.ValidateUser(u); err != nil {
				return err
			}
		} else if u.Name == "" || u.Password == "" {
			return fault.New(fault.Invalid, op, "User name and password must not be empty.")
		}
		if strings.EqualFold(u.Name, engine.AdminUser()) {
			return fault.Errorf(fault.Invalid, op, "User name \"%s\" is on the reserved list.", u.Name)
		}
		key := u.Name + "@" + u.Host
		if seen[key] {
			return fault.Errorf(fault.Invalid, op, "User '%s' is listed more than once.", key)
		}
		seen[key] = true
		dbSeen := map[string]bool{}
		for _, d := range u.Databases {
			if !names[d] {
				return fault.Errorf(fault.Invalid, op,
					"The request indicates that user %s should have access to database %s, but database %s is not included in the initial databases list.", u.Name, d, d)
			}
			if dbSeen[d] {
				return fault.Errorf(fault.Invalid, op, "Database '%s' is listed more than once for user %s.", d, u.Name)
			}
			dbSeen[d] = true
		}
	}
	return nil
}

// GetInstance implements api.Backend.
func (s *Instances) GetInstance(ctx context.Context, tenantID, id string) (*InstanceDetail, error) {
	var inst *model.Instance
	var replicas []*model.Instance
	var err error
	g, together := s.st.(store.InstanceAndReplicasGetter)
	if together {
		inst, replicas, err = g.GetInstanceAndReplicas(ctx, tenantID, id)
	} else {
		inst, err = s.st.GetInstance(ctx, tenantID, id)
	}
	if err != nil {
		return nil, mapStoreErr("instance.get", id, err)
	}
	d := &InstanceDetail{Instance: inst, ConfigurationName: s.configs.ConfigurationName(ctx, inst.ConfigurationID)}
	switch {
	case inst.ReplicaOf != "":
		d.Replication = s.replication(ctx, inst) // replicas.go
	case together:
		d.Replicas = replicas
	default:
		if d.Replicas, err = s.st.ListReplicas(ctx, inst.ID); err != nil {
			return nil, err
		}
	}
	if inst.Status == model.StatusActive || inst.Status == model.StatusRestartRequired || inst.Status == model.StatusBlocked {
		if gb, ok := s.usedGB(ctx, inst.ID); ok {
			d.VolumeUsedGB = &gb
		}
	}
	return d, nil
}

// usageTTL is how long a measured volume usage is reused.
const usageTTL = 5 * time.Second

// usedGB returns the instance's used volume in GB (two decimals), measured
// at most once per usageTTL.
func (s *Instances) usedGB(ctx context.Context, id string) (float64, bool) {
	now := s.cfg.Now()
	s.usageMu.Lock()
	e, ok := s.usage[id]
	s.usageMu.Unlock()
	if !ok || now.Sub(e.at) > usageTTL {
		b, err := s.cfg.Driver.UsedBytes(ctx, id)
		e = usageEntry{gb: math.Round(float64(b)/(1<<30)*100) / 100, at: now, err: err}
		if err == nil && b > 0 && e.gb == 0 {
			e.gb = 0.01
		}
		s.usageMu.Lock()
		s.usage[id] = e
		s.usageMu.Unlock()
	}
	return e.gb, e.err == nil
}

// ListInstances implements api.Backend.
func (s *Instances) ListInstances(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, bool, error) {
	want := page.Limit
	page.Limit++
	list, err := s.st.ListInstances(ctx, tenantID, page)
	if err != nil {
		return nil, false, err
	}
	if len(list) > want {
		return list[:want], true, nil
	}
	return list, false, nil
}

// ListInstanceSummaries is ListInstances with only the fields of the summary
// list view set (see store.Instances.ListInstanceSummaries); the API's
// summary list uses it.
func (s *Instances) ListInstanceSummaries(ctx context.Context, tenantID string, page store.Page) ([]*model.Instance, bool, error) {
	want := page.Limit
	page.Limit++
	list, err := s.st.ListInstanceSummaries(ctx, tenantID, page)
	if err != nil {
		return nil, false, err
	}
	if len(list) > want {
		return list[:want], true, nil
	}
	return list, false, nil
}

// RenameInstance implements api.Backend.
func (s *Instances) RenameInstance(ctx context.Context, tenantID, id, name string) error {
	const op = "instance.update"
	if !validName(name) {
		return fault.New(fault.Invalid, op, "Instance name must be 1 to 255 characters, contain at least one letter or digit and no control or bidirectional formatting characters.")
	}
	if _, err := s.st.GetInstance(ctx, tenantID, id); err != nil {
		return mapStoreErr(op, id, err)
	}
	_, err := s.st.UpdateInstance(ctx, id, func(i *model.Instance) error {
		i.Name = name
		return nil
	})
	return mapStoreErr(op, id, err)
}

// deleteAllowed lists the statuses a delete may start from: every status
// but BUILD (reference §8.7).
var deleteAllowed = []model.InstanceStatus{
	model.StatusActive, model.StatusReboot, model.StatusResize, model.StatusBackup,
	model.StatusRestartRequired, model.StatusShutdown, model.StatusBlocked,
	model.StatusFailed, model.StatusError,
}

// DeleteInstance implements api.Backend.
func (s *Instances) DeleteInstance(ctx context.Context, tenantID, id string) error {
	const op = "instance.delete"
	if err := s.refuseDeleteSource(ctx, op, tenantID, id); err != nil { // replicas.go
		return err
	}
	now := s.now()
	task := &model.Task{ID: uuid.NewString(), InstanceID: id, Kind: model.TaskDelete, State: model.TaskPending, Created: now, Updated: now}
	// The gate waits for inline engine operations in flight (inline.go).
	_, err := s.startEngineAction(ctx, op, tenantID, id, deleteAllowed, model.StatusShutdown, task)
	var se *store.StateError
	if errors.As(err, &se) {
		if se.Status == model.StatusBuild {
			return fault.Errorf(fault.Unprocessable, op, "Instance %s is not ready. (Status is BUILD).", id)
		}
		return fault.Errorf(fault.Unprocessable, op, "Instance %s cannot be deleted while another operation is in progress (status is %s).", id, se.Status)
	}
	if err != nil {
		return mapStoreErr(op, id, err)
	}
	s.cfg.Notify()
	s.log.Info("instance delete accepted", "instance_id", id, "tenant_id", tenantID, "task_id", task.ID)
	return nil
}

// RestartInstance implements api.Backend.
func (s *Instances) RestartInstance(ctx context.Context, tenantID, id string) error {
	const op = "instance.restart"
	now := s.now()
	task := &model.Task{ID: uuid.NewString(), InstanceID: id, Kind: model.TaskRestart, State: model.TaskPending, Created: now, Updated: now}
	// The gate waits for inline engine operations in flight (inline.go).
	if _, err := s.startEngineAction(ctx, op, tenantID, id, model.ActionAllowedStatuses, model.StatusReboot, task); err != nil {
		return mapStoreErr(op, id, err)
	}
	s.cfg.Notify()
	s.log.Info("instance restart accepted", "instance_id", id, "tenant_id", tenantID, "task_id", task.ID)
	return nil
}

// Credentials returns the admin account of an instance's engine; the local
// driver uses it for its supervision probes.
func (s *Instances) Credentials(instanceID string) (string, datastore.Secret) {
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
