package dashboard

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// quota is one resource's line of GET mgmt/quotas/{project}.
type quota struct {
	Resource string `json:"resource"`
	InUse    int    `json:"in_use"`
	Limit    int    `json:"limit"`
	Reserved int    `json:"reserved"`
}

// Pct is the share of the limit in use, for the meter (0 without a limit).
func (q quota) Pct() int {
	if q.Limit <= 0 {
		return 0
	}
	return min(q.InUse*100/q.Limit, 100)
}

// identityUser is a user of GET /identity/v3/users.
type identityUser struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Enabled          bool   `json:"enabled"`
	DefaultProjectID string `json:"default_project_id"`
}

// quotasData is the project page's content.
type quotasData struct {
	ProjectID   string
	ProjectName string
	Quotas      []quota
	Admin       bool
	Projects    []project
	Users       []identityUser
}

// quotasPage serves GET /dashboard/quotas: the project's limits and use;
// an admin also sees every project and user, and may pick another
// project (?project=ID) and change its quotas.
func (d *Dashboard) quotasPage(w http.ResponseWriter, r *http.Request, s *session) {
	d.renderQuotas(w, r, s, http.StatusOK, r.URL.Query().Get("project"), nil)
}

func (d *Dashboard) renderQuotas(w http.ResponseWriter, r *http.Request, s *session, status int, pid string, extra *page) {
	p := d.newPage(r, s, "Project", "")
	p.Nav = "quotas"
	if extra != nil {
		p.Error, p.Errors = extra.Error, extra.Errors
	}
	if pid == "" {
		pid = s.principal.ProjectID
	}
	qd := quotasData{ProjectID: pid, ProjectName: s.principal.ProjectName, Admin: s.principal.IsAdmin()}
	if qd.Admin {
		var ps struct {
			Projects []project `json:"projects"`
		}
		if _, err := d.call(r.Context(), s.token, http.MethodGet, "/identity/v3/projects", nil, &ps); err != nil {
			d.log.Debug("list projects", "err", err)
		}
		qd.Projects = ps.Projects
		for _, pr := range ps.Projects {
			if pr.ID == pid {
				qd.ProjectName = pr.Name
			}
		}
		var us struct {
			Users []identityUser `json:"users"`
		}
		if _, err := d.call(r.Context(), s.token, http.MethodGet, "/identity/v3/users", nil, &us); err != nil {
			d.log.Debug("list users", "err", err)
		}
		qd.Users = us.Users
	}
	var qs struct {
		Quotas []quota `json:"quotas"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath("mgmt/quotas/"+url.PathEscape(pid)), nil, &qs); err != nil {
		if p.Error == "" {
			p.Error = faultMessage(err)
		}
		if status == http.StatusOK {
			status = statusOf(err)
		}
	}
	qd.Quotas = qs.Quotas
	p.Data = qd
	d.render(w, r, status, "quotas", p)
}

// updateQuotas serves POST /dashboard/quotas/{project}: the limits typed
// in the form (fields "quota_<resource>"), as one PUT mgmt/quotas.
func (d *Dashboard) updateQuotas(w http.ResponseWriter, r *http.Request, s *session) {
	pid := r.PathValue("project")
	limits := map[string]any{}
	errs := map[string]string{}
	for k, v := range r.PostForm {
		res, ok := strings.CutPrefix(k, "quota_")
		if !ok || len(v) == 0 || strings.TrimSpace(v[0]) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v[0]))
		if err != nil {
			errs[res] = "Enter a whole number (-1 for no limit)."
			continue
		}
		limits[res] = n
	}
	if len(errs) > 0 {
		d.renderQuotas(w, r, s, http.StatusBadRequest, pid, &page{Error: "Some limits are not numbers.", Errors: errs})
		return
	}
	if _, err := d.call(r.Context(), s.token, http.MethodPut, s.apiPath("mgmt/quotas/"+url.PathEscape(pid)),
		map[string]any{"quotas": limits}, nil); err != nil {
		msg := faultMessage(err)
		errs := map[string]string{}
		for res := range limits {
			if strings.Contains(msg, res) {
				errs[res] = msg
			}
		}
		d.renderQuotas(w, r, s, statusOf(err), pid, &page{Error: msg, Errors: errs})
		return
	}
	d.setFlash(w, r, "Quotas updated.")
	http.Redirect(w, r, "/dashboard/quotas?project="+url.QueryEscape(pid), http.StatusSeeOther)
}
