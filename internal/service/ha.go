package service

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/groupproxy"
	"github.com/hoard-db/hoard/internal/model"
)

// HA instance groups (Rackspace /ha, API reference §17.1). A group is a
// source and its replicas (read replicas made as in replicas.go, each
// with HAID set) kept at its size by a reconciler (ha_reconcile.go), and
// reached at one stable address served by a Router: the write port always
// reaches the current source, the read port spreads reads over the
// replicas. Failover is automatic (Config.HAFailoverAfter): a source whose
// engine is down is ejected (switchover.go), its most advanced replica
// promoted, and the group replaces the ejected source with a new replica.
//
// The group's desired state is its row (replicas wanted, pending replica
// specs, ACLs, whether it is being deleted); everything else is derived
// from its members each round, so that a crash at any moment leaves
// nothing the next round cannot finish.

// HARouter serves the groups' stable addresses (groupproxy.Proxy).
type HARouter interface {
	Set(id string, l groupproxy.Listen, r groupproxy.Route) error
	Remove(id string)
}

// DefaultHAFailoverAfter is Config.HAFailoverAfter when zero: longer than
// an engine's own restart after a crash (which the driver tries first),
// short enough for a failover well under ten seconds.
const DefaultHAFailoverAfter = 3 * time.Second

// MaxHAReplicas is how many replicas a group may have (Rackspace's limit).
const MaxHAReplicas = 2

// HA is the part of the service that runs HA instance groups.
type HA struct {
	*deps
	instances *Instances
	backups   *Backups
	configs   *Configurations
}

// HAMemberRequest is one member of a group create or an add_replica.
type HAMemberRequest struct {
	Name       string
	FlavorRef  string
	VolumeSize int
}

// CreateHARequest is a decoded POST /ha.
type CreateHARequest struct {
	Name             string
	DatastoreType    string
	DatastoreVersion string
	Source           HAMemberRequest
	Replicas         []HAMemberRequest
	Networks         []string
	ACLs             []string
	Configuration    string
}

// HADetail is a group with its members and derived state.
type HADetail struct {
	*model.HAGroup
	State model.HAState
	// Source is the current source (nil if it is gone), Replicas the
	// members following it.
	Source   *model.Instance
	Replicas []*model.Instance
}

// HAAction is one decoded POST /ha/{id}/action; exactly one field is set.
type HAAction struct {
	AddReplica    *HAMemberRequest
	RemoveReplica string
	ResizeVolumes int
	ResizeFlavor  string
	Restart       bool
	Upgrade       *HAUpgrade
}

// HAUpgrade is the upgrade action's body.
type HAUpgrade struct {
	DatastoreType    string
	DatastoreVersion string
}

func haID(g *model.HAGroup) string {
	if g == nil {
		return ""
	}
	return g.ID
}

// haEnabled refuses group calls when this hoard serves no HA addresses.
func (s *HA) haEnabled(op string) error {
	if s.cfg.Router == nil || len(s.cfg.HAAddresses) == 0 {
		return fault.New(fault.NotImplemented, op, "HA instance groups are not enabled on this service.")
	}
	return nil
}

// parseACL checks one ACL address: a CIDR or a single address.
func parseACL(op, a string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(a); err == nil {
		return p.Masked(), nil
	}
	if ad, err := netip.ParseAddr(a); err == nil {
		return netip.PrefixFrom(ad, ad.BitLen()), nil
	}
	return netip.Prefix{}, fault.Errorf(fault.Invalid, op, "ACL address %q is not an IP address or a CIDR.", truncate(a, 64))
}

// validNetworks are the networks a group may be reached on.
var validNetworks = []string{"servicenet", "public"}

// CreateHA implements api.HABackend: it records the group with its source
// (created as any instance) and the replicas to make once the source is
// ACTIVE.
func (s *HA) CreateHA(ctx context.Context, tenantID string, req CreateHARequest) (*HADetail, error) {
	const op = "ha.create"
	if err := s.haEnabled(op); err != nil {
		return nil, err
	}
	if !validName(req.Name) {
		return nil, fault.New(fault.Invalid, op, "HA group name must be 1 to 255 characters, contain at least one letter or digit and no control or bidirectional formatting characters.")
	}
	if len(req.Replicas) < 1 || len(req.Replicas) > MaxHAReplicas {
		return nil, fault.Errorf(fault.Invalid, op, "An HA group has 1 to %d replicas, %d were asked for.", MaxHAReplicas, len(req.Replicas))
	}
	for _, n := range req.Networks {
		if !slices.Contains(validNetworks, n) {
			return nil, fault.Errorf(fault.Invalid, op, "Network %q is unknown: the networks are %s.", truncate(n, 64), strings.Join(validNetworks, " and "))
		}
	}
	acls, err := normaliseACLs(op, req.ACLs)
	if err != nil {
		return nil, err
	}
	_, dv, err := s.resolveDatastore(ctx, req.DatastoreType, req.DatastoreVersion)
	if err != nil {
		return nil, err
	}
	engine, ok := s.cfg.Engines[dv.Engine]
	if !ok {
		return nil, fault.Errorf(fault.Invalid, op, "Datastore version '%s' is not active.", dv.Name)
	}
	probe := &model.Instance{Datastore: dv.DatastoreName, DatastoreVersionID: dv.ID}
	if _, _, _, err := s.replicator(op, probe); err != nil {
		return nil, err
	}
	if _, _, _, err := s.switchover(op, probe); err != nil {
		return nil, err
	}
	if !s.backups.enabled() {
		return nil, fault.New(fault.NotImplemented, op, "HA groups are not enabled: their replicas need backups, which are not enabled.")
	}
	srcFlavor, err := s.resolveFlavor(ctx, req.Source.FlavorRef)
	if err != nil {
		return nil, err
	}
	var pending []model.HAReplicaSpec
	for i, r := range req.Replicas {
		spec, err := s.replicaSpec(ctx, op, r, srcFlavor, req.Source.VolumeSize)
		if err != nil {
			return nil, err
		}
		if spec.Name == "" {
			spec.Name = fmt.Sprintf("%s-replica-%d", req.Name, i+1)
		}
		pending = append(pending, spec)
	}
	networks := req.Networks
	if len(networks) == 0 {
		networks = []string{"servicenet"}
	}
	now := s.now()
	g := &model.HAGroup{
		ID: uuid.NewString(), TenantID: tenantID, Name: req.Name,
		Datastore: dv.DatastoreName, DatastoreVersion: dv.Name, DatastoreVersionID: dv.ID,
		FlavorID: srcFlavor.ID, VolumeSize: req.Source.VolumeSize, ConfigurationID: req.Configuration,
		WritePort: engine.DefaultPort(), ReadPort: engine.DefaultPort() + 1,
		Networks: networks, ACLs: acls, Pending: pending, ReplicaCount: len(pending),
		Created: now, Updated: now,
	}
	srcName := req.Source.Name
	if srcName == "" {
		srcName = req.Name + "-source"
	}
	d, err := s.instances.CreateInstance(ctx, tenantID, CreateInstanceRequest{
		Name: srcName, FlavorRef: req.Source.FlavorRef, VolumeSize: req.Source.VolumeSize,
		DatastoreType: dv.DatastoreName, DatastoreVersion: dv.Name, Configuration: req.Configuration,
		ha: g,
	})
	if err != nil {
		return nil, err
	}
	// The source's id is known once it is made: record it (a crash before
	// this is repaired by the reconciler, which takes the group's only
	// member as its source).
	g, err = s.st.UpdateHAGroup(ctx, g.ID, func(g *model.HAGroup) error {
		g.SourceID = d.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("HA group create accepted", "ha_id", g.ID, "tenant_id", tenantID, "source_id", d.ID, "address", g.Address)
	s.cfg.Notify()
	return &HADetail{HAGroup: g, State: model.HABuild, Source: d.Instance}, nil
}

// normaliseACLs checks ACL addresses and returns them in CIDR form,
// without duplicates.
func normaliseACLs(op string, in []string) ([]string, error) {
	var out []string
	for _, a := range in {
		p, err := parseACL(op, a)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, p.String()) {
			out = append(out, p.String())
		}
	}
	return out, nil
}

// replicaSpec checks one replica's request against the source's flavor
// and volume (the checks of replicas.go, at group create time).
func (s *HA) replicaSpec(ctx context.Context, op string, r HAMemberRequest, srcFlavor *model.Flavor, srcVolume int) (model.HAReplicaSpec, error) {
	spec := model.HAReplicaSpec{Name: r.Name, FlavorID: srcFlavor.ID, VolumeSize: srcVolume}
	if r.Name != "" && !validName(r.Name) {
		return spec, fault.New(fault.Invalid, op, "Replica name must be 1 to 255 characters, contain at least one letter or digit and no control or bidirectional formatting characters.")
	}
	if r.FlavorRef != "" {
		f, err := s.resolveFlavor(ctx, r.FlavorRef)
		if err != nil {
			return spec, err
		}
		if f.RAM < srcFlavor.RAM {
			return spec, fault.Errorf(fault.Invalid, op, "A replica's flavor must have at least the RAM of its source's (%d MB), %s has %d MB.", srcFlavor.RAM, f.Name, f.RAM)
		}
		spec.FlavorID = f.ID
	}
	if r.VolumeSize != 0 {
		if r.VolumeSize < srcVolume {
			return spec, fault.Errorf(fault.Invalid, op, "A replica's volume must be at least as large as its source's (%d GB), %d cannot be accepted.", srcVolume, r.VolumeSize)
		}
		if r.VolumeSize > s.cfg.MaxVolumeGB {
			return spec, fault.Errorf(fault.OverLimit, op, "Volume 'size' cannot exceed maximum of %d GB, %d cannot be accepted.", s.cfg.MaxVolumeGB, r.VolumeSize)
		}
		spec.VolumeSize = r.VolumeSize
	}
	return spec, nil
}

// getGroup returns the tenant's group id (404 if it is not the tenant's or
// is being deleted and gone).
func (s *HA) getGroup(ctx context.Context, op, tenantID, id string) (*model.HAGroup, error) {
	g, err := s.st.GetHAGroup(ctx, tenantID, id)
	if isNotFound(err) {
		return nil, fault.Errorf(fault.NotFound, op, "HA instance %s cannot be found.", id)
	}
	return g, err
}

// detail derives a group's members and state.
func (s *HA) detail(ctx context.Context, g *model.HAGroup) (*HADetail, error) {
	members, err := s.st.ListHAMembers(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	d := &HADetail{HAGroup: g}
	src := sourceOf(g, members)
	if src != nil {
		d.Source = src
		for _, m := range members {
			if m.ReplicaOf == src.ID {
				d.Replicas = append(d.Replicas, m)
			}
		}
	}
	d.State = groupState(g, src, members)
	return d, nil
}

// sourceOf returns the group's source member: the one recorded, else (a
// crash before it was recorded) the only member.
func sourceOf(g *model.HAGroup, members []*model.Instance) *model.Instance {
	for _, m := range members {
		if m.ID == g.SourceID {
			return m
		}
	}
	if g.SourceID == "" && len(members) == 1 && members[0].ReplicaOf == "" {
		return members[0]
	}
	return nil
}

// groupState derives the state a group shows from its own flags and its
// members' statuses (API reference §17.1's values).
func groupState(g *model.HAGroup, src *model.Instance, members []*model.Instance) model.HAState {
	has := func(statuses ...model.InstanceStatus) bool {
		for _, m := range members {
			if slices.Contains(statuses, m.Status) {
				return true
			}
		}
		return false
	}
	switch {
	case g.Deleting:
		return model.HADeleting
	case has(model.StatusPromote, model.StatusEject):
		return model.HAFailover
	case !g.Built:
		if src == nil || src.Status == model.StatusError || src.Status == model.StatusFailed {
			return model.HAError
		}
		return model.HABuild
	case src == nil:
		return model.HAError
	case src.Status == model.StatusShutdown:
		// The source's engine is down: it restarts, or the group fails
		// over.
		return model.HAFailover
	case has(model.StatusReboot):
		return model.HAReboot
	case has(model.StatusResize):
		if g.Op == opResizeVolumes {
			return model.HAResizingVolume
		}
		return model.HAResizingFlavor
	case has(model.StatusBuild):
		return model.HAAddingReplica
	case slices.ContainsFunc(members, func(m *model.Instance) bool { return m.Deleting }):
		return model.HARemovingReplica
	case has(model.StatusError, model.StatusFailed, model.StatusBlocked):
		return model.HAReplicationError
	case has(model.StatusBackup):
		return model.HABackup
	case has(model.StatusRestartRequired):
		return model.HARestartRequired
	}
	return model.HAActive
}

const opResizeVolumes = "resize_volumes"

// GetHA implements api.HABackend.
func (s *HA) GetHA(ctx context.Context, tenantID, id string) (*HADetail, error) {
	g, err := s.getGroup(ctx, "ha.get", tenantID, id)
	if err != nil {
		return nil, err
	}
	return s.detail(ctx, g)
}

// ListHA implements api.HABackend.
func (s *HA) ListHA(ctx context.Context, tenantID string) ([]*HADetail, error) {
	groups, err := s.st.ListHAGroups(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	out := make([]*HADetail, 0, len(groups))
	for _, g := range groups {
		d, err := s.detail(ctx, g)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// DeleteHA implements api.HABackend: the group's address closes at once,
// the reconciler deletes its replicas, then its source, then the group.
func (s *HA) DeleteHA(ctx context.Context, tenantID, id string) error {
	const op = "ha.delete"
	g, err := s.getGroup(ctx, op, tenantID, id)
	if err != nil {
		return err
	}
	d, err := s.detail(ctx, g)
	if err != nil {
		return err
	}
	if d.State == model.HABuild || d.State == model.HAFailover {
		return fault.Errorf(fault.Unprocessable, op, "HA instance %s cannot be deleted while its state is %s.", id, d.State)
	}
	if _, err := s.st.UpdateHAGroup(ctx, id, func(g *model.HAGroup) error {
		g.Deleting = true
		return nil
	}); err != nil {
		return err
	}
	s.cfg.Router.Remove(id)
	s.log.Info("HA group delete accepted", "ha_id", id, "tenant_id", tenantID)
	s.cfg.Notify()
	return nil
}

// AddHAACL implements api.HABackend (not while the group builds).
func (s *HA) AddHAACL(ctx context.Context, tenantID, id, address string) error {
	const op = "ha.acl_add"
	g, err := s.getGroup(ctx, op, tenantID, id)
	if err != nil {
		return err
	}
	acl, err := normaliseACLs(op, []string{address})
	if err != nil {
		return err
	}
	if !g.Built || g.Deleting {
		return fault.Errorf(fault.Unprocessable, op, "ACLs of HA instance %s cannot be changed while it builds or is deleted.", id)
	}
	_, err = s.st.UpdateHAGroup(ctx, id, func(g *model.HAGroup) error {
		if !slices.Contains(g.ACLs, acl[0]) {
			g.ACLs = append(g.ACLs, acl[0])
		}
		return nil
	})
	if err == nil {
		s.cfg.Notify()
	}
	return err
}

// DeleteHAACL implements api.HABackend; address may be URL-encoded any
// number of times (Rackspace clients send the CIDR's '/' as %25252F).
func (s *HA) DeleteHAACL(ctx context.Context, tenantID, id, address string) error {
	const op = "ha.acl_delete"
	if _, err := s.getGroup(ctx, op, tenantID, id); err != nil {
		return err
	}
	acl, err := normaliseACLs(op, []string{address})
	if err != nil {
		return err
	}
	found := false
	_, err = s.st.UpdateHAGroup(ctx, id, func(g *model.HAGroup) error {
		i := slices.Index(g.ACLs, acl[0])
		if i < 0 {
			return nil
		}
		found = true
		g.ACLs = slices.Delete(g.ACLs, i, i+1)
		return nil
	})
	if err != nil {
		return err
	}
	if !found {
		return fault.Errorf(fault.NotFound, op, "HA instance %s has no ACL %s.", id, acl[0])
	}
	s.cfg.Notify()
	return nil
}

// ready returns the group's detail if it may start an action now (422
// otherwise, as Rackspace's gate).
func (s *HA) ready(ctx context.Context, op, tenantID, id string) (*HADetail, error) {
	g, err := s.getGroup(ctx, op, tenantID, id)
	if err != nil {
		return nil, err
	}
	d, err := s.detail(ctx, g)
	if err != nil {
		return nil, err
	}
	if d.State != model.HAActive && d.State != model.HARestartRequired {
		return nil, fault.Errorf(fault.Unprocessable, op, "HA instance %s is not currently available for an action to be performed (state is %s).", id, d.State)
	}
	return d, nil
}

// members returns a group's members, replicas first and the source last.
func (d *HADetail) members() []*model.Instance {
	out := slices.Clone(d.Replicas)
	if d.Source != nil {
		out = append(out, d.Source)
	}
	return out
}

// SetHAConfiguration implements api.HABackend (PATCH configuration): id
// attaches a configuration group to every member, "" detaches it.
func (s *HA) SetHAConfiguration(ctx context.Context, tenantID, id, configID string) error {
	const op = "ha.configuration"
	d, err := s.ready(ctx, op, tenantID, id)
	if err != nil {
		return err
	}
	for _, m := range d.members() {
		if configID == "" {
			if m.ConfigurationID == "" {
				continue
			}
			err = s.configs.DetachConfiguration(ctx, tenantID, m.ID)
		} else {
			err = s.configs.AttachConfiguration(ctx, tenantID, m.ID, configID)
		}
		if err != nil {
			return err
		}
	}
	_, err = s.st.UpdateHAGroup(ctx, id, func(g *model.HAGroup) error {
		g.ConfigurationID = configID
		return nil
	})
	return err
}

// Act implements api.HABackend: one group action.
func (s *HA) Act(ctx context.Context, tenantID, id string, a HAAction) error {
	switch {
	case a.AddReplica != nil:
		return s.addReplica(ctx, tenantID, id, *a.AddReplica)
	case a.RemoveReplica != "":
		return s.removeReplica(ctx, tenantID, id, a.RemoveReplica)
	case a.ResizeVolumes != 0:
		return s.resizeVolumes(ctx, tenantID, id, a.ResizeVolumes)
	case a.ResizeFlavor != "":
		return s.resizeFlavor(ctx, tenantID, id, a.ResizeFlavor)
	case a.Restart:
		return s.restart(ctx, tenantID, id)
	case a.Upgrade != nil:
		return s.upgrade(ctx, tenantID, id, *a.Upgrade)
	}
	return fault.New(fault.Invalid, "ha.action", "No action was given.")
}

func (s *HA) addReplica(ctx context.Context, tenantID, id string, r HAMemberRequest) error {
	const op = "ha.add_replica"
	d, err := s.ready(ctx, op, tenantID, id)
	if err != nil {
		return err
	}
	if d.ReplicaCount >= MaxHAReplicas {
		return fault.Errorf(fault.Invalid, op, "HA instance %s already has %d replicas, the most a group may have.", id, MaxHAReplicas)
	}
	srcFlavor, err := s.st.GetFlavor(ctx, d.FlavorID)
	if err != nil {
		return err
	}
	spec, err := s.replicaSpec(ctx, op, r, srcFlavor, d.VolumeSize)
	if err != nil {
		return err
	}
	_, err = s.st.UpdateHAGroup(ctx, id, func(g *model.HAGroup) error {
		if g.ReplicaCount >= MaxHAReplicas {
			return fault.Errorf(fault.Invalid, op, "HA instance %s already has %d replicas, the most a group may have.", id, MaxHAReplicas)
		}
		if spec.Name == "" {
			spec.Name = fmt.Sprintf("%s-replica-%d", g.Name, g.ReplicaCount+1)
		}
		g.ReplicaCount++
		g.Pending = append(g.Pending, spec)
		return nil
	})
	if err == nil {
		s.log.Info("HA group add_replica accepted", "ha_id", id, "tenant_id", tenantID)
		s.cfg.Notify()
	}
	return err
}

func (s *HA) removeReplica(ctx context.Context, tenantID, id, replicaID string) error {
	const op = "ha.remove_replica"
	d, err := s.ready(ctx, op, tenantID, id)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(d.Replicas, func(m *model.Instance) bool { return m.ID == replicaID }) {
		return fault.Errorf(fault.Invalid, op, "Instance %s is not a replica of HA instance %s.", truncate(replicaID, 64), id)
	}
	if d.ReplicaCount <= 1 {
		return fault.Errorf(fault.Invalid, op, "HA instance %s keeps at least one replica: add another before removing this one.", id)
	}
	if _, err := s.st.UpdateHAGroup(ctx, id, func(g *model.HAGroup) error {
		g.ReplicaCount--
		g.Pending = nil
		return nil
	}); err != nil {
		return err
	}
	return s.instances.DeleteInstance(ctx, tenantID, replicaID)
}

// gateAll checks that every member may start an action now, so that a
// group action is refused whole rather than started on some members.
func gateAll(op string, d *HADetail) error {
	for _, m := range d.members() {
		if !m.Status.ActionAllowed() {
			return fault.Errorf(fault.Unprocessable, op, "Member %s of HA instance %s is not currently available for an action to be performed (instance status was %s).", m.ID, d.ID, m.Status)
		}
	}
	return nil
}

func (s *HA) resizeVolumes(ctx context.Context, tenantID, id string, size int) error {
	const op = "ha.resize_volumes"
	d, err := s.ready(ctx, op, tenantID, id)
	if err != nil {
		return err
	}
	if size > s.cfg.MaxVolumeGB {
		return fault.Errorf(fault.OverLimit, op, "Volume 'size' cannot exceed maximum of %d GB, %d cannot be accepted.", s.cfg.MaxVolumeGB, size)
	}
	if err := gateAll(op, d); err != nil {
		return err
	}
	for _, m := range d.members() {
		if size <= m.VolumeSize {
			return fault.Errorf(fault.Invalid, op, "The new volume 'size' must be larger than the current volume size of '%d'.", m.VolumeSize)
		}
	}
	if _, err := s.st.UpdateHAGroup(ctx, id, func(g *model.HAGroup) error {
		g.VolumeSize, g.Op = size, opResizeVolumes
		for i := range g.Pending {
			g.Pending[i].VolumeSize = max(g.Pending[i].VolumeSize, size)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, m := range d.members() {
		if err := s.instances.ResizeVolume(ctx, tenantID, m.ID, size); err != nil {
			return err
		}
	}
	return nil
}

func (s *HA) resizeFlavor(ctx context.Context, tenantID, id, flavorRef string) error {
	const op = "ha.resize_flavor"
	d, err := s.ready(ctx, op, tenantID, id)
	if err != nil {
		return err
	}
	f, err := s.resolveFlavor(ctx, flavorRef)
	if err != nil {
		return err
	}
	if f.ID == d.FlavorID {
		return fault.Errorf(fault.Invalid, op, "The new flavor id must be different than the current flavor id of '%d'.", d.FlavorID)
	}
	if err := gateAll(op, d); err != nil {
		return err
	}
	if _, err := s.st.UpdateHAGroup(ctx, id, func(g *model.HAGroup) error {
		g.FlavorID, g.Op = f.ID, ""
		for i := range g.Pending {
			g.Pending[i].FlavorID = f.ID
		}
		return nil
	}); err != nil {
		return err
	}
	for _, m := range d.members() {
		if m.FlavorID == f.ID {
			continue
		}
		if err := s.instances.ResizeFlavor(ctx, tenantID, m.ID, strconv.Itoa(f.ID)); err != nil {
			return err
		}
	}
	return nil
}

func (s *HA) restart(ctx context.Context, tenantID, id string) error {
	const op = "ha.restart"
	d, err := s.ready(ctx, op, tenantID, id)
	if err != nil {
		return err
	}
	if err := gateAll(op, d); err != nil {
		return err
	}
	for _, m := range d.members() {
		if err := s.instances.RestartInstance(ctx, tenantID, m.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *HA) upgrade(ctx context.Context, tenantID, id string, u HAUpgrade) error {
	const op = "ha.upgrade"
	g, err := s.getGroup(ctx, op, tenantID, id)
	if err != nil {
		return err
	}
	_, dv, err := s.resolveDatastore(ctx, u.DatastoreType, u.DatastoreVersion)
	if err != nil {
		return err
	}
	if dv.ID == g.DatastoreVersionID {
		return fault.Errorf(fault.Invalid, op, "HA instance %s already runs %s %s.", id, dv.DatastoreName, dv.Name)
	}
	return fault.New(fault.NotImplemented, op, "Upgrading the datastore version of an HA group is not supported.")
}

// ListHABackups implements api.HABackend: the backups of every member.
func (s *HA) ListHABackups(ctx context.Context, tenantID, id string) ([]*model.Backup, error) {
	const op = "ha.backups"
	g, err := s.getGroup(ctx, op, tenantID, id)
	if err != nil {
		return nil, err
	}
	members, err := s.st.ListHAMembers(ctx, g.ID)
	if err != nil {
		return nil, err
	}
	var out []*model.Backup
	for _, m := range members {
		bs, _, err := s.backups.ListInstanceBackups(ctx, tenantID, m.ID, 0, 1000)
		if err != nil {
			return nil, err
		}
		out = append(out, bs...)
	}
	return out, nil
}

// refuseMember is the refusal of an instance call Rackspace does not allow
// on a member of an HA group (it would change the group behind its back):
// 422 naming the group. Calls on instances that are not members, or that
// do not exist, pass (the call itself answers those).
func (s *deps) refuseMember(ctx context.Context, op, tenantID, id string) error {
	inst, err := s.st.GetInstance(ctx, tenantID, id)
	if err != nil || inst.HAID == "" {
		return nil
	}
	return fault.Errorf(fault.Unprocessable, op, "Instance %s is a member of HA instance %s: change it through /ha/%s.", id, inst.HAID, inst.HAID)
}

// routeOf is where the group's connections go now.
func routeOf(d *HADetail) groupproxy.Route {
	var r groupproxy.Route
	if src := d.Source; src != nil && src.Address != "" {
		switch src.Status {
		case model.StatusBuild, model.StatusPromote, model.StatusEject, model.StatusShutdown, model.StatusError, model.StatusFailed:
			// Fenced, failing over, or not there: writes wait.
		default:
			r.Write = net.JoinHostPort(src.Address, strconv.Itoa(src.Port))
		}
	}
	for _, m := range d.Replicas {
		switch m.Status {
		case model.StatusActive, model.StatusRestartRequired, model.StatusBackup:
			if m.Address != "" && !m.Deleting {
				r.Reads = append(r.Reads, net.JoinHostPort(m.Address, strconv.Itoa(m.Port)))
			}
		}
	}
	for _, a := range d.ACLs {
		if p, err := netip.ParsePrefix(a); err == nil {
			r.ACLs = append(r.ACLs, p)
		}
	}
	return r
}

// listenOf is where the group's ports are.
func listenOf(g *model.HAGroup) groupproxy.Listen {
	return groupproxy.Listen{
		Write: net.JoinHostPort(g.Address, strconv.Itoa(g.WritePort)),
		Read:  net.JoinHostPort(g.Address, strconv.Itoa(g.ReadPort)),
	}
}

// haOn reports whether HA groups are served.
func (s *deps) haOn() bool { return s.cfg.Router != nil && len(s.cfg.HAAddresses) > 0 }
