package dashboard

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// logRow is the table row of log name on an instance page.
func logRow(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr id="log-` + name + `">(.*?)</tr>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the instance page has no row for log %s", name)
	}
	return m[1]
}

// TestLogsSection: the instance page lists the engine's logs with their
// status and sizes, and offers enable or disable for USER logs only,
// publish, and a download once something is published.
func TestLogsSection(t *testing.T) {
	t.Parallel()
	_, srv := newDashboard(t, Config{})
	b := newBrowser(t, srv)
	b.login("alice", "alice-pw", "one")
	p := b.do("GET", "/dashboard/instances/i-alice", nil)
	if p.status != 200 {
		t.Fatalf("GET instance = %d\n%s", p.status, p.body)
	}
	tests := []struct {
		log        string
		want, deny []string
	}{
		{"general", []string{">USER<", ">Disabled<", `value="enable"`, "0 B"}, []string{`value="disable"`, `value="publish"`, "Download"}},
		{"slow_query", []string{">Enabled<", `value="disable"`, `value="publish"`, "2.0 KB"}, []string{`value="enable"`, "Download", `value="discard"`}},
		{"error", []string{">SYS<", ">Ready<", `value="publish"`, "26 B"}, []string{`value="enable"`, `value="disable"`, "Download"}},
	}
	for _, tt := range tests {
		row := logRow(t, p.body, tt.log)
		for _, w := range tt.want {
			if !strings.Contains(row, w) {
				t.Errorf("log %s: row does not show %q\n%s", tt.log, w, row)
			}
		}
		for _, d := range tt.deny {
			if strings.Contains(row, d) {
				t.Errorf("log %s: row shows %q\n%s", tt.log, d, row)
			}
		}
	}
}

// TestLogForms: each log button is a POST of the API's guest-log action
// under the session; success redirects back with the new state shown, a
// fault is shown next to the log's row with the API's status.
func TestLogForms(t *testing.T) {
	t.Parallel()
	f, srv := newDashboard(t, Config{})
	b := newBrowser(t, srv)
	b.login("alice", "alice-pw", "one")
	const page = "/dashboard/instances/i-alice"
	tok := b.csrf(page)
	tests := []struct {
		name, log, op string
		status        int
		field         string // the row a fault is shown next to ("" for a log without a row: the page's summary)
		want          string // in the row afterwards, or in the fault
	}{
		{"enable a USER log", "general", "enable", 303, "", ">Enabled<"},
		{"disable a USER log", "slow_query", "disable", 303, "", ">Disabled<"},
		{"publish", "error", "publish", 303, "", `href="/dashboard/instances/i-alice/logs/error"`},
		{"publish again", "error", "publish", 303, "", ">Published<"},
		{"enable a SYS log", "error", "enable", 400, "error", "Cannot enable a SYSTEM log (&#39;error&#39;)."},
		{"publish fails", "broken", "publish", 422, "broken", "not a regular file"},
		{"no such log", "nope", "publish", 404, "", "Log &#39;nope&#39; is not defined."},
		{"no such action", "general", "truncate", 400, "general", "no such log action"},
	}
	for _, tt := range tests {
		before := len(f.calls)
		p := b.do("POST", page+"/log", url.Values{"csrf_token": {tok}, "name": {tt.log}, "op": {tt.op}})
		if p.status != tt.status {
			t.Errorf("%s: status %d, want %d\n%s", tt.name, p.status, tt.status, p.body)
			continue
		}
		if tt.status == 303 {
			if p.loc != page+"#h-logs" {
				t.Errorf("%s: redirect to %q", tt.name, p.loc)
			}
			after := b.do("GET", page, nil)
			if row := logRow(t, after.body, tt.log); !strings.Contains(row, tt.want) {
				t.Errorf("%s: afterwards the row does not show %q\n%s", tt.name, tt.want, row)
			}
			if !strings.Contains(after.body, "Log "+tt.log) {
				t.Errorf("%s: no flash after the redirect", tt.name)
			}
			continue
		}
		id := "page-error"
		if tt.field != "" {
			id = "log-" + tt.field + "-error"
		}
		m := regexp.MustCompile(`id="` + id + `">([^<]*)<`).FindStringSubmatch(p.body)
		if m == nil || !strings.Contains(m[1], tt.want) {
			t.Errorf("%s: no %q in #%s (got %q)", tt.name, tt.want, id, m)
		}
		if tt.op == "truncate" {
			f.mu.Lock()
			for _, c := range f.calls[before:] {
				if strings.HasPrefix(c, "POST ") {
					t.Errorf("%s: an unknown action reached the API: %s", tt.name, c)
				}
			}
			f.mu.Unlock()
		}
	}

	// The published log downloads as one file, its parts in order.
	d := b.do("GET", page+"/logs/error", nil)
	if d.status != 200 || d.body != "error part 0\nerror part 1\n" {
		t.Errorf("download = %d %q, want 200 with both parts", d.status, d.body)
	}
	if cd := d.header.Get("Content-Disposition"); cd != `attachment; filename=i-alice-error.log` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if ct := d.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	// A reader downloads it too, but has no log forms.
	rita := newBrowser(t, srv)
	rita.login("rita", "rita-pw", "")
	if d := rita.do("GET", page+"/logs/error", nil); d.status != 200 || !strings.Contains(d.body, "error part 0") {
		t.Errorf("reader's download = %d %q", d.status, d.body)
	}
	if p := rita.do("GET", page, nil); strings.Contains(p.body, `action="`+page+`/log"`) {
		t.Error("a reader is offered the log forms")
	}
	for _, tt := range []struct {
		who        *browser
		path, want string
	}{
		{b, page + "/logs/general", "nothing published"},
		{b, page + "/logs/nope", "has no log nope"},
		{b, "/dashboard/instances/i-bob/logs/error", "could not be found"},
	} {
		if d := tt.who.do("GET", tt.path, nil); d.status != 404 || !strings.Contains(d.body, tt.want) {
			t.Errorf("GET %s = %d, want 404 with %q", tt.path, d.status, tt.want)
		}
	}
	// Another project's member cannot read alice's published log.
	bob := newBrowser(t, srv)
	bob.login("bob", "bob-pw", "")
	if d := bob.do("GET", page+"/logs/error", nil); d.status != 404 || strings.Contains(d.body, "error part") {
		t.Errorf("bob's download of alice's log = %d %q, want 404", d.status, d.body)
	}

	// Discard removes the published parts: no download any more.
	if p := b.do("POST", page+"/log", url.Values{"csrf_token": {tok}, "name": {"error"}, "op": {"discard"}}); p.status != 303 {
		t.Fatalf("discard = %d", p.status)
	}
	if row := logRow(t, b.do("GET", page, nil).body, "error"); strings.Contains(row, "Download") {
		t.Errorf("after discard the row still offers a download\n%s", row)
	}
	// Without the CSRF token nothing reaches the API.
	before := len(f.calls)
	if p := b.do("POST", page+"/log", url.Values{"name": {"general"}, "op": {"disable"}}); p.status != 403 {
		t.Errorf("log action without a CSRF token = %d, want 403", p.status)
	}
	f.mu.Lock()
	if len(f.calls) != before {
		t.Errorf("a refused log form reached the API: %v", f.calls[before:])
	}
	f.mu.Unlock()
}

// TestLogsUnsupported: where the API offers no logs (501) the section
// says so instead of a table.
func TestLogsUnsupported(t *testing.T) {
	t.Parallel()
	f, srv := newDashboard(t, Config{})
	f.mu.Lock()
	f.noLogs = true
	f.mu.Unlock()
	b := newBrowser(t, srv)
	b.login("alice", "alice-pw", "one")
	p := b.do("GET", "/dashboard/instances/i-alice", nil)
	if p.status != 200 || !strings.Contains(p.body, `id="logs-note">Log actions are not supported.<`) || strings.Contains(p.body, `id="logs"`) {
		t.Errorf("GET instance without logs = %d; the section does not say logs are not supported", p.status)
	}
}
