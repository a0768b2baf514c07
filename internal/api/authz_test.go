package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/identity"
	"github.com/hoard-db/hoard/internal/model"
)

// access is what a route needs.
type access int

const (
	public access = iota // no token at all
	read                 // any role that reads: reader, observer, member, creator, admin
	write                // a role that changes: member, creator, admin
)

// routeAccess classifies EVERY route of the router. A route added to the
// router and not here fails TestAuthorizationEveryRoute: decide what it
// needs and add it.
var routeAccess = map[string]access{
	"GET /{$}":         public,
	"GET /v1.0":        public,
	"GET /v1.0/{$}":    public,
	"GET /healthcheck": public,
	"GET /metrics":     public,
	"/identity/":       public, // the identity service authorizes its own calls

	"GET /v1.0/{tenant}/flavors":                                        read,
	"GET /v1.0/{tenant}/flavors/{id}":                                   read,
	"GET /v1.0/{tenant}/datastores":                                     read,
	"GET /v1.0/{tenant}/datastores/{ds}":                                read,
	"GET /v1.0/{tenant}/datastores/{a}/{b}":                             read,
	"GET /v1.0/{tenant}/datastores/{ds}/versions/{v}":                   read,
	"GET /v1.0/{tenant}/datastores/{ds}/versions/{v}/flavors":           read,
	"GET /v1.0/{tenant}/datastores/{ds}/versions/{v}/parameters":        read,
	"GET /v1.0/{tenant}/datastores/{ds}/versions/{v}/parameters/{name}": read,
	"GET /v1.0/{tenant}/datastores/{a}/{b}/{c}":                         read,
	"GET /v1.0/{tenant}/datastores/{a}/{b}/{c}/{d}":                     read,

	"GET /v1.0/{tenant}/configurations":                read,
	"POST /v1.0/{tenant}/configurations":               write,
	"GET /v1.0/{tenant}/configurations/{id}":           read,
	"PUT /v1.0/{tenant}/configurations/{id}":           write,
	"PATCH /v1.0/{tenant}/configurations/{id}":         write,
	"DELETE /v1.0/{tenant}/configurations/{id}":        write,
	"GET /v1.0/{tenant}/configurations/{id}/instances": read,
	"GET /v1.0/{tenant}/instances/{id}/configuration":  read,

	"GET /v1.0/{tenant}/instances":               read,
	"POST /v1.0/{tenant}/instances":              write,
	"GET /v1.0/{tenant}/instances/detail":        read,
	"GET /v1.0/{tenant}/instances/{id}":          read,
	"PUT /v1.0/{tenant}/instances/{id}":          write,
	"PATCH /v1.0/{tenant}/instances/{id}":        write,
	"DELETE /v1.0/{tenant}/instances/{id}":       write,
	"POST /v1.0/{tenant}/instances/{id}/action":  write,
	"GET /v1.0/{tenant}/instances/{id}/replicas": read,
	// A POST on a log also shows it (Trove's guest_log_action), but as
	// every POST it is a change: readers list the logs.
	"GET /v1.0/{tenant}/instances/{id}/log":  read,
	"POST /v1.0/{tenant}/instances/{id}/log": write,
	// The Swift-compatible view of the published logs (swift.go).
	"GET /v1.0/{tenant}/swift/{container}":             read,
	"GET /v1.0/{tenant}/swift/{container}/{object...}": read,
	"POST /v1.0/{tenant}/instances/{id}/root":          write,
	"GET /v1.0/{tenant}/instances/{id}/root":           read,
	"DELETE /v1.0/{tenant}/instances/{id}/root":        write,
	"POST /v1.0/{tenant}/instances/{id}/databases":     write,
	"GET /v1.0/{tenant}/instances/{id}/databases":      read,
	"GET /v1.0/{tenant}/instances/{id}/ca":             read,

	"GET /v1.0/{tenant}/instances/{id}/databases/{name}":               read,
	"DELETE /v1.0/{tenant}/instances/{id}/databases/{name}":            write,
	"POST /v1.0/{tenant}/instances/{id}/users":                         write,
	"GET /v1.0/{tenant}/instances/{id}/users":                          read,
	"PUT /v1.0/{tenant}/instances/{id}/users":                          write,
	"GET /v1.0/{tenant}/instances/{id}/users/{name}":                   read,
	"PUT /v1.0/{tenant}/instances/{id}/users/{name}":                   write,
	"DELETE /v1.0/{tenant}/instances/{id}/users/{name}":                write,
	"GET /v1.0/{tenant}/instances/{id}/users/{name}/databases":         read,
	"PUT /v1.0/{tenant}/instances/{id}/users/{name}/databases":         write,
	"DELETE /v1.0/{tenant}/instances/{id}/users/{name}/databases/{db}": write,

	"GET /v1.0/{tenant}/backups":                      read,
	"POST /v1.0/{tenant}/backups":                     write,
	"GET /v1.0/{tenant}/backups/{id}":                 read,
	"GET /v1.0/{tenant}/limits":                       read,
	"GET /v1.0/{tenant}/ha":                           read,
	"POST /v1.0/{tenant}/ha":                          write,
	"GET /v1.0/{tenant}/ha/{id}":                      read,
	"DELETE /v1.0/{tenant}/ha/{id}":                   write,
	"PATCH /v1.0/{tenant}/ha/{id}":                    write,
	"POST /v1.0/{tenant}/ha/{id}/action":              write,
	"GET /v1.0/{tenant}/ha/{id}/acls":                 read,
	"POST /v1.0/{tenant}/ha/{id}/acls":                write,
	"DELETE /v1.0/{tenant}/ha/{id}/acls/{address...}": write,
	"GET /v1.0/{tenant}/ha/{id}/backups":              read,
	"GET /v1.0/{tenant}/mgmt/quotas/{project}":        read,  // a member sees their own project's; admins any
	"PUT /v1.0/{tenant}/mgmt/quotas/{project}":        write, // and then admins only (the handler)
	"DELETE /v1.0/{tenant}/backups/{id}":              write,
	"GET /v1.0/{tenant}/instances/{id}/backups":       read,
	"GET /v1.0/{tenant}/schedules":                    read,
	"POST /v1.0/{tenant}/schedules":                   write,
	"GET /v1.0/{tenant}/schedules/{id}":               read,
	"PUT /v1.0/{tenant}/schedules/{id}":               write,
	"DELETE /v1.0/{tenant}/schedules/{id}":            write,
}

// TestAuthorizationEveryRoute sends a request to every route of the
// router with a token of each role and checks that the role check lets
// it through or refuses it as the route's access says.
func TestAuthorizationEveryRoute(t *testing.T) {
	h := newHarness(t, Config{Metrics: http.NotFoundHandler(), Identity: http.NotFoundHandler()})
	auth := newFakeAuth()
	roles := map[string][]string{ // token → roles, each on its own project
		"reader":        {model.RoleReader},
		"observer":      {model.RoleObserver},
		"member":        {model.RoleMember},
		"creator":       {model.RoleCreator},
		"admin":         {model.RoleAdmin},
		"reader+member": {model.RoleReader, model.RoleMember},
		"unknown-role":  {"load-balancer_member"},
		"no-role":       {},
	}
	for tok, rs := range roles {
		auth[tok] = &identity.Principal{UserID: "u-" + tok, ProjectID: "p-" + tok, Roles: rs}
	}
	h.srv = New(Config{Metrics: http.NotFoundHandler(), Identity: http.NotFoundHandler(), Now: h.clock.Now}, h.fb, auth)

	allowed := func(a access, rs []string) bool {
		has := func(names ...string) bool {
			return slices.ContainsFunc(rs, func(r string) bool { return slices.Contains(names, r) })
		}
		switch a {
		case public:
			return true
		case read:
			return has(model.RoleReader, model.RoleObserver, model.RoleMember, model.RoleCreator, model.RoleAdmin)
		}
		return has(model.RoleMember, model.RoleCreator, model.RoleAdmin)
	}

	for _, p := range h.srv.patterns {
		if _, ok := routeAccess[p]; !ok {
			t.Errorf("route %q is not in routeAccess: decide which roles may use it and add it", p)
		}
	}
	for p := range routeAccess {
		if !slices.Contains(h.srv.patterns, p) {
			t.Errorf("routeAccess lists %q, which the router does not serve", p)
		}
	}
	for _, pattern := range h.srv.patterns {
		a := routeAccess[pattern]
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			method, path = http.MethodGet, pattern
		}
		for tok, rs := range roles {
			t.Run(pattern+" as "+tok, func(t *testing.T) {
				p := strings.ReplaceAll(path, "{tenant}", auth[tok].ProjectID)
				p = strings.ReplaceAll(p, "{$}", "")
				for strings.Contains(p, "{") {
					i, j := strings.Index(p, "{"), strings.Index(p, "}")
					p = p[:i] + "x" + p[j+1:]
				}
				body := ""
				if method != http.MethodGet {
					body = "{}"
				}
				resp := h.do(method, p, body, "X-Auth-Token", tok)
				want := allowed(a, rs)
				denied := resp.status == http.StatusForbidden &&
					(strings.Contains(resp.body, errReadOnlyRole) || strings.Contains(resp.body, errNoRole))
				switch {
				case want && (denied || resp.status == http.StatusUnauthorized):
					t.Errorf("%s %s as %s = %d %s, want it let through", method, p, tok, resp.status, resp.body)
				case !want && !denied:
					t.Errorf("%s %s as %s = %d %s, want 403 for the role", method, p, tok, resp.status, resp.body)
				}
			})
		}
	}
}

// TestAuthorizeHead: HEAD reads, as GET.
func TestAuthorizeHead(t *testing.T) {
	for _, tt := range []struct {
		method string
		roles  []string
		ok     bool
	}{
		{http.MethodHead, []string{model.RoleReader}, true},
		{http.MethodGet, []string{model.RoleObserver}, true},
		{http.MethodPost, []string{model.RoleObserver}, false},
		{http.MethodOptions, []string{model.RoleReader}, false},
		{http.MethodDelete, []string{model.RoleCreator}, true},
		{http.MethodGet, nil, false},
	} {
		err := authorize(&identity.Principal{Roles: tt.roles}, tt.method)
		if (err == nil) != tt.ok {
			t.Errorf("authorize(%v, %s) = %v, want ok %v", tt.roles, tt.method, err, tt.ok)
		}
	}
}
