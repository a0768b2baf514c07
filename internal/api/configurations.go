package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/service"
	"github.com/hoard-db/hoard/internal/store"
)

// ConfigBackend is an optional Backend capability: resize and
// configuration groups (reference §9.3, §14). A Backend without it answers
// 501 for these calls.
type ConfigBackend interface {
	ResizeFlavor(ctx context.Context, tenantID, id, flavorRef string) error
	ResizeVolume(ctx context.Context, tenantID, id string, size int) error

	// Parameters is the catalogue of datastore version versionID.
	Parameters(ctx context.Context, versionID string) ([]datastore.Parameter, error)
	Parameter(ctx context.Context, versionID, name string) (*datastore.Parameter, error)

	CreateConfiguration(ctx context.Context, tenantID string, req service.ConfigurationRequest) (*service.ConfigurationDetail, error)
	GetConfiguration(ctx context.Context, tenantID, id string) (*service.ConfigurationDetail, error)
	ListConfigurations(ctx context.Context, tenantID string, page store.Page) ([]*model.Configuration, bool, error)
	// UpdateConfiguration replaces (PUT) or merges (PATCH) the values.
	UpdateConfiguration(ctx context.Context, tenantID, id string, req service.ConfigurationRequest, replace bool) error
	DeleteConfiguration(ctx context.Context, tenantID, id string) error
	ConfigurationInstances(ctx context.Context, tenantID, id string, page store.Page) ([]*model.Instance, bool, error)

	AttachConfiguration(ctx context.Context, tenantID, id, configID string) error
	DetachConfiguration(ctx context.Context, tenantID, id string) error
	// InstanceConfiguration is the effective configuration, as strings.
	InstanceConfiguration(ctx context.Context, tenantID, id string) (map[string]string, error)
}

// configBackend returns the ConfigBackend or a 501.
func (s *Server) configBackend(op string) (ConfigBackend, error) {
	cb, ok := s.b.(ConfigBackend)
	if !ok {
		return nil, fault.New(fault.NotImplemented, op, "Configuration groups and resize are not implemented.")
	}
	return cb, nil
}

// configurationRefView is an instance's group in the detail view.
type configurationRefView struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Links []link `json:"links"`
}

// configurationView is a group: the summary (list) or, with Values and
// InstanceCount set, the detail.
type configurationView struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	Description          *string        `json:"description"`
	DatastoreName        string         `json:"datastore_name"`
	DatastoreVersionID   string         `json:"datastore_version_id"`
	DatastoreVersionName string         `json:"datastore_version_name"`
	Created              string         `json:"created"`
	Updated              string         `json:"updated"`
	Links                []link         `json:"links,omitempty"`
	Values               map[string]any `json:"values,omitempty"`
	InstanceCount        *int           `json:"instance_count,omitempty"`
}

func newConfigurationView(r *http.Request, tenant string, c *model.Configuration) configurationView {
	v := configurationView{
		ID: c.ID, Name: c.Name, DatastoreName: c.Datastore, DatastoreVersionID: c.DatastoreVersionID,
		DatastoreVersionName: c.DatastoreVersion, Created: formatTime(c.Created), Updated: formatTime(c.Updated),
		Links: links(r, tenant, "configurations", c.ID),
	}
	if c.Description != "" {
		d := c.Description
		v.Description = &d
	}
	return v
}

func newConfigurationDetailView(r *http.Request, tenant string, d *service.ConfigurationDetail) configurationView {
	v := newConfigurationView(r, tenant, d.Configuration)
	v.Values = d.Values
	if v.Values == nil {
		v.Values = map[string]any{}
	}
	n := d.InstanceCount
	v.InstanceCount = &n
	return v
}

// parameterView is one catalogue entry (reference §14.2); min and max are
// JSON numbers.
type parameterView struct {
	Name               string       `json:"name"`
	Type               string       `json:"type"`
	Min                *json.Number `json:"min,omitempty"`
	Max                *json.Number `json:"max,omitempty"`
	RestartRequired    bool         `json:"restart_required"`
	DatastoreVersionID string       `json:"datastore_version_id"`
}

func newParameterView(p *datastore.Parameter, versionID string) parameterView {
	v := parameterView{Name: p.Name, Type: string(p.Type), RestartRequired: p.RestartRequired, DatastoreVersionID: versionID}
	if p.Min != "" {
		n := json.Number(p.Min)
		v.Min = &n
	}
	if p.Max != "" {
		n := json.Number(p.Max)
		v.Max = &n
	}
	return v
}

// versionIDOf resolves /datastores/{ds}/versions/{v} to a version id.
func (s *Server) versionIDOf(r *http.Request, ds, v string) (string, error) {
	d, err := s.findDatastore(r, ds)
	if err != nil {
		return "", err
	}
	ver, err := findVersion(r, d, v)
	if err != nil {
		return "", err
	}
	return ver.ID, nil
}

func (s *Server) writeParameters(w http.ResponseWriter, r *http.Request, versionID string) error {
	cb, err := s.configBackend("api.parameters")
	if err != nil {
		return err
	}
	ps, err := cb.Parameters(r.Context(), versionID)
	if err != nil {
		return err
	}
	out := make([]parameterView, len(ps))
	for i := range ps {
		out[i] = newParameterView(&ps[i], versionID)
	}
	return writeJSON(w, http.StatusOK, map[string][]parameterView{"configuration-parameters": out})
}

func (s *Server) writeParameter(w http.ResponseWriter, r *http.Request, versionID, name string) error {
	cb, err := s.configBackend("api.parameters")
	if err != nil {
		return err
	}
	p, err := cb.Parameter(r.Context(), versionID, name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newParameterView(p, versionID))
}

// listParameters serves GET /datastores/{ds}/versions/{v}/parameters.
func (s *Server) listParameters(w http.ResponseWriter, r *http.Request) error {
	id, err := s.versionIDOf(r, r.PathValue("ds"), r.PathValue("v"))
	if err != nil {
		return err
	}
	return s.writeParameters(w, r, id)
}

// getParameter serves GET /datastores/{ds}/versions/{v}/parameters/{name}.
func (s *Server) getParameter(w http.ResponseWriter, r *http.Request) error {
	id, err := s.versionIDOf(r, r.PathValue("ds"), r.PathValue("v"))
	if err != nil {
		return err
	}
	return s.writeParameter(w, r, id, r.PathValue("name"))
}

// checkVersionID makes sure a version id is visible (404 otherwise).
func (s *Server) checkVersionID(r *http.Request, id string) error {
	all, err := s.b.ListDatastores(r.Context())
	if err != nil {
		return err
	}
	admin := reqInfoFrom(r.Context()).isAdmin()
	for i := range all {
		for _, v := range all[i].Versions {
			if v.ID == id && (v.Active || admin) {
				return nil
			}
		}
	}
	return versionNotFound(id)
}

// listParametersByVersionID serves the parameters of a version named by its
// id alone, GET /datastores/versions/{id}/parameters.
func (s *Server) listParametersByVersionID(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("a") != "versions" || r.PathValue("c") != "parameters" {
		return fault.New(fault.NotFound, "api.route", "The resource could not be found.")
	}
	id := r.PathValue("b")
	if err := s.checkVersionID(r, id); err != nil {
		return err
	}
	return s.writeParameters(w, r, id)
}

// getParameterByVersionID serves one parameter of a version named by its id
// alone, GET /datastores/versions/{id}/parameters/{name}.
func (s *Server) getParameterByVersionID(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("a") != "versions" || r.PathValue("c") != "parameters" {
		return fault.New(fault.NotFound, "api.route", "The resource could not be found.")
	}
	id := r.PathValue("b")
	if err := s.checkVersionID(r, id); err != nil {
		return err
	}
	return s.writeParameter(w, r, id, r.PathValue("d"))
}

// configurationList is a page of groups (+ the next link).
type configurationList struct {
	Configurations []configurationView `json:"configurations"`
	Links          []link              `json:"links,omitempty"`
}

// listConfigurations serves GET /configurations.
func (s *Server) listConfigurations(w http.ResponseWriter, r *http.Request) error {
	cb, err := s.configBackend("api.configuration.list")
	if err != nil {
		return err
	}
	page, err := s.pageOf(r)
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	items, more, err := cb.ListConfigurations(r.Context(), tenant, page)
	if err != nil {
		return err
	}
	out := configurationList{Configurations: make([]configurationView, 0, len(items))}
	for _, c := range items {
		out.Configurations = append(out.Configurations, newConfigurationView(r, tenant, c))
	}
	if more && len(items) > 0 {
		out.Links = nextLinks(r, items[len(items)-1].ID, page.Limit)
	}
	return writeJSON(w, http.StatusOK, out)
}

// createConfiguration serves POST /configurations: 200 with the detail.
func (s *Server) createConfiguration(w http.ResponseWriter, r *http.Request) error {
	cb, err := s.configBackend("api.configuration.create")
	if err != nil {
		return err
	}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeConfigurationCreate(body)
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	d, err := cb.CreateConfiguration(r.Context(), tenant, req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]configurationView{"configuration": newConfigurationDetailView(r, tenant, d)})
}

// getConfiguration serves GET /configurations/{id}.
func (s *Server) getConfiguration(w http.ResponseWriter, r *http.Request) error {
	cb, err := s.configBackend("api.configuration.get")
	if err != nil {
		return err
	}
	tenant := r.PathValue("tenant")
	d, err := cb.GetConfiguration(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]configurationView{"configuration": newConfigurationDetailView(r, tenant, d)})
}

// replaceConfiguration serves PUT /configurations/{id}: 202, empty.
func (s *Server) replaceConfiguration(w http.ResponseWriter, r *http.Request) error {
	return s.updateConfiguration(w, r, true, http.StatusAccepted)
}

// patchConfiguration serves PATCH /configurations/{id}: 200, empty.
func (s *Server) patchConfiguration(w http.ResponseWriter, r *http.Request) error {
	return s.updateConfiguration(w, r, false, http.StatusOK)
}

func (s *Server) updateConfiguration(w http.ResponseWriter, r *http.Request, replace bool, status int) error {
	cb, err := s.configBackend("api.configuration.update")
	if err != nil {
		return err
	}
	body, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeConfigurationUpdate(body, replace)
	if err != nil {
		return err
	}
	if err := cb.UpdateConfiguration(r.Context(), r.PathValue("tenant"), r.PathValue("id"), req, replace); err != nil {
		return err
	}
	writeEmpty(w, status)
	return nil
}

// deleteConfiguration serves DELETE /configurations/{id}: 202, empty.
func (s *Server) deleteConfiguration(w http.ResponseWriter, r *http.Request) error {
	cb, err := s.configBackend("api.configuration.delete")
	if err != nil {
		return err
	}
	if err := cb.DeleteConfiguration(r.Context(), r.PathValue("tenant"), r.PathValue("id")); err != nil {
		return err
	}
	writeEmpty(w, http.StatusAccepted)
	return nil
}

// configurationInstanceView is an instance using a group.
type configurationInstanceView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// listConfigurationInstances serves GET /configurations/{id}/instances.
func (s *Server) listConfigurationInstances(w http.ResponseWriter, r *http.Request) error {
	cb, err := s.configBackend("api.configuration.instances")
	if err != nil {
		return err
	}
	page, err := s.pageOf(r)
	if err != nil {
		return err
	}
	items, more, err := cb.ConfigurationInstances(r.Context(), r.PathValue("tenant"), r.PathValue("id"), page)
	if err != nil {
		return err
	}
	out := struct {
		Instances []configurationInstanceView `json:"instances"`
		Links     []link                      `json:"links,omitempty"`
	}{Instances: make([]configurationInstanceView, 0, len(items))}
	for _, in := range items {
		out.Instances = append(out.Instances, configurationInstanceView{ID: in.ID, Name: in.Name})
	}
	if more && len(items) > 0 {
		out.Links = nextLinks(r, items[len(items)-1].ID, page.Limit)
	}
	return writeJSON(w, http.StatusOK, out)
}

// instanceConfiguration serves GET /instances/{id}/configuration.
func (s *Server) instanceConfiguration(w http.ResponseWriter, r *http.Request) error {
	cb, err := s.configBackend("api.instance.configuration")
	if err != nil {
		return err
	}
	cfg, err := cb.InstanceConfiguration(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	type inner struct {
		Configuration map[string]string `json:"configuration"`
	}
	return writeJSON(w, http.StatusOK, map[string]inner{"instance": {Configuration: cfg}})
}

// resizeInstance runs a decoded resize action.
func (s *Server) resizeInstance(r *http.Request, body []byte) error {
	rz, err := decodeResize(body)
	if err != nil {
		return err
	}
	tenant, id := r.PathValue("tenant"), r.PathValue("id")
	cb, ok := s.b.(ConfigBackend)
	if !ok {
		// Trove loads the instance first: an unknown one is 404.
		if _, err := s.b.GetInstance(r.Context(), tenant, id); err != nil {
			return err
		}
		return fault.New(fault.NotImplemented, "api.instance.action", "The action 'resize' is not implemented.")
	}
	if rz.FlavorRef != "" {
		return cb.ResizeFlavor(r.Context(), tenant, id, rz.FlavorRef)
	}
	return cb.ResizeVolume(r.Context(), tenant, id, rz.VolumeSize)
}

// updateInstanceConfiguration attaches or detaches a group for a PUT/PATCH.
func (s *Server) updateInstanceConfiguration(r *http.Request, u instanceUpdate) error {
	tenant, id := r.PathValue("tenant"), r.PathValue("id")
	cb, ok := s.b.(ConfigBackend)
	if !ok {
		if _, err := s.b.GetInstance(r.Context(), tenant, id); err != nil || u.Detach {
			return err // detaching nothing is a no-op
		}
		return fault.New(fault.NotImplemented, "api.instance.update", "Updating instance 'configuration' is not implemented.")
	}
	if u.Detach {
		return cb.DetachConfiguration(r.Context(), tenant, id)
	}
	return cb.AttachConfiguration(r.Context(), tenant, id, u.Configuration)
}
