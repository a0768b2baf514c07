package identity

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

// mkUser creates an enabled user with password name+"pw" and the given
// role on each project (by fixture name), returning its id.
func (f *fixture) mkUser(t *testing.T, name, role string, projects ...string) string {
	t.Helper()
	u, err := f.svc.CreateUser(context.Background(), name, name+"pw")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range projects {
		if err := f.svc.GrantRole(context.Background(), u.ID, f.ids[p], role); err != nil {
			t.Fatal(err)
		}
	}
	f.ids[name] = u.ID
	return u.ID
}

func (f *fixture) mkProject(t *testing.T, name string) string {
	t.Helper()
	p, err := f.svc.CreateProject(context.Background(), name, "")
	if err != nil {
		t.Fatal(err)
	}
	f.ids[name] = p.ID
	return p.ID
}

func TestManageAPI(t *testing.T) {
	f := newFixture(t)
	admin := f.login(t, "admin", "secret", "demo")
	alice := f.login(t, "alice", "alicepw", "demo")
	f.mkProject(t, "p-rename")
	f.mkProject(t, "p-busy")
	f.mkProject(t, "p-broken")
	f.mkProject(t, "p-empty")
	f.owned.set(f.ids["p-busy"], model.ProjectResources{Instances: 2, Backups: 1}, nil)
	f.mkUser(t, "u-edit", model.RoleMember, "demo")
	f.mkUser(t, "u-gone", model.RoleMember, "demo")
	f.mkUser(t, "u-pw", model.RoleReader, "demo")
	f.mkUser(t, "u-role", model.RoleReader, "demo", "other")
	proj := func(name string) string { return "/v3/projects/" + f.ids[name] }
	user := func(name string) string { return "/v3/users/" + f.ids[name] }
	role := func(p, u, r string) string { return proj(p) + "/users/" + f.ids[u] + "/roles/" + r }
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		want   int
		wantIn []string
	}{
		{"create project as OSC sends it", "POST", "/v3/projects", admin, `{"project":{"name":"p-osc","domain_id":"default","description":null,"enabled":true,"tags":[],"parent_id":"default","is_domain":false,"options":{}}}`, 201, []string{`"name":"p-osc"`}},
		{"create project unknown attribute", "POST", "/v3/projects", admin, `{"project":{"name":"p-x","owner":"me"}}`, 400, []string{`'owner'`}},
		{"create project child", "POST", "/v3/projects", admin, `{"project":{"name":"p-x","parent_id":"` + f.ids["demo"] + `"}}`, 400, []string{"hierarchy"}},
		{"create project tags", "POST", "/v3/projects", admin, `{"project":{"name":"p-x","tags":["a"]}}`, 400, nil},
		{"create domain", "POST", "/v3/projects", admin, `{"project":{"name":"p-x","is_domain":true}}`, 400, nil},
		{"create project name null", "POST", "/v3/projects", admin, `{"project":{"name":null}}`, 400, nil},
		{"create user with email", "POST", "/v3/users", admin, `{"user":{"name":"u-x","password":"pw","email":"a@b.c"}}`, 400, []string{`'email'`}},
		{"create user password null", "POST", "/v3/users", admin, `{"user":{"name":"u-x","password":null}}`, 400, nil},
		{"create user disabled", "POST", "/v3/users", admin, `{"user":{"name":"u-off","password":"pw","enabled":false,"domain_id":"default","options":{}}}`, 201, []string{`"enabled":false`}},
		{"rename project", "PATCH", proj("p-rename"), admin, `{"project":{"name":"p-renamed","description":"d2","enabled":true,"tags":[],"options":{}}}`, 200, []string{`"name":"p-renamed"`, `"description":"d2"`}},
		{"project description null", "PATCH", proj("p-rename"), admin, `{"project":{"description":null}}`, 200, []string{`"description":""`, `"name":"p-renamed"`}},
		{"project empty change", "PATCH", proj("p-rename"), admin, `{"project":{}}`, 200, []string{`"name":"p-renamed"`}},
		{"project default domain", "PATCH", proj("p-rename"), admin, `{"project":{"domain_id":"default"}}`, 200, nil},
		{"project other domain", "PATCH", proj("p-rename"), admin, `{"project":{"domain_id":"elsewhere"}}`, 400, []string{"default domain"}},
		{"project name taken", "PATCH", proj("p-rename"), admin, `{"project":{"name":"demo"}}`, 409, []string{`"title":"Conflict"`}},
		{"project unknown attribute", "PATCH", proj("p-rename"), admin, `{"project":{"owner":"x","color":1}}`, 400, []string{`Unsupported project attribute(s): 'color', 'owner'`}},
		{"project tags", "PATCH", proj("p-rename"), admin, `{"project":{"tags":["x"]}}`, 400, []string{"tags"}},
		{"project options", "PATCH", proj("p-rename"), admin, `{"project":{"options":{"immutable":true}}}`, 400, []string{"'immutable'"}},
		{"project name null", "PATCH", proj("p-rename"), admin, `{"project":{"name":null}}`, 400, []string{`'name' must not be null`}},
		{"project name empty", "PATCH", proj("p-rename"), admin, `{"project":{"name":" "}}`, 400, nil},
		{"project enabled string", "PATCH", proj("p-rename"), admin, `{"project":{"enabled":"yes"}}`, 400, []string{`'enabled'`}},
		{"project bidi name", "PATCH", proj("p-rename"), admin, `{"project":{"name":"a\u202eb"}}`, 400, []string{"U+202E"}},
		{"project no object", "PATCH", proj("p-rename"), admin, `{"project":null}`, 400, []string{`'project' is a required property`}},
		{"project not an object", "PATCH", proj("p-rename"), admin, `{"project":[1]}`, 400, nil},
		{"project array body", "PATCH", proj("p-rename"), admin, `[]`, 400, nil},
		{"project malformed", "PATCH", proj("p-rename"), admin, `{"project":`, 400, nil},
		{"project missing", "PATCH", "/v3/projects/nope", admin, `{"project":{"name":"x"}}`, 404, nil},
		{"project update as member", "PATCH", proj("p-rename"), alice, `{"project":{"name":"y"}}`, 403, nil},
		{"project update no token", "PATCH", proj("p-rename"), "", `{"project":{"name":"y"}}`, 401, nil},
		{"delete busy project", "DELETE", proj("p-busy"), admin, nil, 409, []string{"while it owns 2 instances and 1 backup: delete those first"}},
		{"delete project as member", "DELETE", proj("p-empty"), alice, nil, 403, nil},
		{"delete project", "DELETE", proj("p-empty"), admin, nil, 204, nil},
		{"delete project again", "DELETE", proj("p-empty"), admin, nil, 404, nil},
		{"delete missing project", "DELETE", "/v3/projects/nope", admin, nil, 404, nil},

		{"update user", "PATCH", user("u-edit"), admin, `{"user":{"name":"u-edited","enabled":true,"options":{}}}`, 200, []string{`"name":"u-edited"`, `"enabled":true`}},
		{"user name taken", "PATCH", user("u-edit"), admin, `{"user":{"name":"alice"}}`, 409, nil},
		{"user email", "PATCH", user("u-edit"), admin, `{"user":{"email":"a@b.c"}}`, 400, []string{`'email'`}},
		{"user default project", "PATCH", user("u-edit"), admin, `{"user":{"default_project_id":"x"}}`, 400, []string{`'default_project_id'`}},
		{"user empty password", "PATCH", user("u-edit"), admin, `{"user":{"password":""}}`, 400, nil},
		{"user long password", "PATCH", user("u-edit"), admin, `{"user":{"password":"` + strings.Repeat("x", 73) + `"}}`, 400, nil},
		{"user password number", "PATCH", user("u-edit"), admin, `{"user":{"password":7}}`, 400, nil},
		{"user missing", "PATCH", "/v3/users/nope", admin, `{"user":{"enabled":true}}`, 404, nil},
		{"user update as member", "PATCH", user("u-edit"), alice, `{"user":{"enabled":false}}`, 403, nil},
		{"user update self as member", "PATCH", user("alice"), alice, `{"user":{"password":"newpw"}}`, 403, nil},
		{"delete user as member", "DELETE", user("u-gone"), alice, nil, 403, nil},
		{"delete user", "DELETE", user("u-gone"), admin, nil, 204, nil},
		{"delete user again", "DELETE", user("u-gone"), admin, nil, 404, nil},

		{"change password wrong original", "POST", user("u-pw") + "/password", "", `{"user":{"original_password":"nope","password":"u-pw-new"}}`, 401, nil},
		{"change password no original", "POST", user("u-pw") + "/password", "", `{"user":{"password":"u-pw-new"}}`, 400, []string{`'original_password' is a required property`}},
		{"change password empty", "POST", user("u-pw") + "/password", "", `{"user":{"original_password":"u-pwpw","password":""}}`, 400, nil},
		{"change password extra", "POST", user("u-pw") + "/password", "", `{"user":{"original_password":"u-pwpw","password":"x","name":"y"}}`, 400, nil},
		{"change password malformed", "POST", user("u-pw") + "/password", "", `{"user":{`, 400, nil},
		{"change password unknown user", "POST", "/v3/users/nope/password", "", `{"user":{"original_password":"a","password":"b"}}`, 401, nil},
		{"change password", "POST", user("u-pw") + "/password", "", `{"user":{"original_password":"u-pwpw","password":"u-pw-new"}}`, 204, nil},
		{"change password old original", "POST", user("u-pw") + "/password", "", `{"user":{"original_password":"u-pwpw","password":"again"}}`, 401, nil},

		{"revoke role as member", "DELETE", role("demo", "u-role", "reader"), alice, nil, 403, nil},
		{"revoke role", "DELETE", role("demo", "u-role", "reader"), admin, nil, 204, nil},
		{"revoke role again", "DELETE", role("demo", "u-role", "reader"), admin, nil, 404, []string{"Could not find role assignment"}},
		{"revoke unknown role", "DELETE", role("demo", "u-role", "owner"), admin, nil, 404, nil},
		{"revoke role unknown user", "DELETE", proj("demo") + "/users/nobody/roles/reader", admin, nil, 404, nil},

		{"assignments", "GET", "/v3/role_assignments", admin, nil, 200, []string{`"role":{"id":"admin"}`, `"user":{"id":"` + f.ids["admin"] + `"}`}},
		{"assignments of user on project with names", "GET", "/v3/role_assignments?user.id=" + f.ids["bob"] + "&scope.project.id=" + f.ids["other"] + "&include_names=True", admin, nil, 200, []string{
			`"role":{"id":"member","name":"member"}`,
			`"user":{"id":"` + f.ids["bob"] + `","name":"bob","domain":{"id":"default","name":"Default"}}`,
			`"scope":{"project":{"id":"` + f.ids["other"] + `","name":"other","domain":{"id":"default","name":"Default"}}}`,
			`"links":{"assignment":"` + f.srv.URL + `/identity/v3/projects/` + f.ids["other"] + `/users/` + f.ids["bob"] + `/roles/member"}`,
		}},
		{"assignments by role", "GET", "/v3/role_assignments?role.id=reader&scope.project.id=" + f.ids["other"], admin, nil, 200, []string{`"user":{"id":"` + f.ids["u-role"] + `"}`}},
		{"assignments of a group", "GET", "/v3/role_assignments?group.id=g", admin, nil, 200, []string{`"role_assignments":[]`}},
		{"assignments of a domain", "GET", "/v3/role_assignments?scope.domain.id=default&effective=True", admin, nil, 200, []string{`"role_assignments":[]`}},
		{"assignments user and group", "GET", "/v3/role_assignments?user.id=a&group.id=g", admin, nil, 400, nil},
		{"own assignments as member", "GET", "/v3/role_assignments?user.id=" + f.ids["alice"], alice, nil, 200, []string{`"role":{"id":"member"}`}},
		{"all assignments as member", "GET", "/v3/role_assignments", alice, nil, 403, nil},
		{"assignments no token", "GET", "/v3/role_assignments", "", nil, 401, nil},
		{"roles listed", "GET", "/v3/roles", alice, nil, 200, []string{`"id":"reader"`, `"id":"observer"`, `"id":"creator"`}},
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
			if tt.want >= 400 {
				e := decode[keystoneError](t, body)
				if e.Error.Code != tt.want || e.Error.Title == "" || e.Error.Message == "" {
					t.Errorf("error body %s is not Keystone's shape", body)
				}
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(string(body), s) {
					t.Errorf("body %s lacks %s", body, s)
				}
			}
			for _, secret := range []string{"u-pw-new", "u-pwpw", "$2a$"} {
				if strings.Contains(string(body), secret) {
					t.Errorf("body echoes a password or hash: %s", body)
				}
			}
		})
	}
	// The new password works, the old one no longer does.
	f.login(t, "u-pw", "u-pw-new", "demo")
	if resp, _ := f.do(t, "POST", "/identity/v3/auth/tokens", v3Password("u-pw", "u-pwpw", "demo"), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with the old password = %d, want 401", resp.StatusCode)
	}
	// A renamed user logs in under its new name.
	f.login(t, "u-edited", "u-editpw", "demo")
	// The revoked role is gone; the same role on another project stays.
	if resp, _ := f.do(t, "POST", "/identity/v3/auth/tokens", v3Password("u-role", "u-rolepw", "demo"), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login on the project of the revoked role = %d, want 401", resp.StatusCode)
	}
	f.login(t, "u-role", "u-rolepw", "other")
	// A counter that fails is a 500 that tells nothing of the failure.
	f.owned.set(f.ids["p-broken"], model.ProjectResources{}, errors.New("database service: hidden detail"))
	resp, body := f.do(t, "DELETE", "/identity/v3/projects/"+f.ids["p-broken"], nil, map[string]string{"X-Auth-Token": admin})
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "hidden detail") {
		t.Errorf("delete with a failing counter = %d %s, want a 500 without the cause", resp.StatusCode, body)
	}
}

// TestRevocation checks that each change stops the tokens it must at once
// on the process that made it (whose validation cache knew them), and on
// another process sharing the store within the cache's TTL.
func TestRevocation(t *testing.T) {
	tests := []struct {
		name string
		// act makes the change as admin; projects are "demo" and "other"
		// and the victim is "victim", a member of both.
		act func(t *testing.T, f *fixture, admin string)
		// demo and other: whether the victim's tokens on each survive.
		demo, other bool
	}{
		{"delete user", func(t *testing.T, f *fixture, admin string) {
			f.expect(t, "DELETE", "/v3/users/"+f.ids["victim"], admin, nil, 204)
		}, false, false},
		{"disable user", func(t *testing.T, f *fixture, admin string) {
			f.expect(t, "PATCH", "/v3/users/"+f.ids["victim"], admin, `{"user":{"enabled":false}}`, 200)
		}, false, false},
		{"reset password", func(t *testing.T, f *fixture, admin string) {
			f.expect(t, "PATCH", "/v3/users/"+f.ids["victim"], admin, `{"user":{"password":"reset-pw"}}`, 200)
		}, false, false},
		{"change own password", func(t *testing.T, f *fixture, _ string) {
			f.expect(t, "POST", "/v3/users/"+f.ids["victim"]+"/password", "",
				`{"user":{"original_password":"victimpw","password":"changed-pw"}}`, 204)
		}, false, false},
		{"revoke role", func(t *testing.T, f *fixture, admin string) {
			f.expect(t, "DELETE", "/v3/projects/"+f.ids["demo"]+"/users/"+f.ids["victim"]+"/roles/member", admin, nil, 204)
		}, false, true},
		{"disable project", func(t *testing.T, f *fixture, admin string) {
			f.expect(t, "PATCH", "/v3/projects/"+f.ids["demo"], admin, `{"project":{"enabled":false}}`, 200)
		}, false, true},
		{"delete project", func(t *testing.T, f *fixture, admin string) {
			f.owned.set(f.ids["demo"], model.ProjectResources{}, nil)
			f.expect(t, "DELETE", "/v3/projects/"+f.ids["demo"], admin, nil, 204)
		}, false, true},
		{"rename user", func(t *testing.T, f *fixture, admin string) {
			f.expect(t, "PATCH", "/v3/users/"+f.ids["victim"], admin, `{"user":{"name":"renamed"}}`, 200)
		}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.mkUser(t, "victim", model.RoleMember, "demo", "other")
			// The admin acts with a token on "other", which survives a change to demo.
			if err := f.svc.GrantRole(t.Context(), f.ids["admin"], f.ids["other"], model.RoleAdmin); err != nil {
				t.Fatal(err)
			}
			admin := f.login(t, "admin", "secret", "other")
			demo := f.login(t, "victim", "victimpw", "demo")
			other := f.login(t, "victim", "victimpw", "other")
			// A second process over the same store, with its own cache.
			replica := New(f.st, Config{Now: f.clock.Now, TokenTTL: testTTL})
			for _, tok := range []string{demo, other} {
				for _, s := range []*Service{f.svc, replica} {
					if _, err := s.Authenticate(t.Context(), tok); err != nil { // warms the caches
						t.Fatal(err)
					}
				}
			}
			tt.act(t, f, admin)
			check := func(who string, s *Service, tok string, want bool) {
				t.Helper()
				_, err := s.Authenticate(t.Context(), tok)
				switch {
				case want && err != nil:
					t.Errorf("%s: token refused after %s: %v", who, tt.name, err)
				case !want && !fault.Is(err, fault.Unauthorized):
					t.Errorf("%s: token after %s: err %v, want Unauthorized", who, tt.name, err)
				}
			}
			check("this process, demo", f.svc, demo, tt.demo)
			check("this process, other", f.svc, other, tt.other)
			f.clock.Advance(DefaultValidationCacheTTL)
			check("other process after the cache TTL, demo", replica, demo, tt.demo)
			check("other process after the cache TTL, other", replica, other, tt.other)
		})
	}
}

// expect sends one identity request and fails the test on another status.
func (f *fixture) expect(t *testing.T, method, path, token string, body any, want int) {
	t.Helper()
	hdr := map[string]string{}
	if token != "" {
		hdr["X-Auth-Token"] = token
	}
	resp, b := f.do(t, method, "/identity"+path, body, hdr)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
}

// TestBadInputEveryRoute sends malformed requests to every route of the
// identity service's own table: each must answer with Keystone's error
// shape (or succeed), never a 5xx.
func TestBadInputEveryRoute(t *testing.T) {
	f := newFixture(t)
	admin := f.login(t, "admin", "secret", "demo")
	bodies := []string{"", "{", "[]", "null", `{"x":1}`, `{"user":1,"project":"x","auth":[]}`,
		`{"user":{"password":null,"name":7,"enabled":"no"},"project":{"name":{}}}`, "\xff\xfe", strings.Repeat("[", 70000)}
	segments := []string{"nope", "%00", "%E2%80%AE", strings.Repeat("a", 300)}
	tokens := []string{"", admin, "garbage"}
	routes := f.svc.routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes in the table", len(routes))
	}
	n := 0
	for _, rt := range routes {
		for _, seg := range segments {
			path := Prefix + fillPattern(rt.path, seg)
			for method := range rt.methods {
				for _, tok := range tokens {
					for _, body := range bodies {
						var b any
						if body != "" {
							b = body
						}
						hdr := map[string]string{"X-Subject-Token": "garbage"}
						if tok != "" {
							hdr["X-Auth-Token"] = tok
						}
						resp, out := f.do(t, method, path, b, hdr)
						n++
						if resp.StatusCode >= 500 {
							t.Errorf("%s %s (body %.20q) = %d: %s", method, path, body, resp.StatusCode, out)
							continue
						}
						if resp.StatusCode >= 400 && method != http.MethodHead {
							e := decode[keystoneError](t, out)
							if e.Error.Code != resp.StatusCode || e.Error.Title == "" || e.Error.Message == "" {
								t.Errorf("%s %s = %d with body %s, not Keystone's error shape", method, path, resp.StatusCode, out)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d requests over %d routes", n, len(routes))
}

// fillPattern replaces every {wildcard} of a ServeMux pattern with seg
// ({$} with nothing).
func fillPattern(pattern, seg string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		j := strings.IndexByte(pattern[i:], '}')
		b.WriteString(pattern[:i])
		if pattern[i:i+j+1] != "{$}" {
			b.WriteString(seg)
		}
		pattern = pattern[i+j+1:]
	}
}
