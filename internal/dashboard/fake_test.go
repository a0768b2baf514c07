package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/identity"
	"github.com/hoard-db/hoard/internal/model"
)

// fakeAPI stands in for api.Server.Handler with identity mounted: a few
// routes of each, with the API's rules that matter to the dashboard (the
// tenant in the path must be the token's project, readers may only read,
// faults are Trove fault bodies). It is also the Authenticator.
type fakeAPI struct {
	mu        sync.Mutex
	n         int
	tokens    map[string]*identity.Principal
	users     map[string]fakeUser
	projects  map[string]string // id → name
	quotas    map[string]map[string]int
	instances map[string][]map[string]any
	logs      map[string][]*fakeLog // instance id → its guest logs
	noLogs    bool                  // answer the guest-log API with 501
	calls     []string              // "METHOD path" of every /v1.0 request
	// crossTenant counts requests whose path names another project than
	// their token's.
	crossTenant int
}

type fakeUser struct {
	password string
	roles    map[string]string // project id → role
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{
		tokens:   map[string]*identity.Principal{},
		projects: map[string]string{"p1": "one", "p2": "two", "p3": "three"},
		users: map[string]fakeUser{
			"alice": {"alice-pw", map[string]string{"p1": model.RoleMember, "p2": model.RoleMember}},
			"bob":   {"bob-pw", map[string]string{"p3": model.RoleMember}},
			"rita":  {"rita-pw", map[string]string{"p1": model.RoleReader}},
			"ada":   {"ada-pw", map[string]string{"p1": model.RoleAdmin}},
		},
		instances: map[string][]map[string]any{
			"p1": {fakeInstance("i-alice", "alices-db")},
			"p2": {fakeInstance("i-two", "second-project-db")},
			"p3": {fakeInstance("i-bob", "bobs-db")},
		},
	}
}

func fakeInstance(id, name string) map[string]any {
	return map[string]any{"id": id, "name": name, "status": "ACTIVE", "flavor": map[string]any{"id": "1"},
		"datastore": map[string]any{"type": "mysql", "version": "10.11"}, "volume": map[string]any{"size": 2, "used": 0.5},
		"ip": []string{"127.0.1.7"}, "port": 3306}
}

// Authenticate implements Authenticator.
func (f *fakeAPI) Authenticate(_ context.Context, token string) (*identity.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.tokens[token]; ok {
		return p, nil
	}
	return nil, fault.New(fault.Unauthorized, "fake.auth", "The request you have made requires authentication.")
}

func (f *fakeAPI) issue(user, projectID string) (string, *identity.Principal) {
	f.n++
	tok := fmt.Sprintf("tok-%d-%s", f.n, user)
	p := &identity.Principal{UserID: "u-" + user, UserName: user, ProjectID: projectID, ProjectName: f.projects[projectID],
		Roles: []string{f.users[user].roles[projectID]}, ExpiresAt: time.Now().Add(time.Hour)}
	f.tokens[tok] = p
	return tok, p
}

func writeFault(w http.ResponseWriter, code int, name, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{name: map[string]any{"code": code, "message": msg}})
}

func writeOK(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/identity/") {
		f.identity(w, r)
		return
	}
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1.0/")
	tenant, rest, _ := strings.Cut(rest, "/")
	if !ok {
		writeFault(w, 404, "itemNotFound", "The resource could not be found.")
		return
	}
	p, ok := f.tokens[r.Header.Get("X-Auth-Token")]
	switch {
	case !ok:
		writeFault(w, 401, "unauthorized", "The request you have made requires authentication.")
		return
	case p.ProjectID != tenant:
		f.crossTenant++
		writeFault(w, 403, "forbidden", "User with tenant id "+p.ProjectID+" cannot access this resource.")
		return
	case r.Method != http.MethodGet && !p.CanWrite():
		writeFault(w, 403, "forbidden", "Your roles on this project only allow reading: creating, changing or deleting needs the member role.")
		return
	}
	if f.logRoutes(w, r, tenant, rest) {
		return
	}
	switch {
	case strings.HasPrefix(rest, "mgmt/quotas/"):
		target := strings.TrimPrefix(rest, "mgmt/quotas/")
		if (target != tenant || r.Method != "GET") && !p.IsAdmin() {
			writeFault(w, 403, "forbidden", "User does not have admin privileges.")
			return
		}
		if f.quotas == nil {
			f.quotas = map[string]map[string]int{}
		}
		if f.quotas[target] == nil {
			f.quotas[target] = map[string]int{"instances": 5, "volumes": 20}
		}
		if r.Method == "PUT" {
			var body struct {
				Quotas map[string]int `json:"quotas"`
			}
			_ = json.NewDecoder(r.Body).Decode(&body)
			for k, v := range body.Quotas {
				if _, ok := f.quotas[target][k]; !ok {
					writeFault(w, 404, "itemNotFound", "Quota resource "+k+" could not be found.")
					return
				}
				f.quotas[target][k] = v
			}
		}
		writeOK(w, 200, map[string]any{"quotas": []map[string]any{
			{"resource": "instances", "in_use": 1, "limit": f.quotas[target]["instances"], "reserved": 0},
			{"resource": "volumes", "in_use": 2, "limit": f.quotas[target]["volumes"], "reserved": 0}}})
	case r.Method == "GET" && rest == "instances/detail":
		writeOK(w, 200, map[string]any{"instances": f.instances[tenant]})
	case r.Method == "GET" && strings.HasPrefix(rest, "instances/") && strings.Count(rest, "/") == 1:
		id := strings.TrimPrefix(rest, "instances/")
		for _, in := range f.instances[tenant] {
			if in["id"] == id {
				writeOK(w, 200, map[string]any{"instance": in})
				return
			}
		}
		writeFault(w, 404, "itemNotFound", "Instance "+id+" could not be found.")
	case r.Method == "POST" && rest == "instances":
		var body struct {
			Instance map[string]any `json:"instance"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		in := body.Instance
		if name, _ := in["name"].(string); name == "" {
			writeFault(w, 400, "badRequest", "Validation error: instance 'name' is a required property")
			return
		}
		if v, _ := in["volume"].(map[string]any); v != nil && v["size"].(float64) > 10 {
			writeFault(w, 413, "overLimit", fmt.Sprintf("Volume 'size' cannot exceed maximum of 10 GB, %v cannot be accepted.", v["size"]))
			return
		}
		nin := fakeInstance(fmt.Sprintf("i-new-%d", len(f.calls)), in["name"].(string))
		nin["status"] = "BUILD"
		f.instances[tenant] = append(f.instances[tenant], nin)
		writeOK(w, 200, map[string]any{"instance": nin})
	case r.Method == "POST" && strings.HasSuffix(rest, "/action"):
		w.WriteHeader(202)
	case r.Method == "GET" && strings.HasSuffix(rest, "/users"):
		writeOK(w, 200, map[string]any{"users": []map[string]any{{"name": "app", "host": "%", "databases": []map[string]string{{"name": "shop"}}}}})
	case r.Method == "GET" && strings.HasSuffix(rest, "/databases"):
		writeOK(w, 200, map[string]any{"databases": []map[string]string{{"name": "shop"}}})
	case r.Method == "GET" && (strings.HasPrefix(rest, "backups") || strings.HasSuffix(rest, "/backups")):
		writeOK(w, 200, map[string]any{"backups": []map[string]any{{"id": "b-1", "name": "nightly", "instance_id": "i-alice",
			"status": "COMPLETED", "size": 0.01, "created": "2026-01-02T03:04:05", "type": "InnoBackupEx"}}})
	case r.Method == "GET" && rest == "schedules":
		writeOK(w, 200, map[string]any{"schedules": []map[string]any{{"id": "s-1", "action": "backup", "day_of_week": 3,
			"hour": 4, "minute": 5, "instance_id": "i-alice", "next_run": "2026-01-07T04:05:00"}}})
	case r.Method == "GET" && rest == "configurations/c-1":
		writeOK(w, 200, map[string]any{"configuration": map[string]any{"id": "c-1", "name": "tuned", "datastore_name": "mysql",
			"datastore_version_id": "v-1", "datastore_version_name": "10.11", "values": map[string]any{"max_connections": 200}}})
	case r.Method == "GET" && strings.HasSuffix(rest, "/parameters"):
		writeOK(w, 200, map[string]any{"configuration-parameters": []map[string]any{{"name": "max_connections", "type": "integer",
			"min": 10, "max": 100000, "restart_required": false}, {"name": "innodb_buffer_pool_size", "type": "integer", "restart_required": true}}})
	case r.Method == "GET" && strings.HasPrefix(rest, "configurations"):
		writeOK(w, 200, map[string]any{"configurations": []map[string]any{{"id": "c-1", "name": "tuned", "datastore_name": "mysql",
			"datastore_version_id": "v-1", "datastore_version_name": "10.11"}}})
	case r.Method == "GET" && rest == "datastores":
		writeOK(w, 200, map[string]any{"datastores": []map[string]any{{"id": "d-1", "name": "mysql", "default_version": "v-1",
			"versions": []map[string]any{{"id": "v-1", "name": "10.11"}}}}})
	case r.Method == "GET" && rest == "flavors":
		writeOK(w, 200, map[string]any{"flavors": []map[string]any{{"id": 1, "str_id": "1", "name": "small", "ram": 512, "vcpus": 1}}})
	case r.Method == "GET":
		writeOK(w, 200, map[string]any{}) // empty lists of everything else
	default:
		w.WriteHeader(202)
	}
}

func (f *fakeAPI) identity(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == "POST" && r.URL.Path == "/identity/v3/auth/tokens":
		var body struct {
			Auth struct {
				Identity struct {
					Methods  []string `json:"methods"`
					Password struct {
						User struct{ Name, Password string } `json:"user"`
					} `json:"password"`
					Token struct{ ID string } `json:"token"`
				} `json:"identity"`
				Scope struct {
					Project struct{ ID, Name string } `json:"project"`
				} `json:"scope"`
			} `json:"auth"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		id := body.Auth.Identity
		var user string
		if slices.Contains(id.Methods, "token") {
			p, ok := f.tokens[id.Token.ID]
			if !ok {
				writeFault(w, 401, "error", "The request you have made requires authentication.")
				return
			}
			user = p.UserName
		} else {
			u, ok := f.users[id.Password.User.Name]
			if !ok || u.password != id.Password.User.Password {
				writeFault(w, 401, "error", "The request you have made requires authentication.")
				return
			}
			user = id.Password.User.Name
		}
		sc := body.Auth.Scope.Project
		pid := sc.ID
		for k, v := range f.projects {
			if sc.Name != "" && v == sc.Name {
				pid = k
			}
		}
		if pid == "" {
			for k := range f.users[user].roles {
				if pid == "" || k < pid {
					pid = k
				}
			}
		}
		if _, ok := f.users[user].roles[pid]; !ok {
			writeFault(w, 401, "error", "User "+user+" has no access to project "+sc.Name+sc.ID+".")
			return
		}
		tok, p := f.issue(user, pid)
		w.Header().Set("X-Subject-Token", tok)
		writeOK(w, 201, map[string]any{"token": map[string]any{
			"expires_at": p.ExpiresAt.UTC().Format("2006-01-02T15:04:05.000000Z"),
			"project":    map[string]string{"id": pid, "name": p.ProjectName},
		}})
	case r.Method == "GET" && r.URL.Path == "/identity/v3/auth/projects":
		p, ok := f.tokens[r.Header.Get("X-Auth-Token")]
		if !ok {
			writeFault(w, 401, "error", "The request you have made requires authentication.")
			return
		}
		var out []map[string]string
		for id := range f.users[p.UserName].roles {
			out = append(out, map[string]string{"id": id, "name": f.projects[id]})
		}
		slices.SortFunc(out, func(a, b map[string]string) int { return strings.Compare(a["id"], b["id"]) })
		writeOK(w, 200, map[string]any{"projects": out})
	case r.Method == "GET" && (r.URL.Path == "/identity/v3/projects" || r.URL.Path == "/identity/v3/users"):
		p, ok := f.tokens[r.Header.Get("X-Auth-Token")]
		if !ok || !p.IsAdmin() {
			writeFault(w, 403, "error", "You are not authorized to perform the requested action.")
			return
		}
		if strings.HasSuffix(r.URL.Path, "/users") {
			writeOK(w, 200, map[string]any{"users": []map[string]any{{"id": "u-alice", "name": "alice", "enabled": true},
				{"id": "u-bob", "name": "bob", "enabled": false}}})
			return
		}
		writeOK(w, 200, map[string]any{"projects": []map[string]string{{"id": "p1", "name": "one"}, {"id": "p3", "name": "three"}}})
	case r.Method == "DELETE" && r.URL.Path == "/identity/v3/auth/tokens":
		if _, ok := f.tokens[r.Header.Get("X-Auth-Token")]; !ok {
			writeFault(w, 401, "error", "The request you have made requires authentication.")
			return
		}
		delete(f.tokens, r.Header.Get("X-Subject-Token"))
		w.WriteHeader(204)
	default:
		writeFault(w, 404, "error", "Not found")
	}
}
