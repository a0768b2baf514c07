package dashboard

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func (d *Dashboard) listBackups(r *http.Request, s *session) []backup {
	var out struct {
		Backups []backup `json:"backups"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath("backups?limit=100"), nil, &out); err != nil {
		d.log.Debug("list backups", "err", err)
	}
	return out.Backups
}

// backupsData is the backups page's content.
type backupsData struct {
	Backups   []backup
	Schedules []schedule
	Instances []instance
	Names     map[string]string // instance id → name
}

// scheduleForm holds the schedule form's values.
type scheduleForm struct {
	Instance, Day, Hour, Minute string
}

func (d *Dashboard) backupsPage(w http.ResponseWriter, r *http.Request, s *session) {
	d.renderBackups(w, r, s, http.StatusOK, nil)
}

func (d *Dashboard) renderBackups(w http.ResponseWriter, r *http.Request, s *session, status int, extra *page) {
	p := d.newPage(r, s, "Backups", "")
	p.Nav = "backups"
	p.Form = scheduleForm{Day: "7", Hour: "3", Minute: "0"}
	if extra != nil {
		p.Error, p.Errors = extra.Error, extra.Errors
		if extra.Form != nil {
			p.Form = extra.Form
		}
	}
	bd := backupsData{Backups: d.listBackups(r, s), Names: map[string]string{}}
	var sc struct {
		Schedules []schedule `json:"schedules"`
	}
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath("schedules"), nil, &sc); err != nil {
		d.log.Debug("list schedules", "err", err)
	}
	bd.Schedules = sc.Schedules
	bd.Instances, _ = d.listInstances(r, s)
	for _, in := range bd.Instances {
		bd.Names[in.ID] = in.Name
	}
	p.Data = bd
	d.render(w, r, status, "backups", p)
}

func (d *Dashboard) deleteBackup(w http.ResponseWriter, r *http.Request, s *session) {
	if _, err := d.call(r.Context(), s.token, http.MethodDelete, s.apiPath("backups/"+url.PathEscape(r.PathValue("id"))), nil, nil); err != nil {
		d.renderBackups(w, r, s, statusOf(err), &page{Error: faultMessage(err)})
		return
	}
	d.setFlash(w, r, "Backup deleted.")
	http.Redirect(w, r, "/dashboard/backups", http.StatusSeeOther)
}

// createSchedule serves POST /dashboard/schedules: a backup schedule of one
// instance (day_of_week 0–6: a full backup that day, incrementals on the
// others; 7: a full backup every day).
func (d *Dashboard) createSchedule(w http.ResponseWriter, r *http.Request, s *session) {
	f := scheduleForm{
		Instance: r.PostFormValue("instance_id"),
		Day:      r.PostFormValue("day_of_week"),
		Hour:     strings.TrimSpace(r.PostFormValue("hour")),
		Minute:   strings.TrimSpace(r.PostFormValue("minute")),
	}
	num := func(s string) any {
		if n, err := strconv.Atoi(s); err == nil {
			return n
		}
		return s // the API says what is wrong with it
	}
	body := map[string]any{"schedule": map[string]any{
		"action": "backup", "instance_id": f.Instance,
		"day_of_week": num(f.Day), "hour": num(f.Hour), "minute": num(f.Minute),
	}}
	if _, err := d.call(r.Context(), s.token, http.MethodPost, s.apiPath("schedules"), body, nil); err != nil {
		msg := faultMessage(err)
		d.renderBackups(w, r, s, statusOf(err), &page{Error: msg, Form: f, Errors: fieldErrors(msg, scheduleFields, "schedule_instance")})
		return
	}
	d.setFlash(w, r, "Backup schedule created.")
	http.Redirect(w, r, "/dashboard/backups", http.StatusSeeOther)
}

func (d *Dashboard) deleteSchedule(w http.ResponseWriter, r *http.Request, s *session) {
	if _, err := d.call(r.Context(), s.token, http.MethodDelete, s.apiPath("schedules/"+url.PathEscape(r.PathValue("id"))), nil, nil); err != nil {
		d.renderBackups(w, r, s, statusOf(err), &page{Error: faultMessage(err)})
		return
	}
	d.setFlash(w, r, "Backup schedule deleted.")
	http.Redirect(w, r, "/dashboard/backups", http.StatusSeeOther)
}
