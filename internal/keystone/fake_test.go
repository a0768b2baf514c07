package keystone

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock shared by the fake Keystone and the client.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeToken is one token the fake Keystone issued.
type fakeToken struct {
	userID, userName, projectID, projectName string
	roles                                    []string
	expires                                  time.Time
	service                                  bool // a service token (may validate others)
}

// fakeKeystone serves the parts of Keystone v3 the client uses: password
// login of the service user, token validation, services, regions and
// endpoints. Tokens expire on the shared clock; revoked tokens are
// forgotten (Keystone answers 404 for both).
type fakeKeystone struct {
	t     *testing.T
	clock *fakeClock
	srv   *httptest.Server

	mu          sync.Mutex
	tokens      map[string]*fakeToken
	next        int
	logins      int // successful service logins
	validations int // validation requests, answered or not
	down        int // when not 0, every request gets this status
	svcTTL      time.Duration
	services    []map[string]any
	regions     map[string]bool
	endpoints   []map[string]any
}

const (
	svcUser     = "hoard"
	svcPassword = "svc-secret-pw"
	svcProject  = "service"
)

func newFakeKeystone(t *testing.T, clock *fakeClock) *fakeKeystone {
	f := &fakeKeystone{t: t, clock: clock, tokens: map[string]*fakeToken{}, svcTTL: time.Hour, regions: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// issue adds a user token and returns its text.
func (f *fakeKeystone) issue(tok fakeToken) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	s := fmt.Sprintf("gAAAAAB-token-%d", f.next)
	if tok.expires.IsZero() {
		tok.expires = f.clock.Now().Add(time.Hour)
	}
	f.tokens[s] = &tok
	return s
}

// revoke forgets a token (or every service token when s is "service").
func (f *fakeKeystone) revoke(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, tok := range f.tokens {
		if k == s || s == "service" && tok.service {
			delete(f.tokens, k)
		}
	}
}

func (f *fakeKeystone) setDown(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = status
}

func (f *fakeKeystone) counts() (logins, validations int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.validations
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func keystoneError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg}})
}

// valid returns the unexpired token s; the lock is held.
func (f *fakeKeystone) valid(s string) *fakeToken {
	tok, ok := f.tokens[s]
	if !ok || !f.clock.Now().Before(tok.expires) {
		return nil
	}
	return tok
}

func (f *fakeKeystone) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/v3/auth/tokens" && r.Method == http.MethodGet {
		f.validations++
	}
	if f.down != 0 {
		keystoneError(w, f.down, "down")
		return
	}
	if r.URL.Path == "/v3/auth/tokens" && r.Method == http.MethodPost {
		f.login(w, r)
		return
	}
	caller := f.valid(r.Header.Get("X-Auth-Token"))
	if caller == nil {
		keystoneError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
		return
	}
	switch {
	case r.URL.Path == "/v3/auth/tokens" && r.Method == http.MethodGet:
		if _, ok := r.URL.Query()["nocatalog"]; !ok {
			f.t.Errorf("validation without ?nocatalog: %s", r.URL)
		}
		tok := f.valid(r.Header.Get("X-Subject-Token"))
		if tok == nil {
			keystoneError(w, http.StatusNotFound, "Could not recognize Fernet token")
			return
		}
		roles := []map[string]string{}
		for _, name := range tok.roles {
			roles = append(roles, map[string]string{"id": "id-" + name, "name": name})
		}
		body := map[string]any{
			"methods":    []string{"password"},
			"user":       map[string]any{"id": tok.userID, "name": tok.userName, "domain": map[string]string{"id": "default", "name": "Default"}},
			"expires_at": tok.expires.UTC().Format("2006-01-02T15:04:05.000000Z"),
			"roles":      roles,
		}
		if tok.projectID != "" {
			body["project"] = map[string]any{"id": tok.projectID, "name": tok.projectName}
		}
		writeJSON(w, http.StatusOK, map[string]any{"token": body})
	case !caller.service:
		keystoneError(w, http.StatusForbidden, "You are not authorized to perform the requested action.")
	default:
		f.catalog(w, r)
	}
}

func (f *fakeKeystone) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Auth struct {
			Identity struct {
				Methods  []string `json:"methods"`
				Password struct {
					User struct {
						Name     string `json:"name"`
						Password string `json:"password"`
						Domain   struct {
							Name string `json:"name"`
						} `json:"domain"`
					} `json:"user"`
				} `json:"password"`
			} `json:"identity"`
			Scope struct {
				Project struct {
					Name   string `json:"name"`
					Domain struct {
						Name string `json:"name"`
					} `json:"domain"`
				} `json:"project"`
			} `json:"scope"`
		} `json:"auth"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		keystoneError(w, http.StatusBadRequest, "bad body")
		return
	}
	u, p := req.Auth.Identity.Password.User, req.Auth.Scope.Project
	if u.Name != svcUser || u.Password != svcPassword || u.Domain.Name != DefaultDomain ||
		p.Name != svcProject || p.Domain.Name != DefaultDomain {
		keystoneError(w, http.StatusUnauthorized, "The request you have made requires authentication.")
		return
	}
	f.next++
	s := fmt.Sprintf("gAAAAAB-service-%d", f.next)
	exp := f.clock.Now().Add(f.svcTTL)
	f.tokens[s] = &fakeToken{userID: "u-hoard", userName: svcUser, projectID: "p-service", roles: []string{"service", "admin"}, expires: exp, service: true}
	f.logins++
	w.Header().Set("X-Subject-Token", s)
	writeJSON(w, http.StatusCreated, map[string]any{"token": map[string]any{"expires_at": exp.UTC().Format(time.RFC3339Nano)}})
}

// catalog serves services, regions and endpoints; the lock is held.
func (f *fakeKeystone) catalog(w http.ResponseWriter, r *http.Request) {
	var body map[string]map[string]any
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPatch) {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			keystoneError(w, http.StatusBadRequest, "bad body")
			return
		}
	}
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v3/services":
		out := []map[string]any{}
		for _, s := range f.services {
			if q.Get("type") == "" || s["type"] == q.Get("type") {
				out = append(out, s)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"services": out})
	case r.Method == http.MethodPost && r.URL.Path == "/v3/services":
		s := body["service"]
		s["id"] = fmt.Sprintf("svc-%d", len(f.services)+1)
		f.services = append(f.services, s)
		writeJSON(w, http.StatusCreated, map[string]any{"service": s})
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v3/regions/"):
		id := strings.TrimPrefix(r.URL.Path, "/v3/regions/")
		if !f.regions[id] {
			keystoneError(w, http.StatusNotFound, "Could not find region")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"region": map[string]any{"id": id}})
	case r.Method == http.MethodPost && r.URL.Path == "/v3/regions":
		f.regions[body["region"]["id"].(string)] = true
		writeJSON(w, http.StatusCreated, body)
	case r.Method == http.MethodGet && r.URL.Path == "/v3/endpoints":
		out := []map[string]any{}
		for _, e := range f.endpoints {
			if q.Get("service_id") == "" || e["service_id"] == q.Get("service_id") {
				out = append(out, e)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"endpoints": out})
	case r.Method == http.MethodPost && r.URL.Path == "/v3/endpoints":
		e := body["endpoint"]
		if !f.regions[e["region_id"].(string)] {
			keystoneError(w, http.StatusBadRequest, "Invalid region")
			return
		}
		e["id"] = fmt.Sprintf("ep-%d", len(f.endpoints)+1)
		f.endpoints = append(f.endpoints, e)
		writeJSON(w, http.StatusCreated, map[string]any{"endpoint": e})
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/v3/endpoints/"):
		id := strings.TrimPrefix(r.URL.Path, "/v3/endpoints/")
		for _, e := range f.endpoints {
			if e["id"] == id {
				for k, v := range body["endpoint"] {
					e[k] = v
				}
				writeJSON(w, http.StatusOK, map[string]any{"endpoint": e})
				return
			}
		}
		keystoneError(w, http.StatusNotFound, "Could not find endpoint")
	default:
		keystoneError(w, http.StatusNotFound, "no route")
	}
}
