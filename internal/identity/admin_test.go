package identity

import (
	"net/http"
	"strings"
	"testing"
)

func TestAdminAPI(t *testing.T) {
	f := newFixture(t)
	admin := f.login(t, "admin", "secret", "demo")
	alice := f.login(t, "alice", "alicepw", "demo")
	bobUnscoped := f.login(t, "bob", "bobpw", "")
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		want   int
		// wantIn are strings the body must contain.
		wantIn []string
	}{
		{"list projects", "GET", "/v3/projects", admin, nil, 200, []string{`"name":"demo"`, `"name":"other"`}},
		{"list projects by name", "GET", "/v3/projects?name=other", admin, nil, 200, []string{`"name":"other"`}},
		{"list projects as member", "GET", "/v3/projects", alice, nil, 403, nil},
		{"list projects unscoped", "GET", "/v3/projects", bobUnscoped, nil, 403, nil},
		{"list projects no token", "GET", "/v3/projects", "", nil, 401, nil},
		{"list projects bad token", "GET", "/v3/projects", "garbage", nil, 401, nil},
		{"create project", "POST", "/v3/projects", admin, map[string]any{"project": map[string]any{"name": "p1", "description": "d", "enabled": true, "domain_id": "default"}}, 201, []string{`"name":"p1"`, `"description":"d"`, `"domain_id":"default"`}},
		{"create project null description", "POST", "/v3/projects", admin, `{"project":{"name":"p2","description":null}}`, 201, []string{`"name":"p2"`}},
		{"create project duplicate", "POST", "/v3/projects", admin, map[string]any{"project": map[string]any{"name": "demo"}}, 409, []string{`"title":"Conflict"`}},
		{"create project no name", "POST", "/v3/projects", admin, map[string]any{"project": map[string]any{}}, 400, nil},
		{"create project control name", "POST", "/v3/projects", admin, map[string]any{"project": map[string]any{"name": "p\x1b[31m"}}, 400, []string{`control or bidirectional`}},
		{"create project bidi description", "POST", "/v3/projects", admin, map[string]any{"project": map[string]any{"name": "p5", "description": "a\u202eb"}}, 400, []string{`U+202E`}},
		{"create project other domain", "POST", "/v3/projects", admin, map[string]any{"project": map[string]any{"name": "p3", "domain_id": "x"}}, 404, nil},
		{"create project malformed", "POST", "/v3/projects", admin, `{"project":`, 400, []string{`"code":400`, `"title":"Bad Request"`}},
		{"create project as member", "POST", "/v3/projects", alice, map[string]any{"project": map[string]any{"name": "p4"}}, 403, []string{`"code":403`}},
		{"get project", "GET", "/v3/projects/" + f.ids["other"], admin, nil, 200, []string{`"name":"other"`}},
		{"get own project as member", "GET", "/v3/projects/" + f.ids["demo"], alice, nil, 200, []string{`"name":"demo"`}},
		{"get other project as member", "GET", "/v3/projects/" + f.ids["other"], alice, nil, 403, nil},
		{"get missing project", "GET", "/v3/projects/nope", admin, nil, 404, []string{`"title":"Not Found"`}},
		{"list users", "GET", "/v3/users", admin, nil, 200, []string{`"name":"alice"`, `"name":"bob"`}},
		{"list users by name", "GET", "/v3/users?name=bob", admin, nil, 200, []string{`"name":"bob"`}},
		{"list users as member", "GET", "/v3/users", alice, nil, 403, nil},
		{"create user", "POST", "/v3/users", admin, map[string]any{"user": map[string]any{"name": "erin", "password": "erinpw", "default_project_id": f.ids["demo"]}}, 201, []string{`"name":"erin"`, `"default_project_id":"` + f.ids["demo"]}},
		{"create user duplicate", "POST", "/v3/users", admin, map[string]any{"user": map[string]any{"name": "alice", "password": "x"}}, 409, nil},
		{"create user no password", "POST", "/v3/users", admin, map[string]any{"user": map[string]any{"name": "frank"}}, 400, nil},
		{"create user control name", "POST", "/v3/users", admin, map[string]any{"user": map[string]any{"name": "a\x00b\u009b", "password": "x"}}, 400, []string{`control or bidirectional`}},
		{"create user bad project", "POST", "/v3/users", admin, map[string]any{"user": map[string]any{"name": "gina", "password": "x", "default_project_id": "nope"}}, 404, nil},
		{"create user long password", "POST", "/v3/users", admin, map[string]any{"user": map[string]any{"name": "hank", "password": strings.Repeat("p", 73)}}, 400, nil},
		{"create user as member", "POST", "/v3/users", alice, map[string]any{"user": map[string]any{"name": "ivan", "password": "x"}}, 403, nil},
		{"get user", "GET", "/v3/users/" + f.ids["bob"], admin, nil, 200, []string{`"name":"bob"`}},
		{"get self", "GET", "/v3/users/" + f.ids["alice"], alice, nil, 200, []string{`"name":"alice"`}},
		{"get other user as member", "GET", "/v3/users/" + f.ids["bob"], alice, nil, 403, nil},
		{"grant role by name", "PUT", "/v3/projects/" + f.ids["other"] + "/users/" + f.ids["alice"] + "/roles/member", admin, nil, 204, nil},
		{"check role", "HEAD", "/v3/projects/" + f.ids["other"] + "/users/" + f.ids["alice"] + "/roles/member", admin, nil, 204, nil},
		{"check missing role", "HEAD", "/v3/projects/" + f.ids["other"] + "/users/" + f.ids["alice"] + "/roles/admin", admin, nil, 404, nil},
		{"grant role again", "PUT", "/v3/projects/" + f.ids["other"] + "/users/" + f.ids["alice"] + "/roles/member", admin, nil, 204, nil},
		{"grant unknown role", "PUT", "/v3/projects/" + f.ids["other"] + "/users/" + f.ids["alice"] + "/roles/owner", admin, nil, 404, nil},
		{"grant unknown user", "PUT", "/v3/projects/" + f.ids["other"] + "/users/nobody/roles/member", admin, nil, 404, nil},
		{"grant unknown project", "PUT", "/v3/projects/nope/users/" + f.ids["alice"] + "/roles/member", admin, nil, 404, nil},
		{"grant as member", "PUT", "/v3/projects/" + f.ids["demo"] + "/users/" + f.ids["alice"] + "/roles/admin", alice, nil, 403, nil},
		{"list roles", "GET", "/v3/roles", alice, nil, 200, []string{`"id":"admin","name":"admin"`, `"id":"member","name":"member"`}},
		{"get role", "GET", "/v3/roles/admin", admin, nil, 200, []string{`"id":"admin"`}},
		{"get unknown role", "GET", "/v3/roles/owner", admin, nil, 404, nil},
		{"list domains", "GET", "/v3/domains?name=Default", admin, nil, 200, []string{`"id":"default"`}},
		{"get domain", "GET", "/v3/domains/default", admin, nil, 200, []string{`"name":"Default"`}},
		{"get unknown domain", "GET", "/v3/domains/Default", admin, nil, 404, nil},
		{"auth projects", "GET", "/v3/auth/projects", bobUnscoped, nil, 200, []string{`"name":"demo"`, `"name":"other"`}},
		{"own projects", "GET", "/v3/users/" + f.ids["bob"] + "/projects", bobUnscoped, nil, 200, []string{`"name":"demo"`, `"name":"other"`}},
		{"other's projects", "GET", "/v3/users/" + f.ids["admin"] + "/projects", bobUnscoped, nil, 403, nil},
		{"other's projects as admin", "GET", "/v3/users/" + f.ids["bob"] + "/projects", admin, nil, 200, []string{`"name":"other"`}},
		{"auth projects no token", "GET", "/v3/auth/projects", "", nil, 401, nil},
		{"bad method", "DELETE", "/v3/projects", admin, nil, 405, []string{`"code":405`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.token != "" {
				hdr["X-Auth-Token"] = tt.token
			}
			resp, body := f.do(t, tt.method, "/identity"+tt.path, tt.body, hdr)
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s = %d, want %d: %s", tt.method, tt.path, resp.StatusCode, tt.want, body)
			}
			compact := strings.ReplaceAll(string(body), " ", "")
			for _, s := range tt.wantIn {
				if !strings.Contains(compact, strings.ReplaceAll(s, " ", "")) {
					t.Errorf("body %s lacks %s", body, s)
				}
			}
			for _, secret := range []string{"password\":\"", "erinpw", "$2a$"} {
				if strings.Contains(compact, secret) {
					t.Errorf("body echoes a password or hash: %s", body)
				}
			}
			if tt.want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Keystone uri=") {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
	// The list filtered by name has exactly one entry.
	_, body := f.do(t, "GET", "/identity/v3/projects?name=other", nil, map[string]string{"X-Auth-Token": admin})
	if n := len(decode[struct {
		Projects []projectJSON `json:"projects"`
	}](t, body).Projects); n != 1 {
		t.Errorf("projects?name=other has %d entries, want 1", n)
	}
	// Users made through the API can log in once they have a role.
	_, body = f.do(t, "GET", "/identity/v3/users?name=erin", nil, map[string]string{"X-Auth-Token": admin})
	users := decode[struct {
		Users []userJSON `json:"users"`
	}](t, body).Users
	if len(users) != 1 {
		t.Fatalf("users?name=erin = %s", body)
	}
	resp, b := f.do(t, "PUT", "/identity/v3/projects/"+f.ids["demo"]+"/users/"+users[0].ID+"/roles/member", nil, map[string]string{"X-Auth-Token": admin})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("grant erin = %d: %s", resp.StatusCode, b)
	}
	f.login(t, "erin", "erinpw", "demo")
}
