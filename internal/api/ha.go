package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
)

// HABackend is what the Rackspace HA instance group routes (/ha, API
// reference §17.1) need from the domain.
type HABackend interface {
	CreateHA(ctx context.Context, tenantID string, req service.CreateHARequest) (*service.HADetail, error)
	GetHA(ctx context.Context, tenantID, id string) (*service.HADetail, error)
	ListHA(ctx context.Context, tenantID string) ([]*service.HADetail, error)
	DeleteHA(ctx context.Context, tenantID, id string) error
	AddHAACL(ctx context.Context, tenantID, id, address string) error
	DeleteHAACL(ctx context.Context, tenantID, id, address string) error
	SetHAConfiguration(ctx context.Context, tenantID, id, configID string) error
	Act(ctx context.Context, tenantID, id string, a service.HAAction) error
	ListHABackups(ctx context.Context, tenantID, id string) ([]*model.Backup, error)
}

var _ HABackend = (*service.Service)(nil)

// haRoutes registers §17.1 (called from routes).
func (s *Server) haRoutes(t string) {
	s.handle("GET "+t+"ha", s.listHA)
	s.handle("POST "+t+"ha", s.createHA)
	s.handle("GET "+t+"ha/{id}", s.getHA)
	s.handle("DELETE "+t+"ha/{id}", s.deleteHA)
	s.handle("PATCH "+t+"ha/{id}", s.patchHA)
	s.handle("POST "+t+"ha/{id}/action", s.haAction)
	s.handle("GET "+t+"ha/{id}/acls", s.listHAACLs)
	s.handle("POST "+t+"ha/{id}/acls", s.addHAACL)
	s.handle("DELETE "+t+"ha/{id}/acls/{address...}", s.deleteHAACL)
	s.handle("GET "+t+"ha/{id}/backups", s.listHABackups)
}

func (s *Server) ha() (HABackend, error) {
	hb, ok := s.b.(HABackend)
	if !ok {
		return nil, fault.New(fault.NotImplemented, "api.ha", "HA instance groups are not implemented.")
	}
	return hb, nil
}

// haSummaryView is a group in GET /ha.
type haSummaryView struct {
	ID        string                `json:"id"`
	Name      string                `json:"name"`
	State     model.HAState         `json:"state"`
	Datastore instanceDatastoreView `json:"datastore"`
	Links     []link                `json:"links"`
}

// haNetworkView is one endpoint of a group.
type haNetworkView struct {
	Access  string `json:"access"`
	Network string `json:"network"`
	Port    int    `json:"port"`
	Address string `json:"address"`
}

type haACLView struct {
	Type    string `json:"type,omitempty"`
	Address string `json:"address"`
}

type haEventView struct {
	Time    string `json:"time"`
	Message string `json:"message"`
}

// haView is a group's detail.
type haView struct {
	haSummaryView
	TenantID      string             `json:"tenant_id"`
	Flavor        instanceFlavorView `json:"flavor"`
	Volume        volumeView         `json:"volume"`
	Configuration string             `json:"configuration"`
	ACLs          []haACLView        `json:"acls"`
	Networks      []haNetworkView    `json:"networks"`
	ReplicaSource []instanceView     `json:"replica_source"`
	Replicas      []instanceView     `json:"replicas"`
	Created       string             `json:"created"`
	Updated       string             `json:"updated"`
	// Events is the group's recent history (failovers, replaced
	// members): an extra that clients ignore.
	Events []haEventView `json:"events,omitempty"`
}

func haSummary(lk *linker, d *service.HADetail) haSummaryView {
	return haSummaryView{
		ID: d.ID, Name: d.Name, State: d.State,
		Datastore: instanceDatastoreView{Type: d.Datastore, Version: d.DatastoreVersion},
		Links:     lk.links("ha", d.ID),
	}
}

func haDetailView(r *http.Request, tenant string, d *service.HADetail) haView {
	lk := newLinker(r, tenant)
	admin := reqInfoFrom(r.Context()).isAdmin()
	flavorID := strconv.Itoa(d.FlavorID)
	v := haView{
		haSummaryView: haSummary(lk, d),
		TenantID:      d.TenantID,
		Flavor:        instanceFlavorView{ID: flavorID, Links: lk.flavor(flavorID)},
		Volume:        volumeView{Size: d.VolumeSize},
		Configuration: d.ConfigurationID,
		ACLs:          []haACLView{},
		Networks:      []haNetworkView{},
		ReplicaSource: []instanceView{},
		Replicas:      []instanceView{},
		Created:       formatTime(d.Created),
		Updated:       formatTime(d.Updated),
	}
	for _, a := range d.ACLs {
		v.ACLs = append(v.ACLs, haACLView{Address: a})
	}
	for _, n := range d.Networks {
		v.Networks = append(v.Networks,
			haNetworkView{Access: "write", Network: n, Port: d.WritePort, Address: d.Address},
			haNetworkView{Access: "read", Network: n, Port: d.ReadPort, Address: d.Address})
	}
	if d.Source != nil {
		v.ReplicaSource = append(v.ReplicaSource, lk.instanceDetailView(d.Source, nil, admin))
	}
	for _, m := range d.Replicas {
		v.Replicas = append(v.Replicas, lk.instanceDetailView(m, nil, admin))
	}
	for _, e := range d.Events {
		v.Events = append(v.Events, haEventView{Time: formatTime(e.Time), Message: e.Message})
	}
	return v
}

// listHA serves GET /ha.
func (s *Server) listHA(w http.ResponseWriter, r *http.Request) error {
	hb, err := s.ha()
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	groups, err := hb.ListHA(r.Context(), tenant)
	if err != nil {
		return err
	}
	lk := newLinker(r, tenant)
	out := make([]haSummaryView, 0, len(groups))
	for _, d := range groups {
		out = append(out, haSummary(lk, d))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ha_instances": out})
}

// createHA serves POST /ha: 202 with the group (state BUILD).
func (s *Server) createHA(w http.ResponseWriter, r *http.Request) error {
	hb, err := s.ha()
	if err != nil {
		return err
	}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeHACreate(body)
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	d, err := hb.CreateHA(r.Context(), tenant, req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]haView{"ha_instance": haDetailView(r, tenant, d)})
}

// getHA serves GET /ha/{id}.
func (s *Server) getHA(w http.ResponseWriter, r *http.Request) error {
	hb, err := s.ha()
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	d, err := hb.GetHA(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]haView{"ha_instance": haDetailView(r, tenant, d)})
}

// deleteHA serves DELETE /ha/{id}: 202.
func (s *Server) deleteHA(w http.ResponseWriter, r *http.Request) error {
	hb, err := s.ha()
	if err != nil {
		return err
	}
	if err := hb.DeleteHA(r.Context(), r.PathValue("tenant"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// patchHA serves PATCH /ha/{id}: attach ("<id>") or detach ("") a
// configuration group to every member.
func (s *Server) patchHA(w http.ResponseWriter, r *http.Request) error {
	hb, err := s.ha()
	if err != nil {
		return err
	}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	cfg, err := decodeHAPatch(body)
	if err != nil {
		return err
	}
	if err := hb.SetHAConfiguration(r.Context(), r.PathValue("tenant"), r.PathValue("id"), cfg); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// haAction serves POST /ha/{id}/action: 202.
func (s *Server) haAction(w http.ResponseWriter, r *http.Request) error {
	hb, err := s.ha()
	if err != nil {
		return err
	}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	a, err := decodeHAAction(body)
	if err != nil {
		return err
	}
	if err := hb.Act(r.Context(), r.PathValue("tenant"), r.PathValue("id"), a); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// listHAACLs serves GET /ha/{id}/acls.
func (s *Server) listHAACLs(w http.ResponseWriter, r *http.Request) error {
	hb, err := s.ha()
	if err != nil {
		return err
	}
	d, err := hb.GetHA(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]haACLView, 0, len(d.ACLs))
	for _, a := range d.ACLs {
		out = append(out, haACLView{Type: "ALLOW", Address: a})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"acls": out})
}

// addHAACL serves POST /ha/{id}/acls {"address": "1.2.3.4/32"}: 200.
func (s *Server) addHAACL(w http.ResponseWriter, r *http.Request) error {
	hb, err := s.ha()
	if err != nil {
		return err
	}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	addr, err := decodeHAACL(body)
	if err != nil {
		return err
	}
	if err := hb.AddHAACL(r.Context(), r.PathValue("tenant"), r.PathValue("id"), addr); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"acl": haACLView{Type: "ALLOW", Address: addr}})
}

// deleteHAACL serves DELETE /ha/{id}/acls/{address}: 202. The CIDR's '/'
// arrives encoded once or more (Rackspace's clients send %25252F), or
// raw as a further path segment.
func (s *Server) deleteHAACL(w http.ResponseWriter, r *http.Request) error {
	hb, err := s.ha()
	if err != nil {
		return err
	}
	addr := unescapeFully(r.PathValue("address"))
	if err := hb.DeleteHAACL(r.Context(), r.PathValue("tenant"), r.PathValue("id"), addr); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// unescapeFully undoes percent-encoding applied any number of times.
func unescapeFully(s string) string {
	for range 5 {
		u, err := url.PathUnescape(s)
		if err != nil || u == s {
			return s
		}
		s = u
	}
	return s
}

// listHABackups serves GET /ha/{id}/backups.
func (s *Server) listHABackups(w http.ResponseWriter, r *http.Request) error {
	hb, err := s.ha()
	if err != nil {
		return err
	}
	items, err := hb.ListHABackups(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	admin := reqInfoFrom(r.Context()).isAdmin()
	out := make([]backupView, 0, len(items))
	for _, b := range items {
		out = append(out, newBackupView(b, admin))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"backups": out})
}

// haCreateKeys are the keys a group create's "ha" object may hold.
var haCreateKeys = []string{"name", "datastore", "replica_source", "replicas", "networks", "acls", "configuration"}

// decodeHACreate decodes and shape-checks POST /ha. Errors are of kind
// fault.Invalid, every problem in one message.
func decodeHACreate(body []byte) (service.CreateHARequest, error) {
	const op = "api.ha.create"
	var req service.CreateHARequest
	top, err := decodeObject(body)
	if err != nil {
		return req, err
	}
	var p problems
	raw, ok := top["ha"]
	if !ok || isNull(raw) {
		return req, fault.New(fault.Invalid, op, "Validation error: 'ha' is a required property")
	}
	for k := range top {
		if k != "ha" {
			p.add("unknown property '%s'", truncate(k, 64))
		}
	}
	m, ok := objectField(&p, "ha", raw)
	if !ok {
		return req, p.err(op)
	}
	for k := range m {
		if !slices.Contains(haCreateKeys, k) {
			p.add("ha has an unknown property '%s'", truncate(k, 64))
		}
	}
	req.Name = requiredString(&p, "ha", "name", m)
	if req.Name != "" {
		validName(&p, "ha 'name'", req.Name)
	}
	if raw, ok := m["datastore"]; !ok || isNull(raw) {
		p.add("ha 'datastore' is a required property")
	} else if ds, ok := objectField(&p, "ha 'datastore'", raw); ok {
		req.DatastoreType = requiredString(&p, "ha 'datastore'", "type", ds)
		req.DatastoreVersion = optionalString(&p, "ha 'datastore'", "version", ds)
		for k := range ds {
			if k != "type" && k != "version" {
				p.add("ha 'datastore' has an unknown property '%s'", truncate(k, 64))
			}
		}
	}
	sources := decodeHAMembers(&p, "ha 'replica_source'", m["replica_source"], true)
	if len(sources) != 1 && m["replica_source"] != nil {
		p.add("ha 'replica_source' must list exactly one instance")
	} else if len(sources) == 1 {
		req.Source = sources[0]
	}
	req.Replicas = decodeHAMembers(&p, "ha 'replicas'", m["replicas"], true)
	if raw, ok := m["networks"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &req.Networks); err != nil {
			p.add("ha 'networks' must be a list of strings")
		}
	}
	if raw, ok := m["acls"]; ok && !isNull(raw) {
		var acls []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &acls); err != nil {
			p.add("ha 'acls' must be a list of objects")
		}
		for i, a := range acls {
			path := fmt.Sprintf("ha 'acls'[%d]", i)
			if a == nil {
				p.add("%s must be an object", path)
				continue
			}
			if addr := requiredString(&p, path, "address", a); addr != "" {
				req.ACLs = append(req.ACLs, addr)
			}
			for k := range a {
				if k != "address" {
					p.add("%s has an unknown property '%s'", path, truncate(k, 64))
				}
			}
		}
	}
	req.Configuration = optionalString(&p, "ha", "configuration", m)
	return req, p.err(op)
}

// decodeHAMembers decodes a list of members {"name", "flavorRef",
// "volume": {"size"}}; with required, it must be present.
func decodeHAMembers(p *problems, path string, raw json.RawMessage, required bool) []service.HAMemberRequest {
	if isNull(raw) {
		if required {
			p.add("%s is a required property", path)
		}
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		p.add("%s must be a list", path)
		return nil
	}
	var out []service.HAMemberRequest
	for i, item := range list {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		m, ok := objectField(p, ipath, item)
		if !ok {
			continue
		}
		if mr, ok := decodeHAMember(p, ipath, m); ok {
			out = append(out, mr)
		}
	}
	return out
}

// decodeHAMember decodes one member object.
func decodeHAMember(p *problems, path string, m map[string]json.RawMessage) (service.HAMemberRequest, bool) {
	var mr service.HAMemberRequest
	n := len(*p)
	for k := range m {
		if k != "name" && k != "flavorRef" && k != "volume" {
			p.add("%s has an unknown property '%s'", path, truncate(k, 64))
		}
	}
	mr.Name = optionalString(p, path, "name", m)
	if mr.Name != "" {
		validName(p, path+" 'name'", mr.Name)
	}
	if raw, ok := m["flavorRef"]; ok && !isNull(raw) {
		mr.FlavorRef = decodeFlavorRef(p, raw)
	} else {
		p.add("%s 'flavorRef' is a required property", path)
	}
	if raw, ok := m["volume"]; ok && !isNull(raw) {
		if vol, ok := objectField(p, path+" 'volume'", raw); ok {
			size, ok := intOrDigits(vol["size"])
			if !ok || size < 1 {
				p.add("%s 'volume' 'size' must be a positive integer", path)
			}
			mr.VolumeSize = size
		}
	} else {
		p.add("%s 'volume' is a required property", path)
	}
	return mr, len(*p) == n
}

// decodeHAPatch decodes PATCH /ha/{id}: {"ha_instance": {"configuration":
// "<id>" | ""}}.
func decodeHAPatch(body []byte) (string, error) {
	const op = "api.ha.update"
	top, err := decodeObject(body)
	if err != nil {
		return "", err
	}
	var p problems
	raw, ok := top["ha_instance"]
	if !ok || isNull(raw) || len(top) != 1 {
		return "", fault.New(fault.Invalid, op, "Validation error: the body must be {\"ha_instance\": {\"configuration\": \"<id>\"}}")
	}
	m, ok := objectField(&p, "ha_instance", raw)
	if !ok {
		return "", p.err(op)
	}
	cfgRaw, ok := m["configuration"]
	if !ok || len(m) != 1 {
		return "", fault.New(fault.Invalid, op, "Validation error: 'ha_instance' must hold 'configuration' alone")
	}
	if isNull(cfgRaw) {
		return "", nil
	}
	cfg, _ := stringField(&p, "ha_instance 'configuration'", cfgRaw)
	return cfg, p.err(op)
}

// decodeHAACL decodes POST /ha/{id}/acls: {"address": "CIDR"}.
func decodeHAACL(body []byte) (string, error) {
	const op = "api.ha.acl"
	m, err := decodeObject(body)
	if err != nil {
		return "", err
	}
	var p problems
	addr := requiredString(&p, "body", "address", m)
	for k := range m {
		if k != "address" {
			p.add("unknown property '%s'", truncate(k, 64))
		}
	}
	return strings.TrimSpace(addr), p.err(op)
}

// haActions are the group action names.
var haActions = []string{"add_replica", "remove_replica", "resize_volumes", "resize_flavor", "restart", "upgrade"}

// decodeHAAction decodes POST /ha/{id}/action: exactly one action.
func decodeHAAction(body []byte) (service.HAAction, error) {
	const op = "api.ha.action"
	var a service.HAAction
	m, err := decodeObject(body)
	if err != nil {
		return a, err
	}
	if len(m) != 1 {
		return a, fault.Errorf(fault.Invalid, op, "The body must hold exactly one action of %s.", strings.Join(haActions, ", "))
	}
	var p problems
	for name, raw := range m {
		switch name {
		case "add_replica":
			obj, ok := objectField(&p, name, raw)
			if !ok {
				break
			}
			details, ok := obj["replica_details"]
			if !ok || len(obj) != 1 {
				p.add("add_replica must hold 'replica_details' alone")
				break
			}
			dm, ok := objectField(&p, "add_replica 'replica_details'", details)
			if !ok {
				break
			}
			if mr, ok := decodeHAMember(&p, "add_replica 'replica_details'", dm); ok {
				a.AddReplica = &mr
			}
		case "remove_replica":
			if id, ok := stringField(&p, name, raw); ok {
				if id == "" {
					p.add("remove_replica must name an instance")
				}
				a.RemoveReplica = id
			}
		case "resize_volumes":
			obj, ok := objectField(&p, name, raw)
			if !ok {
				break
			}
			size, ok := intOrDigits(obj["size"])
			if !ok || size < 1 || len(obj) != 1 {
				p.add("resize_volumes must be {\"size\": <positive integer>}")
			}
			a.ResizeVolumes = size
		case "resize_flavor":
			a.ResizeFlavor = decodeFlavorRef(&p, raw)
			if a.ResizeFlavor == "" {
				p.add("resize_flavor must name a flavor")
			}
		case "restart":
			obj, ok := objectField(&p, name, raw)
			if ok && len(obj) != 0 {
				p.add("restart takes no arguments")
			}
			a.Restart = ok
		case "upgrade":
			obj, ok := objectField(&p, name, raw)
			if !ok {
				break
			}
			u := service.HAUpgrade{
				DatastoreType:    requiredString(&p, "upgrade", "datastore_type", obj),
				DatastoreVersion: requiredString(&p, "upgrade", "datastore_version", obj),
			}
			a.Upgrade = &u
		default:
			return a, fault.Errorf(fault.Invalid, op, "Unknown action '%s': the actions are %s.", truncate(name, 64), strings.Join(haActions, ", "))
		}
	}
	if err := p.err(op); err != nil {
		return service.HAAction{}, err
	}
	return a, nil
}
