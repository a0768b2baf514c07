package dashboard

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// guestLog is the API's log object (GET /instances/{id}/log): sizes are
// strings of bytes, and Container and Prefix are "None" until something
// is published.
type guestLog struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Published string `json:"published"`
	Pending   string `json:"pending"`
	Container string `json:"container"`
	Prefix    string `json:"prefix"`
}

// User reports whether the tenant switches the log (a USER log; a SYS log
// is always written).
func (l guestLog) User() bool { return l.Type == "USER" }

// HasPublished reports whether parts of the log are published (and so can
// be downloaded or discarded).
func (l guestLog) HasPublished() bool {
	return l.Container != "" && l.Container != "None" && l.Published != "" && l.Published != "0"
}

// swiftEntry is an entry of the API's Swift-compatible container listing.
type swiftEntry struct {
	Name string `json:"name"`
}

// listLogs returns the logs of the instance at ipath (an API path under
// the project), or the API's fault (501 where logs are not offered).
func (d *Dashboard) listLogs(r *http.Request, s *session, ipath string) ([]guestLog, error) {
	var out struct {
		Logs []guestLog `json:"logs"`
	}
	_, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath(ipath+"/log"), nil, &out)
	return out.Logs, err
}

// logOps are the log forms' buttons and what each asks the API and says.
var logOps = map[string]struct{ key, flash string }{
	"enable":  {"enable", "Log %s enabled."},
	"disable": {"disable", "Log %s disabled."},
	"publish": {"publish", "Log %s published."},
	"discard": {"discard", "The published parts of log %s discarded."},
}

// logAction serves POST /dashboard/instances/{id}/log: a log's name and the
// button pressed (op: enable, disable, publish or discard), a POST of the
// API's guest-log action under the session. A fault is shown next to that
// log's row.
func (d *Dashboard) logAction(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	name := r.PostFormValue("name")
	op, ok := logOps[r.PostFormValue("op")]
	if !ok {
		d.renderDetail(w, r, s, http.StatusBadRequest, id, &page{Error: "There is no such log action.",
			Errors: map[string]string{logField(name): "There is no such log action."}})
		return
	}
	body := map[string]any{"name": name, op.key: 1}
	if _, err := d.call(r.Context(), s.token, http.MethodPost, s.apiPath("instances/"+url.PathEscape(id)+"/log"), body, nil); err != nil {
		msg := faultMessage(err)
		d.renderDetail(w, r, s, statusOf(err), id, &page{Error: msg, Errors: fieldErrors(msg, nil, logField(name))})
		return
	}
	d.setFlash(w, r, fmt.Sprintf(op.flash, name))
	http.Redirect(w, r, "/dashboard/instances/"+url.PathEscape(id)+"#h-logs", http.StatusSeeOther)
}

// logField is the key of a log's row in page.Errors.
func logField(name string) string { return "log-" + name }

// downloadLog serves GET /dashboard/instances/{id}/logs/{name}: the
// published parts of a log, in publication order, as one text file. The
// API's Swift view (api.SwiftPath) wants the token in a header, which a
// browser's link cannot send, so the dashboard reads it under the session
// and passes it on.
func (d *Dashboard) downloadLog(w http.ResponseWriter, r *http.Request, s *session) {
	id, name := r.PathValue("id"), r.PathValue("name")
	fail := func(status int, msg string) {
		p := d.newPage(r, s, "Log not shown", msg)
		p.Nav = "instances"
		d.render(w, r, status, "error", p)
	}
	logs, err := d.listLogs(r, s, "instances/"+url.PathEscape(id))
	if err != nil {
		fail(statusOf(err), faultMessage(err))
		return
	}
	var lg *guestLog
	for i := range logs {
		if logs[i].Name == name {
			lg = &logs[i]
		}
	}
	switch {
	case lg == nil:
		fail(http.StatusNotFound, "The instance has no log "+name+".")
		return
	case !lg.HasPublished():
		fail(http.StatusNotFound, "Log "+name+" has nothing published: publish it first.")
		return
	}
	container := "swift/" + url.PathEscape(lg.Container)
	var parts []swiftEntry
	q := url.Values{"format": {"json"}, "prefix": {lg.Prefix}}
	if _, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath(container+"?"+q.Encode()), nil, &parts); err != nil {
		fail(statusOf(err), faultMessage(err))
		return
	}
	if len(parts) == 0 {
		fail(http.StatusNotFound, "Log "+name+" has nothing published: publish it first.")
		return
	}
	started := false
	for _, p := range parts {
		resp, err := d.call(r.Context(), s.token, http.MethodGet, s.apiPath(container+"/"+escapeObject(p.Name)), nil, nil)
		if err != nil {
			if !started {
				fail(statusOf(err), faultMessage(err))
				return
			}
			// The answer is under way: it ends short, and says so in the log.
			d.log.Warn("published log part unreadable", "instance_id", id, "log", name, "part", p.Name, "err", err)
			return
		}
		if !started {
			started = true
			h := w.Header()
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": id + "-" + name + ".log"}))
			w.WriteHeader(http.StatusOK)
		}
		if _, err := w.Write(resp.body); err != nil {
			return // the browser went away
		}
	}
}

// escapeObject escapes each segment of a Swift object name (which has
// slashes) for a path.
func escapeObject(name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
