package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// fakeLog is a guest log of a fake instance, with its published parts.
type fakeLog struct {
	name, typ, status  string
	published, pending int
	parts              []fakePart
}

type fakePart struct{ name, body string }

// The Swift view's container of published logs (as enginelog.Container).
const fakeLogContainer = "database_logs"

func fakeInstanceLogs() []*fakeLog {
	return []*fakeLog{
		{name: "general", typ: "USER", status: "Disabled"},
		{name: "slow_query", typ: "USER", status: "Enabled", pending: 2048},
		{name: "error", typ: "SYS", status: "Ready", pending: 26},
		// The log file is not a regular file: publishing it fails.
		{name: "broken", typ: "SYS", status: "Ready", pending: 5},
	}
}

func (l *fakeLog) prefix(inst string) string { return inst + "/mysql-" + l.name + "/" }

func (l *fakeLog) view(inst string) map[string]any {
	c, p := "None", "None"
	if l.published > 0 {
		c, p = fakeLogContainer, l.prefix(inst)
	}
	return map[string]any{"name": l.name, "type": l.typ, "status": l.status, "published": strconv.Itoa(l.published),
		"pending": strconv.Itoa(l.pending), "container": c, "prefix": p, "metafile": inst + "/mysql-" + l.name + "_metafile"}
}

// logRoutes serves the guest-log API and its Swift view for the fake;
// it reports whether rest was one of theirs. f.mu is held.
func (f *fakeAPI) logRoutes(w http.ResponseWriter, r *http.Request, tenant, rest string) bool {
	if rest, ok := strings.CutPrefix(rest, "swift/"+fakeLogContainer); ok {
		f.swift(w, r, tenant, rest)
		return true
	}
	inst, ok := strings.CutSuffix(strings.TrimPrefix(rest, "instances/"), "/log")
	if !ok || !strings.HasPrefix(rest, "instances/") || strings.Contains(inst, "/") {
		return false
	}
	if f.noLogs {
		writeFault(w, 501, "notImplemented", "Log actions are not supported.")
		return true
	}
	logs := f.instanceLogs(tenant, inst)
	if logs == nil {
		writeFault(w, 404, "itemNotFound", "Instance "+inst+" could not be found.")
		return true
	}
	if r.Method == http.MethodGet {
		out := []map[string]any{}
		for _, l := range logs {
			out = append(out, l.view(inst))
		}
		writeOK(w, 200, map[string]any{"logs": out})
		return true
	}
	var body struct {
		Name                              string
		Enable, Disable, Publish, Discard int
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	var l *fakeLog
	for _, x := range logs {
		if x.name == body.Name {
			l = x
		}
	}
	switch {
	case l == nil:
		writeFault(w, 404, "itemNotFound", fmt.Sprintf("Log '%s' is not defined.", body.Name))
		return true
	case l.typ == "SYS" && (body.Enable == 1 || body.Disable == 1):
		writeFault(w, 400, "badRequest", fmt.Sprintf("Cannot enable a SYSTEM log ('%s').", l.name))
		return true
	case l.name == "broken" && body.Publish == 1:
		writeFault(w, 422, "unprocessableEntity", "The log file is not a regular file; it cannot be published.")
		return true
	}
	switch {
	case body.Enable == 1:
		l.status = "Enabled"
	case body.Disable == 1:
		l.status = "Disabled"
	case body.Discard == 1:
		l.published, l.parts = 0, nil
		l.status = "Ready"
	case body.Publish == 1:
		n := len(l.parts)
		l.parts = append(l.parts, fakePart{fmt.Sprintf("%slog-%d.txt", l.prefix(inst), n), fmt.Sprintf("%s part %d\n", l.name, n)})
		l.published += l.pending
		l.pending = 0
		l.status = "Published"
	}
	writeOK(w, 200, map[string]any{"log": l.view(inst)})
	return true
}

// instanceLogs returns the logs of the tenant's instance (nil if there is
// no such instance), made on first use.
func (f *fakeAPI) instanceLogs(tenant, inst string) []*fakeLog {
	for _, in := range f.instances[tenant] {
		if in["id"] != inst {
			continue
		}
		if f.logs == nil {
			f.logs = map[string][]*fakeLog{}
		}
		if f.logs[inst] == nil {
			f.logs[inst] = fakeInstanceLogs()
		}
		return f.logs[inst]
	}
	return nil
}

// swift serves the Swift view: a listing by prefix (rest "") and a part
// ("/" and its name), of the tenant's instances' logs only.
func (f *fakeAPI) swift(w http.ResponseWriter, r *http.Request, tenant, rest string) {
	var parts []fakePart
	for _, in := range f.instances[tenant] {
		for _, l := range f.logs[in["id"].(string)] {
			parts = append(parts, l.parts...)
		}
	}
	if rest == "" {
		prefix := r.URL.Query().Get("prefix")
		out := []map[string]any{}
		for _, p := range parts {
			if strings.HasPrefix(p.name, prefix) {
				out = append(out, map[string]any{"name": p.name, "bytes": len(p.body), "content_type": "text/plain"})
			}
		}
		writeOK(w, 200, out)
		return
	}
	for _, p := range parts {
		if "/"+p.name == rest {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte(p.body))
			return
		}
	}
	writeFault(w, 404, "itemNotFound", "The resource could not be found.")
}
