package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

func (d *Dashboard) listConfigurations(r *http.Request, s *session) []configuration {
	var out struct {
		Configurations []configuration `json:"configurations"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath("configurations?limit=100"), nil, &out); err != nil {
		d.log.Debug("list configurations", "err", err)
	}
	return out.Configurations
}

// configForm holds the create form's values.
type configForm struct {
	Name, Datastore, Values, Description string
}

// configurationsData is the configuration groups page's content.
type configurationsData struct {
	Configurations []configuration
	Versions       []versionChoice
}

func (d *Dashboard) configurationsPage(w http.ResponseWriter, r *http.Request, s *session) {
	d.renderConfigurations(w, r, s, http.StatusOK, configForm{}, "", nil)
}

func (d *Dashboard) renderConfigurations(w http.ResponseWriter, r *http.Request, s *session, status int, f configForm, msg string, errs map[string]string) {
	p := d.newPage(r, s, "Configuration groups", msg)
	p.Nav = "configurations"
	p.Form, p.Errors = f, errs
	var ds struct {
		Datastores []datastoreJSON `json:"datastores"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath("datastores"), nil, &ds); err != nil {
		d.log.Debug("list datastores", "err", err)
	}
	p.Data = configurationsData{Configurations: d.listConfigurations(r, s), Versions: versionChoices(ds.Datastores)}
	d.render(w, r, status, "configurations", p)
}

// parseValues reads "name = value" lines. A value that is a JSON number or
// boolean is sent as one; anything else as a string (the API checks each
// against the engine's parameter catalogue).
func parseValues(text string) (map[string]any, error) {
	vals := map[string]any{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: write each value as name = value", i+1)
		}
		var x any
		if err := json.Unmarshal([]byte(v), &x); err == nil {
			switch x.(type) {
			case float64, bool:
				vals[k] = json.RawMessage(v)
				continue
			}
		}
		vals[k] = strings.Trim(v, `"'`)
	}
	return vals, nil
}

func (d *Dashboard) createConfiguration(w http.ResponseWriter, r *http.Request, s *session) {
	f := configForm{
		Name:        strings.TrimSpace(r.PostFormValue("name")),
		Datastore:   r.PostFormValue("datastore"),
		Values:      r.PostFormValue("values"),
		Description: strings.TrimSpace(r.PostFormValue("description")),
	}
	vals, err := parseValues(f.Values)
	if err != nil {
		d.renderConfigurations(w, r, s, http.StatusBadRequest, f, err.Error(), map[string]string{"values": err.Error()})
		return
	}
	c := map[string]any{"name": f.Name, "values": vals}
	if f.Description != "" {
		c["description"] = f.Description
	}
	if typ, version, ok := strings.Cut(f.Datastore, ":"); ok {
		c["datastore"] = map[string]string{"type": typ, "version": version}
	}
	var out struct {
		Configuration configuration `json:"configuration"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodPost, s.apiPath("configurations"), map[string]any{"configuration": c}, &out); err != nil {
		msg := faultMessage(err)
		d.renderConfigurations(w, r, s, statusOf(err), f, msg, fieldErrors(msg, configurationFields, "values"))
		return
	}
	d.setFlash(w, r, "Configuration group "+out.Configuration.Name+" created.")
	http.Redirect(w, r, "/dashboard/configurations/"+url.PathEscape(out.Configuration.ID), http.StatusSeeOther)
}

// configurationData is one group's page.
type configurationData struct {
	Configuration configuration
	Values        []kv
	Parameters    []parameter
	Instances     []ref
}

type kv struct {
	Key   string
	Value string
}

func (d *Dashboard) configurationPage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	p := d.newPage(r, s, "Configuration group", "")
	p.Nav = "configurations"
	var out struct {
		Configuration configuration `json:"configuration"`
	}
	cpath := "configurations/" + url.PathEscape(id)
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath(cpath), nil, &out); err != nil {
		p.Error = faultMessage(err)
		d.render(w, r, statusOf(err), "error", p)
		return
	}
	cd := configurationData{Configuration: out.Configuration}
	for k, v := range out.Configuration.Values {
		b, _ := json.Marshal(v)
		cd.Values = append(cd.Values, kv{k, strings.Trim(string(b), `"`)})
	}
	sort.Slice(cd.Values, func(i, j int) bool { return cd.Values[i].Key < cd.Values[j].Key })
	var ps struct {
		Parameters []parameter `json:"configuration-parameters"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodGet,
		s.apiPath("datastores/versions/"+url.PathEscape(out.Configuration.DatastoreVersionID)+"/parameters"), nil, &ps); err != nil {
		d.log.Debug("list parameters", "err", err)
	}
	cd.Parameters = ps.Parameters
	sort.Slice(cd.Parameters, func(i, j int) bool { return cd.Parameters[i].Name < cd.Parameters[j].Name })
	var insts struct {
		Instances []ref `json:"instances"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath(cpath+"/instances"), nil, &insts); err == nil {
		cd.Instances = insts.Instances
	}
	p.Title = out.Configuration.Name
	p.Data = cd
	d.render(w, r, http.StatusOK, "configuration", p)
}

func (d *Dashboard) deleteConfiguration(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if _, err := d.call(r.Context(), s.token, http.MethodDelete, s.apiPath("configurations/"+url.PathEscape(id)), nil, nil); err != nil {
		d.renderConfigurations(w, r, s, statusOf(err), configForm{}, faultMessage(err), nil)
		return
	}
	d.setFlash(w, r, "Configuration group deleted.")
	http.Redirect(w, r, "/dashboard/configurations", http.StatusSeeOther)
}
