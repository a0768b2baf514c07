package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// page is what every template sees.
type page struct {
	Title     string
	Nav       string // the active navigation entry
	User      string
	Project   string
	ProjectID string
	CanWrite  bool
	Admin     bool
	Projects  []project
	CSRF      string
	Flash     string
	Error     string            // a page-level message (role=alert)
	Errors    map[string]string // field name → the API's fault message
	Form      any               // the values of the form being re-shown
	Data      any               // the page's own content
	PollMS    int64
	Secret    *secretNotice // a password shown once (root enable)
}

// secretNotice is a credential the API returned once.
type secretNotice struct {
	User, Password string
}

// FieldError returns the message for field, or "".
func (p *page) FieldError(field string) string { return p.Errors[field] }

// newPage starts a page for a logged-in session.
func (d *Dashboard) newPage(r *http.Request, s *session, title, errMsg string) *page {
	p := &page{Title: title, Error: errMsg, PollMS: d.poll.Milliseconds()}
	if s != nil {
		p.User = s.principal.UserName
		p.Project = s.principal.ProjectName
		p.ProjectID = s.principal.ProjectID
		p.CanWrite = s.principal.CanWrite()
		p.Admin = s.principal.IsAdmin()
		p.CSRF = s.csrf
		p.Projects = d.projects(r, s)
	}
	return p
}

var funcs = template.FuncMap{
	"lower": strings.ToLower,
	"statusClass": func(status string) string {
		switch status {
		case "ACTIVE", "COMPLETED", "HEALTHY":
			return "ok"
		case "ERROR", "FAILED", "BLOCKED", "SHUTDOWN":
			return "bad"
		}
		return "busy"
	},
	"gb": func(f *float64) string {
		if f == nil {
			return "–"
		}
		return fmt.Sprintf("%.2f", *f)
	},
	"size": byteSize,
	"pct": func(used *float64, size int) int {
		if used == nil || size <= 0 {
			return 0
		}
		return min(int(*used/float64(size)*100+0.5), 100)
	},
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"join": strings.Join,
	"num":  func(n json.Number) string { return n.String() },
	"weekday": func(d int) string {
		if d >= 0 && d <= 6 {
			return "full on " + time.Weekday(d).String() + ", incremental other days,"
		}
		return "full every day"
	},
	"isTrue": func(b *bool) bool { return b != nil && *b },
	"refID": func(r *ref) string {
		if r == nil {
			return ""
		}
		return r.ID
	},
}

var pageNames = []string{"login", "error", "instances", "create", "instance", "delete", "backups", "configurations", "configuration", "quotas"}

func parsePages() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, name := range pageNames {
		m[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/"+name+".html"))
	}
	return m
}

// render writes page name with status. The page is rendered into a buffer
// first, so that a template failure is a clean 500, never half a page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	t, ok := d.pages[name]
	if !ok {
		panic("dashboard: no page " + name)
	}
	if p.Flash == "" {
		p.Flash = d.takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		d.log.Error("render page", "page", name, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("The page could not be shown.\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// byteSize shows a count of bytes (the API's string) in B, KB, MB or GB.
func byteSize(s string) string {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return "–"
	}
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, unit := float64(n)/1024, "KB"
	for _, u := range []string{"MB", "GB", "TB"} {
		if f < 1024 {
			break
		}
		f, unit = f/1024, u
	}
	return fmt.Sprintf("%.1f %s", f, unit)
}
