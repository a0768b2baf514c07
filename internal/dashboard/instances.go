package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func (d *Dashboard) home(w http.ResponseWriter, r *http.Request, s *session) {
	http.Redirect(w, r, "/dashboard/instances", http.StatusSeeOther)
}

// apiPath is the API path of the session's project's resource.
func (s *session) apiPath(rest string) string { return tenantPath(s.principal.ProjectID, rest) }

func (d *Dashboard) listInstances(r *http.Request, s *session) ([]instance, error) {
	var out struct {
		Instances []instance `json:"instances"`
	}
	_, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath("instances/detail?limit=100"), nil, &out)
	return out.Instances, err
}

func (d *Dashboard) flavorNames(r *http.Request, s *session) ([]flavor, map[string]string) {
	var out struct {
		Flavors []flavor `json:"flavors"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath("flavors"), nil, &out); err != nil {
		d.log.Debug("list flavors", "err", err)
	}
	names := map[string]string{}
	for _, f := range out.Flavors {
		names[flavorID(f)] = f.Name
	}
	return out.Flavors, names
}

func flavorID(f flavor) string {
	if f.StrID != "" {
		return f.StrID
	}
	return strconv.Itoa(f.ID)
}

// instanceRow is one line of the instance list.
type instanceRow struct {
	instance
	FlavorName string
}

func (d *Dashboard) instancesPage(w http.ResponseWriter, r *http.Request, s *session) {
	p := d.newPage(r, s, "Instances", "")
	p.Nav = "instances"
	list, err := d.listInstances(r, s)
	if err != nil {
		p.Error = faultMessage(err)
		d.render(w, r, statusOf(err), "instances", p)
		return
	}
	_, names := d.flavorNames(r, s)
	rows := make([]instanceRow, len(list))
	for i, in := range list {
		rows[i] = instanceRow{instance: in, FlavorName: names[in.Flavor.ID]}
	}
	p.Data = rows
	d.render(w, r, http.StatusOK, "instances", p)
}

// liveStatus is what the pages' script polls.
type liveStatus struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Status      string       `json:"status"`
	Transient   bool         `json:"transient"`
	Address     string       `json:"address"`
	Size        int          `json:"size"`
	Used        *float64     `json:"used"`
	Updated     string       `json:"updated"`
	Fault       string       `json:"fault,omitempty"`
	Lag         *float64     `json:"lag_seconds,omitempty"`
	Replication string       `json:"replication,omitempty"`
	Connections []connection `json:"connections,omitempty"`
}

func live(in *instance) liveStatus {
	l := liveStatus{ID: in.ID, Name: in.Name, Status: in.Status, Transient: in.Transient(), Address: in.Address(),
		Size: in.Volume.Size, Used: in.Volume.Used, Updated: in.Updated}
	if in.Fault != nil {
		l.Fault = in.Fault.Message
	}
	if in.Replication != nil {
		l.Lag, l.Replication = in.Replication.LagSeconds, in.Replication.State
	}
	return l
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// instancesStatus serves GET /dashboard/instances/status.json.
func (d *Dashboard) instancesStatus(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := d.listInstances(r, s)
	if err != nil {
		writeJSON(w, statusOf(err), map[string]string{"error": faultMessage(err)})
		return
	}
	out := make([]liveStatus, len(list))
	for i := range list {
		out[i] = live(&list[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"instances": out})
}

// createForm holds the create form's values.
type createForm struct {
	Name, Datastore, Flavor, Volume, Databases, UserName, Configuration, Backup, ReplicaOf string
}

// createData is the create page's choices.
type createData struct {
	Versions       []versionChoice
	Flavors        []flavor
	Configurations []configuration
	Backups        []backup
	Instances      []instance
}

func (d *Dashboard) createChoices(r *http.Request, s *session) createData {
	var c createData
	var ds struct {
		Datastores []datastoreJSON `json:"datastores"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath("datastores"), nil, &ds); err != nil {
		d.log.Debug("list datastores", "err", err)
	}
	c.Versions = versionChoices(ds.Datastores)
	c.Flavors, _ = d.flavorNames(r, s)
	c.Configurations = d.listConfigurations(r, s)
	for _, b := range d.listBackups(r, s) {
		if b.Status == "COMPLETED" {
			c.Backups = append(c.Backups, b)
		}
	}
	c.Instances, _ = d.listInstances(r, s)
	return c
}

func (d *Dashboard) createPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	f := createForm{Volume: "1", Backup: q.Get("backup"), ReplicaOf: q.Get("replica_of"), Flavor: "1"}
	d.renderCreate(w, r, s, http.StatusOK, f, "", nil)
}

func (d *Dashboard) renderCreate(w http.ResponseWriter, r *http.Request, s *session, status int, f createForm, msg string, errs map[string]string) {
	p := d.newPage(r, s, "Create an instance", msg)
	p.Nav = "create"
	p.Form, p.Errors, p.Data = f, errs, d.createChoices(r, s)
	d.render(w, r, status, "create", p)
}

// splitNames splits a comma- or space-separated list, dropping empties.
func splitNames(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' })
}

// createInstance serves POST /dashboard/instances.
func (d *Dashboard) createInstance(w http.ResponseWriter, r *http.Request, s *session) {
	f := createForm{
		Name:          strings.TrimSpace(r.PostFormValue("name")),
		Datastore:     r.PostFormValue("datastore"),
		Flavor:        r.PostFormValue("flavor"),
		Volume:        strings.TrimSpace(r.PostFormValue("volume")),
		Databases:     r.PostFormValue("databases"),
		UserName:      strings.TrimSpace(r.PostFormValue("user_name")),
		Configuration: r.PostFormValue("configuration"),
		Backup:        r.PostFormValue("backup"),
		ReplicaOf:     r.PostFormValue("replica_of"),
	}
	inst := map[string]any{"name": f.Name}
	if f.Flavor != "" {
		inst["flavorRef"] = f.Flavor
	}
	if f.Volume != "" {
		n, err := strconv.Atoi(f.Volume)
		if err != nil {
			d.renderCreate(w, r, s, http.StatusBadRequest, f, "The volume size must be a whole number of GB.",
				map[string]string{"volume": "The volume size must be a whole number of GB."})
			return
		}
		inst["volume"] = map[string]int{"size": n}
	}
	if typ, version, ok := strings.Cut(f.Datastore, ":"); ok {
		inst["datastore"] = map[string]string{"type": typ, "version": version}
	}
	dbs := splitNames(f.Databases)
	if len(dbs) > 0 {
		list := make([]map[string]string, len(dbs))
		for i, n := range dbs {
			list[i] = map[string]string{"name": n}
		}
		inst["databases"] = list
	}
	if f.UserName != "" {
		access := make([]map[string]string, len(dbs))
		for i, n := range dbs {
			access[i] = map[string]string{"name": n}
		}
		inst["users"] = []map[string]any{{"name": f.UserName, "password": r.PostFormValue("user_password"), "databases": access}}
	}
	if f.Configuration != "" {
		inst["configuration"] = f.Configuration
	}
	if f.Backup != "" {
		inst["restorePoint"] = map[string]string{"backupRef": f.Backup}
	}
	if f.ReplicaOf != "" {
		inst["replica_of"] = f.ReplicaOf
	}
	var out struct {
		Instance instance `json:"instance"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodPost, s.apiPath("instances"), map[string]any{"instance": inst}, &out); err != nil {
		msg := faultMessage(err)
		d.renderCreate(w, r, s, statusOf(err), f, msg, fieldErrors(msg, createFields, ""))
		return
	}
	d.setFlash(w, r, "Instance "+out.Instance.Name+" is being created.")
	http.Redirect(w, r, "/dashboard/instances/"+url.PathEscape(out.Instance.ID), http.StatusSeeOther)
}

// detailData is the instance page's content.
type detailData struct {
	Instance       instance
	FlavorName     string
	Flavors        []flavor
	Databases      []database
	Users          []dbUser
	Backups        []backup
	Configurations []configuration
	Connections    []connection
	ConnUser       string // the user and database the connections name
	ConnDB         string
	RootEnabled    *bool
	Logs           []guestLog
	LogsNote       string     // why no logs are listed (the API's fault)
	Live           liveStatus // the initial live status, for the script (as JSON)
}

// detailForm is a detail page's form being re-shown after a fault.
type detailForm struct {
	DBName, UserName, BackupName, ResizeFlavor, ResizeVolume string
}

func (d *Dashboard) loadDetail(r *http.Request, s *session, id string) (*detailData, error) {
	var out struct {
		Instance instance `json:"instance"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath("instances/"+url.PathEscape(id)), nil, &out); err != nil {
		return nil, err
	}
	dd := &detailData{Instance: out.Instance}
	var names map[string]string
	dd.Flavors, names = d.flavorNames(r, s)
	dd.FlavorName = names[out.Instance.Flavor.ID]
	ipath := "instances/" + url.PathEscape(id)
	if out.Instance.Status == "ACTIVE" || out.Instance.Status == "HEALTHY" {
		var dbs struct {
			Databases []database `json:"databases"`
		}
		if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath(ipath+"/databases"), nil, &dbs); err == nil {
			dd.Databases = dbs.Databases
		}
		var us struct {
			Users []dbUser `json:"users"`
		}
		if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath(ipath+"/users"), nil, &us); err == nil {
			dd.Users = us.Users
		}
		var root struct {
			RootEnabled *bool `json:"rootEnabled"`
		}
		if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath(ipath+"/root"), nil, &root); err == nil {
			dd.RootEnabled = root.RootEnabled
		}
	}
	var bs struct {
		Backups []backup `json:"backups"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath(ipath+"/backups"), nil, &bs); err == nil {
		dd.Backups = bs.Backups
	}
	var lerr error
	if dd.Logs, lerr = d.listLogs(r, s, ipath); lerr != nil {
		dd.LogsNote = faultMessage(lerr)
	}
	for _, c := range d.listConfigurations(r, s) {
		if strings.EqualFold(c.DatastoreName, out.Instance.Datastore.Type) || engineOf(c.DatastoreName) == out.Instance.Engine() {
			dd.Configurations = append(dd.Configurations, c)
		}
	}
	// The connections name the first user, and a database it may use.
	user, db := "", ""
	if len(dd.Databases) > 0 {
		db = dd.Databases[0].Name
	}
	if len(dd.Users) > 0 {
		user = dd.Users[0].Name
		if access := dd.Users[0].Databases; len(access) > 0 {
			db = access[0].Name
		}
	}
	dd.ConnUser, dd.ConnDB = user, db
	dd.Connections = connections(&dd.Instance, user, db)
	dd.Live = live(&dd.Instance)
	dd.Live.Connections = dd.Connections
	return dd, nil
}

func (d *Dashboard) instancePage(w http.ResponseWriter, r *http.Request, s *session) {
	d.renderDetail(w, r, s, http.StatusOK, r.PathValue("id"), nil)
}

// renderDetail shows the instance page; p, if non-nil, carries a fault to
// show (Error, Errors, Form) or a secret.
func (d *Dashboard) renderDetail(w http.ResponseWriter, r *http.Request, s *session, status int, id string, extra *page) {
	p := d.newPage(r, s, "Instance", "")
	p.Nav = "instances"
	if extra != nil {
		p.Error, p.Errors, p.Form, p.Secret = extra.Error, extra.Errors, extra.Form, extra.Secret
	}
	if p.Form == nil {
		p.Form = detailForm{}
	}
	dd, err := d.loadDetail(r, s, id)
	if err != nil {
		p.Title = "Instance not shown"
		p.Error = faultMessage(err)
		d.render(w, r, statusOf(err), "error", p)
		return
	}
	p.Title = dd.Instance.Name
	p.Data = dd
	d.render(w, r, status, "instance", p)
}

// instanceStatus serves GET /dashboard/instances/{id}/status.json.
func (d *Dashboard) instanceStatus(w http.ResponseWriter, r *http.Request, s *session) {
	var out struct {
		Instance instance `json:"instance"`
	}
	id := r.PathValue("id")
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath("instances/"+url.PathEscape(id)), nil, &out); err != nil {
		writeJSON(w, statusOf(err), map[string]string{"error": faultMessage(err)})
		return
	}
	l := live(&out.Instance)
	user, db := r.URL.Query().Get("user"), r.URL.Query().Get("db")
	l.Connections = connections(&out.Instance, user, db)
	writeJSON(w, http.StatusOK, l)
}

// deletePage serves GET /dashboard/instances/{id}/delete: the confirmation.
func (d *Dashboard) deletePage(w http.ResponseWriter, r *http.Request, s *session) {
	var out struct {
		Instance instance `json:"instance"`
	}
	id := r.PathValue("id")
	p := d.newPage(r, s, "Delete instance", "")
	p.Nav = "instances"
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath("instances/"+url.PathEscape(id)), nil, &out); err != nil {
		p.Error = faultMessage(err)
		d.render(w, r, statusOf(err), "error", p)
		return
	}
	p.Data = out.Instance
	d.render(w, r, http.StatusOK, "delete", p)
}

// instanceAction serves POST /dashboard/instances/{id}/{action}.
func (d *Dashboard) instanceAction(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	ipath := "instances/" + url.PathEscape(id)
	back := "/dashboard/instances/" + url.PathEscape(id)
	ctx := r.Context()
	var (
		err    error
		flash  string
		keys   []fieldKey
		form   detailForm
		field  string // fallback field of a fault
		method = http.MethodPost
		path   = ipath + "/action"
		body   any
	)
	switch r.PathValue("action") {
	case "restart":
		body, flash = map[string]any{"restart": map[string]any{}}, "Restarting."
	case "promote":
		body, flash = map[string]any{"promote_to_replica_source": map[string]any{}}, "Promoting the replica to source."
	case "resize":
		form.ResizeFlavor, form.ResizeVolume = r.PostFormValue("flavor"), strings.TrimSpace(r.PostFormValue("volume"))
		keys = resizeFields
		if form.ResizeVolume != "" {
			field = "resize_volume"
			n, cerr := strconv.Atoi(form.ResizeVolume)
			if cerr != nil {
				d.renderDetail(w, r, s, http.StatusBadRequest, id, &page{Form: form,
					Errors: map[string]string{"resize_volume": "The volume size must be a whole number of GB."}})
				return
			}
			body, flash = map[string]any{"resize": map[string]any{"volume": map[string]int{"size": n}}}, "Resizing the volume."
		} else {
			field = "resize_flavor"
			body, flash = map[string]any{"resize": map[string]any{"flavorRef": form.ResizeFlavor}}, "Resizing to the new flavor."
		}
	case "delete":
		if _, err = d.call(ctx, s.token, http.MethodDelete, s.apiPath(ipath), nil, nil); err == nil {
			d.setFlash(w, r, "The instance is being deleted.")
			http.Redirect(w, r, "/dashboard/instances", http.StatusSeeOther)
			return
		}
		d.renderDetail(w, r, s, statusOf(err), id, &page{Error: faultMessage(err)})
		return
	case "databases":
		form.DBName = strings.TrimSpace(r.PostFormValue("name"))
		keys, field, path = databaseFields, "db_name", ipath+"/databases"
		body, flash = map[string]any{"databases": []map[string]string{{"name": form.DBName}}}, "Database "+form.DBName+" created."
	case "users":
		form.UserName = strings.TrimSpace(r.PostFormValue("name"))
		keys, field, path = userFields, "user_name", ipath+"/users"
		access := []map[string]string{}
		for _, db := range r.PostForm["access"] {
			access = append(access, map[string]string{"name": db})
		}
		u := map[string]any{"name": form.UserName, "password": r.PostFormValue("password"), "databases": access}
		if h := strings.TrimSpace(r.PostFormValue("host")); h != "" {
			u["host"] = h
		}
		body, flash = map[string]any{"users": []map[string]any{u}}, "User "+form.UserName+" created."
	case "root":
		var out struct {
			User struct {
				Name     string `json:"name"`
				Password string `json:"password"`
			} `json:"user"`
		}
		if _, err = d.call(ctx, s.token, http.MethodPost, s.apiPath(ipath+"/root"), nil, &out); err != nil {
			d.renderDetail(w, r, s, statusOf(err), id, &page{Error: faultMessage(err)})
			return
		}
		// The password is shown once, in this answer only (never a cookie).
		d.renderDetail(w, r, s, http.StatusOK, id, &page{Secret: &secretNotice{User: out.User.Name, Password: out.User.Password}})
		return
	case "configuration":
		keys, field, method, path = configFields, "configuration", http.MethodPut, ipath
		var cfg any // null detaches
		flash = "Configuration group detached."
		if c := r.PostFormValue("configuration"); c != "" {
			cfg, flash = c, "Configuration group attached."
		}
		body = map[string]any{"instance": map[string]any{"configuration": cfg}}
	case "backup":
		form.BackupName = strings.TrimSpace(r.PostFormValue("name"))
		keys, field, path = backupFields, "backup_name", "backups"
		b := map[string]any{"name": form.BackupName, "instance": id}
		if desc := strings.TrimSpace(r.PostFormValue("description")); desc != "" {
			b["description"] = desc
		}
		if r.PostFormValue("incremental") != "" {
			b["incremental"] = 1
		}
		body, flash = map[string]any{"backup": b}, "Backup "+form.BackupName+" started."
	default:
		d.render(w, r, http.StatusNotFound, "error", d.newPage(r, s, "Not found", "There is no such action."))
		return
	}
	if _, err = d.call(ctx, s.token, method, s.apiPath(path), body, nil); err != nil {
		msg := faultMessage(err)
		d.renderDetail(w, r, s, statusOf(err), id, &page{Error: msg, Form: form, Errors: fieldErrors(msg, keys, field)})
		return
	}
	d.setFlash(w, r, flash)
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (d *Dashboard) deleteDatabase(w http.ResponseWriter, r *http.Request, s *session) {
	id, name := r.PathValue("id"), r.PathValue("name")
	d.simpleDelete(w, r, s, id, "instances/"+url.PathEscape(id)+"/databases/"+url.PathEscape(name), "Database "+name+" deleted.")
}

func (d *Dashboard) deleteUser(w http.ResponseWriter, r *http.Request, s *session) {
	id, name := r.PathValue("id"), r.PathValue("name")
	d.simpleDelete(w, r, s, id, "instances/"+url.PathEscape(id)+"/users/"+url.PathEscape(name), "User "+name+" deleted.")
}

func (d *Dashboard) simpleDelete(w http.ResponseWriter, r *http.Request, s *session, id, path, flash string) {
	if _, err := d.call(r.Context(), s.token, http.MethodDelete, s.apiPath(path), nil, nil); err != nil {
		d.renderDetail(w, r, s, statusOf(err), id, &page{Error: faultMessage(err)})
		return
	}
	d.setFlash(w, r, flash)
	http.Redirect(w, r, "/dashboard/instances/"+url.PathEscape(id), http.StatusSeeOther)
}
