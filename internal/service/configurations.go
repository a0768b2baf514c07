package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// ConfigurationRequest is a decoded configuration group create request, or
// the changes of a PUT/PATCH (nil Name/Description keep the old ones).
type ConfigurationRequest struct {
	Name        *string
	Description *string
	// DatastoreType and DatastoreVersion are names or ids (create only);
	// empty selects the defaults.
	DatastoreType    string
	DatastoreVersion string
	// Values are JSON-typed: string, bool or json.Number.
	Values map[string]any
}

// ConfigurationDetail is a group with its typed values and how many
// instances use it.
type ConfigurationDetail struct {
	*model.Configuration
	// Values are typed by the parameters' types (json.Number, bool,
	// string), as the API shows them.
	Values        map[string]any
	InstanceCount int
}

// reconfigurer is what the service needs from a driver to write an
// instance's configuration without restarting it (driver/local has it).
type reconfigurer interface {
	Reconfigure(ctx context.Context, s driver.Spec) error
}

// safeValueRE is what a string value may consist of (the engines write
// values into configuration files).
var safeValueRE = regexp.MustCompile(`^[A-Za-z0-9_,.:/+-]{0,255}$`)

// Configurations is the part of the service that manages configuration
// groups (reference §14): their parameter catalogue, their values and
// their attachment to instances, which writes the values into the engine's
// configuration and applies the dynamic ones inline.
type Configurations struct {
	*deps
	// paramsMu serialises catalogue discovery (it may start a server).
	paramsMu sync.Mutex
}

// Parameters returns the catalogue of datastore version id: from the
// store, or discovered from the engine once and stored.
func (s *Configurations) Parameters(ctx context.Context, versionID string) ([]datastore.Parameter, error) {
	const op = "configuration.parameters"
	v, err := s.versionByID(ctx, versionID)
	if err != nil {
		if isNotFound(err) {
			return nil, fault.Errorf(fault.NotFound, op, "Datastore version '%s' cannot be found.", versionID)
		}
		return nil, err
	}
	s.paramsMu.Lock()
	defer s.paramsMu.Unlock()
	var ps []datastore.Parameter
	if b, err := s.st.GetParameters(ctx, v.ID); err == nil {
		if err := json.Unmarshal(b, &ps); err == nil && len(ps) > 0 {
			return ps, nil
		}
	} else if !isNotFound(err) {
		return nil, err
	}
	e, ok := s.cfg.Engines[v.Engine]
	cfgr, ok2 := e.(datastore.Configurable)
	if !ok || !ok2 {
		return nil, fault.Errorf(fault.Unprocessable, op, "Configuration groups are not supported for this datastore: %s %s", v.DatastoreName, v.Name)
	}
	if err := s.checkLocalEngine(ctx, op, e, v); err != nil {
		return nil, err
	}
	ps, err = cfgr.Parameters(ctx)
	if errors.Is(err, datastore.ErrNotInstalled) {
		return nil, noLocalEngine(op, v, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: discover %s %s: %w", op, v.Engine, v.Name, err)
	}
	b, err := json.Marshal(ps)
	if err != nil {
		return nil, err
	}
	if err := s.st.PutParameters(ctx, v.ID, b); err != nil {
		return nil, err
	}
	s.log.Info("configuration parameters discovered", "engine", v.Engine, "version", v.Name, "count", len(ps))
	return ps, nil
}

// noLocalEngine is the fault for a catalogue that cannot be read because the
// engine is not installed on the hoard host (501: configuration groups of
// that version are not supported by this deployment).
func noLocalEngine(op string, v *model.DatastoreVersion, err error) error {
	return fault.Wrap(fault.NotImplemented, op, fmt.Sprintf(
		"Configuration parameters of %s %s are not available: they are read from the engine installed with hoard, and it is not installed.",
		v.DatastoreName, v.Name), err)
}

// checkLocalEngine makes sure that, when the catalogue does not come from
// the engines installed on this host (Config.Versions), the installed
// engine whose parameters would be read is version v: another version's
// parameters would be wrong for instances of v.
func (s *Configurations) checkLocalEngine(ctx context.Context, op string, e datastore.Engine, v *model.DatastoreVersion) error {
	if !s.remoteVersions {
		return nil
	}
	local, err := e.Discover(ctx)
	if errors.Is(err, datastore.ErrNotInstalled) || (err == nil && len(local) == 0) {
		return noLocalEngine(op, v, datastore.ErrNotInstalled)
	}
	if err != nil {
		return fmt.Errorf("%s: discover %s: %w", op, v.Engine, err)
	}
	// The engines read the parameters of their first (newest) version.
	if !sameVersion(local[0], v.Name) {
		return fault.Errorf(fault.NotImplemented, op,
			"Configuration parameters of %s %s are not available: they are read from the engine installed with hoard, which is version %s.",
			v.DatastoreName, v.Name, local[0].Version)
	}
	return nil
}

// sameVersion reports whether an installed engine version is the version
// named name: the same short name ("10.11"), its full version, or a more
// precise version of it ("10.11.6" is a 10.11).
func sameVersion(local datastore.Version, name string) bool {
	return name != "" && (name == local.Name || name == local.Version || strings.HasPrefix(name, local.Name+"."))
}

// Parameter returns one parameter of a version's catalogue.
func (s *Configurations) Parameter(ctx context.Context, versionID, name string) (*datastore.Parameter, error) {
	ps, err := s.Parameters(ctx, versionID)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		if strings.EqualFold(ps[i].Name, name) {
			return &ps[i], nil
		}
	}
	return nil, fault.Errorf(fault.NotFound, "configuration.parameter", "No configuration parameter named '%s' was found.", truncate(name, 64))
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "..."
}

// validateValues checks JSON-typed values against a catalogue (reference
// §14.3) and returns them in canonical string form.
func validateValues(ps []datastore.Parameter, v *model.DatastoreVersion, in map[string]any) (map[string]string, error) {
	const op = "configuration.validate"
	out := make(map[string]string, len(in))
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range in {
			if !yield(k) {
				return
			}
		}
	}) {
		raw := in[k]
		i := slices.IndexFunc(ps, func(p datastore.Parameter) bool { return strings.EqualFold(p.Name, k) })
		if i < 0 {
			return nil, fault.Errorf(fault.Unprocessable, op, "The configuration parameter %s is not supported for this datastore: %s %s.", truncate(k, 64), v.DatastoreName, v.Name)
		}
		p := ps[i]
		notType := fault.Errorf(fault.Unprocessable, op, "The value provided for the configuration parameter %s is not of type %s.", p.Name, p.Type)
		var canon string
		switch p.Type {
		case datastore.ParamInteger, datastore.ParamFloat:
			n, ok := raw.(json.Number)
			if !ok {
				return nil, notType
			}
			f, _, err := big.ParseFloat(string(n), 10, 200, big.ToNearestEven)
			if err != nil {
				return nil, notType
			}
			if p.Type == datastore.ParamInteger {
				if !f.IsInt() {
					return nil, notType
				}
				bi, _ := f.Int(nil)
				canon = bi.String()
			} else {
				canon = f.Text('f', -1)
			}
			if p.Min != "" {
				if lo, _, err := big.ParseFloat(p.Min, 10, 200, big.ToNearestEven); err == nil && f.Cmp(lo) < 0 {
					return nil, fault.Errorf(fault.Unprocessable, op, "The value for the configuration parameter %s is less than the minimum allowed: %s", p.Name, p.Min)
				}
			}
			if p.Max != "" {
				if hi, _, err := big.ParseFloat(p.Max, 10, 200, big.ToNearestEven); err == nil && f.Cmp(hi) > 0 {
					return nil, fault.Errorf(fault.Unprocessable, op, "The value for the configuration parameter %s is greater than the maximum allowed: %s", p.Name, p.Max)
				}
			}
		case datastore.ParamBoolean:
			b, ok := raw.(bool)
			if !ok {
				return nil, notType
			}
			canon = strconv.FormatBool(b)
		default:
			str, ok := raw.(string)
			if !ok {
				return nil, notType
			}
			if !safeValueRE.MatchString(str) {
				return nil, fault.Errorf(fault.Unprocessable, op, "The value for the configuration parameter %s may only contain letters, digits and _,.:/+- (at most 255).", p.Name)
			}
			if len(p.Allowed) > 0 {
				items := []string{str}
				if p.Set {
					items = strings.Split(str, ",")
					if str == "" {
						items = nil
					}
				}
				for _, it := range items {
					if !slices.ContainsFunc(p.Allowed, func(a string) bool { return strings.EqualFold(a, it) }) {
						return nil, fault.Errorf(fault.Unprocessable, op, "The value '%s' is not allowed for the configuration parameter %s.", truncate(it, 64), p.Name)
					}
				}
			}
			canon = str
		}
		out[p.Name] = canon
	}
	return out, nil
}

// typedValues converts canonical values back to JSON types for the API.
func typedValues(ps []datastore.Parameter, vals map[string]string) map[string]any {
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		typ := datastore.ParamString
		if i := slices.IndexFunc(ps, func(p datastore.Parameter) bool { return p.Name == k }); i >= 0 {
			typ = ps[i].Type
		}
		switch typ {
		case datastore.ParamInteger, datastore.ParamFloat:
			out[k] = json.Number(v)
		case datastore.ParamBoolean:
			out[k] = v == "true"
		default:
			out[k] = v
		}
	}
	return out
}

func configNotFound(op, id string) error {
	return fault.Errorf(fault.NotFound, op, "Configuration group with ID %s could not be found.", truncate(id, 64))
}

func validGroupText(s string) bool {
	return s != "" && len([]rune(s)) <= 255 && validName(s)
}

// CreateConfiguration creates a configuration group.
func (s *Configurations) CreateConfiguration(ctx context.Context, tenantID string, req ConfigurationRequest) (*ConfigurationDetail, error) {
	const op = "configuration.create"
	if req.Name == nil || !validGroupText(*req.Name) {
		return nil, fault.New(fault.Invalid, op, "Configuration group name must be 1 to 255 characters and contain at least one letter or digit.")
	}
	desc := ""
	if req.Description != nil {
		desc = *req.Description
		if len([]rune(desc)) > 255 {
			return nil, fault.New(fault.Invalid, op, "Configuration group description must be at most 255 characters.")
		}
	}
	ds, dv, err := s.resolveDatastore(ctx, req.DatastoreType, req.DatastoreVersion)
	if err != nil {
		return nil, err
	}
	ps, err := s.Parameters(ctx, dv.ID)
	if err != nil {
		return nil, err
	}
	vals, err := validateValues(ps, dv, req.Values)
	if err != nil {
		return nil, err
	}
	now := s.now()
	c := &model.Configuration{
		ID: uuid.NewString(), TenantID: tenantID, Name: *req.Name, Description: desc,
		Datastore: ds.Name, DatastoreVersion: dv.Name, DatastoreVersionID: dv.ID,
		Values: vals, Created: now, Updated: now,
	}
	if err := s.st.CreateConfiguration(ctx, c); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	s.log.Info("configuration group created", "configuration_id", c.ID, "tenant_id", tenantID)
	return &ConfigurationDetail{Configuration: c, Values: typedValues(ps, vals)}, nil
}

// GetConfiguration returns a group with its typed values and instance count.
func (s *Configurations) GetConfiguration(ctx context.Context, tenantID, id string) (*ConfigurationDetail, error) {
	const op = "configuration.get"
	c, err := s.st.GetConfiguration(ctx, tenantID, id)
	if isNotFound(err) {
		return nil, configNotFound(op, id)
	}
	if err != nil {
		return nil, err
	}
	ps, err := s.Parameters(ctx, c.DatastoreVersionID)
	if err != nil {
		ps = nil // values then show as strings
	}
	n, err := s.st.CountConfigurationInstances(ctx, id)
	if err != nil {
		return nil, err
	}
	return &ConfigurationDetail{Configuration: c, Values: typedValues(ps, c.Values), InstanceCount: n}, nil
}

// ListConfigurations returns one page of a tenant's groups and whether
// more follow.
func (s *Configurations) ListConfigurations(ctx context.Context, tenantID string, page store.Page) ([]*model.Configuration, bool, error) {
	want := page.Limit
	page.Limit++
	list, err := s.st.ListConfigurations(ctx, tenantID, page)
	if err != nil {
		return nil, false, err
	}
	if len(list) > want {
		return list[:want], true, nil
	}
	return list, false, nil
}

// UpdateConfiguration changes a group: replace (PUT) sets the values to
// req.Values, otherwise (PATCH) they are merged in. New values that do not
// fit the RAM of an attached instance's flavor refuse the whole change
// (422). The new values are pushed to every attached instance (reference
// §14.5).
func (s *Configurations) UpdateConfiguration(ctx context.Context, tenantID, id string, req ConfigurationRequest, replace bool) error {
	const op = "configuration.update"
	old, err := s.st.GetConfiguration(ctx, tenantID, id)
	if isNotFound(err) {
		return configNotFound(op, id)
	}
	if err != nil {
		return err
	}
	if req.Name != nil && !validGroupText(*req.Name) {
		return fault.New(fault.Invalid, op, "Configuration group name must be 1 to 255 characters and contain at least one letter or digit.")
	}
	if req.Description != nil && len([]rune(*req.Description)) > 255 {
		return fault.New(fault.Invalid, op, "Configuration group description must be at most 255 characters.")
	}
	v, err := s.versionByID(ctx, old.DatastoreVersionID)
	if err != nil {
		return err
	}
	ps, err := s.Parameters(ctx, v.ID)
	if err != nil {
		return err
	}
	vals, err := validateValues(ps, v, req.Values)
	if err != nil {
		return err
	}
	// The new values must fit every instance using the group (memory.go).
	eng := s.cfg.Engines[v.Engine]
	var attached []attachedFlavor
	if len(vals) > 0 {
		using, err := s.st.ConfigurationInstances(ctx, id, store.Page{})
		if err != nil {
			return err
		}
		if attached, err = s.attachedFlavors(ctx, op, using); err != nil {
			return err
		}
	}
	updated, err := s.st.UpdateConfiguration(ctx, tenantID, id, func(c *model.Configuration) error {
		if req.Name != nil {
			c.Name = *req.Name
		}
		if req.Description != nil {
			c.Description = *req.Description
		}
		if replace {
			c.Values = vals
		} else {
			if c.Values == nil {
				c.Values = map[string]string{}
			}
			for k, v := range vals {
				c.Values[k] = v
			}
		}
		return checkAttachedMemory(op, eng, c.Values, attached)
	})
	if isNotFound(err) {
		return configNotFound(op, id)
	}
	if err != nil {
		return err
	}
	insts, err := s.st.ConfigurationInstances(ctx, id, store.Page{})
	if err != nil {
		return err
	}
	for _, inst := range insts {
		s.pushConfiguration(ctx, inst, old.Values, updated.Values, ps)
	}
	return nil
}

// DeleteConfiguration removes a group that no instance uses.
func (s *Configurations) DeleteConfiguration(ctx context.Context, tenantID, id string) error {
	const op = "configuration.delete"
	err := s.st.DeleteConfiguration(ctx, tenantID, id)
	switch {
	case isNotFound(err):
		return configNotFound(op, id)
	case errors.Is(err, store.ErrInUse):
		return fault.New(fault.Invalid, op, "A configuration group cannot be deleted if it is associated with one or more non-terminated instances. Detach the configuration group from all non-terminated instances and please try again.")
	}
	return err
}

// ConfigurationInstances lists the tenant's instances using group id.
func (s *Configurations) ConfigurationInstances(ctx context.Context, tenantID, id string, page store.Page) ([]*model.Instance, bool, error) {
	const op = "configuration.instances"
	if _, err := s.st.GetConfiguration(ctx, tenantID, id); err != nil {
		if isNotFound(err) {
			return nil, false, configNotFound(op, id)
		}
		return nil, false, err
	}
	want := page.Limit
	page.Limit++
	list, err := s.st.ConfigurationInstances(ctx, id, page)
	if err != nil {
		return nil, false, err
	}
	if len(list) > want {
		return list[:want], true, nil
	}
	return list, false, nil
}

// groupValues returns the values of inst's attached group (nil if none).
func (s *deps) groupValues(ctx context.Context, inst *model.Instance) map[string]string {
	if inst.ConfigurationID == "" {
		return nil
	}
	c, err := s.st.GetConfiguration(ctx, "", inst.ConfigurationID)
	if err != nil {
		s.log.Warn("configuration group of instance unreadable", "instance_id", inst.ID, "configuration_id", inst.ConfigurationID, "err", err)
		return nil
	}
	return c.Values
}

// ConfigurationName returns the name of group id ("" if unknown).
func (s *Configurations) ConfigurationName(ctx context.Context, id string) string {
	if id == "" {
		return ""
	}
	c, err := s.st.GetConfiguration(ctx, "", id)
	if err != nil {
		return ""
	}
	return c.Name
}

// AttachConfiguration attaches group configID to an ACTIVE instance
// (reference §8.5, §14.4): its values are written to the engine's config,
// the dynamic ones applied at once; if any needs a restart the instance
// goes to RESTART_REQUIRED. Values that do not fit the RAM of the
// instance's flavor are refused (422).
func (s *Configurations) AttachConfiguration(ctx context.Context, tenantID, id, configID string) error {
	const op = "instance.configuration.attach"
	inst, err := s.st.GetInstance(ctx, tenantID, id)
	if err != nil {
		return mapStoreErr(op, id, err)
	}
	c, err := s.st.GetConfiguration(ctx, tenantID, configID)
	if isNotFound(err) {
		return fault.Errorf(fault.NotFound, op, "Configuration group id: %s could not be found.", truncate(configID, 64))
	}
	if err != nil {
		return err
	}
	if c.DatastoreVersionID != inst.DatastoreVersionID {
		return fault.Errorf(fault.Invalid, op, "The configuration group %s is for datastore version %s %s, the instance runs %s %s.",
			c.ID, c.Datastore, c.DatastoreVersion, inst.Datastore, inst.DatastoreVersion)
	}
	ps, err := s.Parameters(ctx, c.DatastoreVersionID)
	if err != nil {
		return err
	}
	if inst.Status != model.StatusActive {
		return invalidState(op, inst)
	}
	if err := s.checkInstanceMemory(ctx, op, inst, c.Values); err != nil {
		return err
	}
	// The engine is written to: an inline operation (inline.go), so that
	// no restart or delete, on any hoard, takes the engine away meanwhile.
	_, unlock, err := s.acquireInline(ctx, op, tenantID, id, uuid.NewString(), invalidState)
	if err != nil {
		return err
	}
	defer unlock()
	restart := needsRestart(ps, nil, c.Values)
	inst, err = s.st.UpdateInstance(ctx, id, func(i *model.Instance) error {
		if i.Status != model.StatusActive {
			return fault.Errorf(fault.Invalid, op, "The operation you have requested cannot be executed because the instance status is currently: %s.", i.Status)
		}
		if i.ConfigurationID != "" {
			return fault.Errorf(fault.Invalid, op, "Instance %s already has a Configuration Group attached: %s.", id, i.ConfigurationID)
		}
		i.ConfigurationID = c.ID
		if restart {
			i.Status = model.StatusRestartRequired
		}
		return nil
	})
	if err != nil {
		if fault.KindOf(err) != fault.Internal {
			return err
		}
		return mapStoreErr(op, id, err)
	}
	s.applyToInstance(ctx, inst, dynamicOnly(ps, c.Values))
	s.log.Info("configuration group attached", "instance_id", id, "configuration_id", c.ID, "restart_required", restart)
	return nil
}

// DetachConfiguration removes an instance's group; its values stay in
// effect until the next restart, so the instance goes to RESTART_REQUIRED
// (Kilo/Rackspace). Without a group it is a no-op.
func (s *Configurations) DetachConfiguration(ctx context.Context, tenantID, id string) error {
	const op = "instance.configuration.detach"
	inst, err := s.st.GetInstance(ctx, tenantID, id)
	if err != nil {
		return mapStoreErr(op, id, err)
	}
	if inst.ConfigurationID == "" {
		return nil
	}
	if inst.Status != model.StatusActive && inst.Status != model.StatusRestartRequired {
		return invalidState(op, inst)
	}
	_, unlock, err := s.acquireInline(ctx, op, tenantID, id, uuid.NewString(), invalidState)
	if err != nil {
		return err
	}
	defer unlock()
	inst, err = s.st.UpdateInstance(ctx, id, func(i *model.Instance) error {
		if i.Status != model.StatusActive && i.Status != model.StatusRestartRequired {
			return fault.Errorf(fault.Invalid, op, "The operation you have requested cannot be executed because the instance status is currently: %s.", i.Status)
		}
		if i.ConfigurationID != "" {
			i.ConfigurationID = ""
			i.Status = model.StatusRestartRequired
		}
		return nil
	})
	if err != nil {
		if fault.KindOf(err) != fault.Internal {
			return err
		}
		return mapStoreErr(op, id, err)
	}
	s.applyToInstance(ctx, inst, nil)
	s.log.Info("configuration group detached", "instance_id", id)
	return nil
}

// invalidState is the 400 of a configuration attach or detach on an
// instance whose status (or a task under way) does not allow it (Trove's
// InvalidInstanceState, reference section 8.5).
func invalidState(op string, inst *model.Instance) error {
	return fault.Errorf(fault.Invalid, op, "The operation you have requested cannot be executed because the instance status is currently: %s.", inst.Status)
}

// needsRestart reports whether going from old to new values needs an
// engine restart: a changed or added restart-only value, or a removed one.
func needsRestart(ps []datastore.Parameter, old, new map[string]string) bool {
	for k, v := range new {
		if ov, ok := old[k]; ok && ov == v {
			continue
		}
		if i := slices.IndexFunc(ps, func(p datastore.Parameter) bool { return p.Name == k }); i < 0 || ps[i].RestartRequired {
			return true
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			return true
		}
	}
	return false
}

// dynamicOnly returns the values that apply without a restart.
func dynamicOnly(ps []datastore.Parameter, vals map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range vals {
		if i := slices.IndexFunc(ps, func(p datastore.Parameter) bool { return p.Name == k }); i >= 0 && !ps[i].RestartRequired {
			out[k] = v
		}
	}
	return out
}

// pushConfiguration brings an attached instance to a group's new values,
// as an inline operation (inline.go). An instance that is not ready, or
// stays busy, is not touched now: its engine renders the group's values at
// its next start, and if it was ACTIVE it goes to RESTART_REQUIRED so that
// the user knows the values are not in effect yet.
func (s *Configurations) pushConfiguration(ctx context.Context, inst *model.Instance, old, new map[string]string, ps []datastore.Parameter) {
	const op = "configuration.push"
	restart := needsRestart(ps, old, new)
	changed := map[string]string{}
	for k, v := range dynamicOnly(ps, new) {
		if old[k] != v {
			changed[k] = v
		}
	}
	if !restart && len(changed) == 0 {
		return
	}
	cur, unlock, err := s.acquireInline(ctx, op, inst.TenantID, inst.ID, uuid.NewString(), notReady)
	if err != nil {
		s.log.Warn("configuration not pushed now; it takes effect at the next restart", "instance_id", inst.ID, "reason", fault.Message(err))
		s.restartRequired(ctx, inst.ID, inst.ConfigurationID)
		return
	}
	defer unlock()
	if cur.ConfigurationID != inst.ConfigurationID {
		return // detached meanwhile: the group is not its own any more
	}
	if restart {
		s.restartRequired(ctx, cur.ID, cur.ConfigurationID)
	}
	s.applyToInstance(ctx, cur, changed)
}

// restartRequired moves instance id, if ACTIVE and still attached to group
// configID, to RESTART_REQUIRED. Failures are logged.
func (s *Configurations) restartRequired(ctx context.Context, id, configID string) {
	_, err := s.st.UpdateInstance(ctx, id, func(i *model.Instance) error {
		if i.Status == model.StatusActive && i.ConfigurationID == configID {
			i.Status = model.StatusRestartRequired
		}
		return nil
	})
	if err != nil {
		s.log.Warn("configuration push: status", "instance_id", id, "err", err)
	}
}

// applyToInstance rewrites inst's engine configuration (with its current
// group) and applies dynamic values at once. Failures are logged and turn
// the instance to RESTART_REQUIRED: the values are in the configuration and
// take effect at the next restart.
func (s *Configurations) applyToInstance(ctx context.Context, inst *model.Instance, dynamic map[string]string) {
	// Bounded like every inline operation: its lease outlives adminTimeout
	// only by a margin.
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	sp, err := s.spec(ctx, inst)
	if err == nil {
		if rc, ok := s.cfg.Driver.(reconfigurer); ok {
			err = rc.Reconfigure(ctx, sp)
		}
	}
	if err == nil && len(dynamic) > 0 {
		var e datastore.Engine
		if e, err = s.engineFor(inst); err == nil {
			cfgr, ok := e.(datastore.Configurable)
			if !ok {
				err = fmt.Errorf("engine %s is not configurable", e.Name())
			} else {
				var c datastore.Conn
				if c, err = s.adminConn(inst, sp, e); err == nil {
					err = cfgr.ApplyDynamic(ctx, c, dynamic)
				}
			}
		}
	}
	if err != nil {
		s.log.Warn("configuration not applied at once; restart required", "instance_id", inst.ID, "err", err)
		_, _ = s.st.UpdateInstance(context.WithoutCancel(ctx), inst.ID, func(i *model.Instance) error {
			if i.Status == model.StatusActive {
				i.Status = model.StatusRestartRequired
			}
			return nil
		})
	}
}

// InstanceConfiguration returns the effective configuration of an
// instance (reference §8.8): the engine's settings for its flavor with its
// group's values over them, all as strings.
func (s *Configurations) InstanceConfiguration(ctx context.Context, tenantID, id string) (map[string]string, error) {
	const op = "instance.configuration"
	inst, err := s.st.GetInstance(ctx, tenantID, id)
	if err != nil {
		return nil, mapStoreErr(op, id, err)
	}
	e, err := s.engineFor(inst)
	if err != nil {
		return nil, err
	}
	sp, err := s.spec(ctx, inst)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if cfgr, ok := e.(datastore.Configurable); ok {
		out = cfgr.Defaults(datastore.Spec{InstanceID: sp.InstanceID, Address: sp.Address, Port: sp.Port, RAMMB: sp.RAMMB, VolumeGB: sp.VolumeGB})
	}
	for k, v := range sp.Config {
		out[k] = v
	}
	return out, nil
}

// createGroup checks the group a create request names (reference §8.2):
// unknown → 404, another datastore version → 400. The zero value when
// none is named.
func (s *Configurations) createGroup(ctx context.Context, tenantID, id string, dv *model.DatastoreVersion) (model.Configuration, error) {
	const op = "instance.create"
	if id == "" {
		return model.Configuration{}, nil
	}
	c, err := s.st.GetConfiguration(ctx, tenantID, id)
	if isNotFound(err) {
		return model.Configuration{}, fault.Errorf(fault.NotFound, op, "Configuration group id: %s could not be found.", truncate(id, 64))
	}
	if err != nil {
		return model.Configuration{}, err
	}
	if c.DatastoreVersionID != dv.ID {
		return model.Configuration{}, fault.Errorf(fault.Invalid, op, "The configuration group %s is for datastore version %s %s, not %s %s.",
			c.ID, c.Datastore, c.DatastoreVersion, dv.DatastoreName, dv.Name)
	}
	return *c, nil
}
