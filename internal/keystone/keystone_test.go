package keystone

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/api"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

func newTestClient(t *testing.T, f *fakeKeystone, clock *fakeClock, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		URL:             f.srv.URL + "/v3/",
		ServiceUser:     svcUser,
		ServicePassword: svcPassword,
		ServiceProject:  svcProject,
		Now:             clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func TestNewChecksConfig(t *testing.T) {
	ok := Config{URL: "http://127.0.0.1:5000", ServiceUser: "u", ServicePassword: "pw-Secret-1", ServiceProject: "s"}
	tests := []struct {
		name string
		mod  func(*Config)
		base string // "" when New must fail
	}{
		{"plain", func(*Config) {}, "http://127.0.0.1:5000"},
		{"with /v3", func(c *Config) { c.URL = "https://ks.example.com/identity/v3/" }, "https://ks.example.com/identity"},
		{"no scheme", func(c *Config) { c.URL = "127.0.0.1:5000" }, ""},
		{"ftp", func(c *Config) { c.URL = "ftp://x" }, ""},
		{"credentials in URL", func(c *Config) { c.URL = "http://u:pw-Secret-1@x" }, ""},
		{"no user", func(c *Config) { c.ServiceUser = "" }, ""},
		{"no password", func(c *Config) { c.ServicePassword = "" }, ""},
		{"no project", func(c *Config) { c.ServiceProject = "" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			c, err := New(cfg)
			if tt.base == "" {
				if err == nil {
					t.Fatalf("New accepted %+v", cfg)
				}
				if strings.Contains(err.Error(), cfg.ServicePassword) && cfg.ServicePassword != "" {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.base != tt.base {
				t.Errorf("base = %q, want %q", c.base, tt.base)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	clock := newClock()
	f := newFakeKeystone(t, clock)
	c := newTestClient(t, f, clock, nil)
	ctx := context.Background()

	valid := f.issue(fakeToken{userID: "u1", userName: "alice", projectID: "p1", projectName: "team", roles: []string{"Member", "reader"}})
	expired := f.issue(fakeToken{userID: "u1", projectID: "p1", roles: []string{"member"}, expires: clock.Now().Add(-time.Second)})

	tests := []struct {
		name  string
		token string
		kind  fault.Kind // 0 (Internal) for success
	}{
		{"valid", valid, 0},
		{"expired", expired, fault.Unauthorized},
		{"unknown", "gAAAAAB-nonsense", fault.Unauthorized},
		{"implausible", "two words", fault.Unauthorized},
		{"empty", "", fault.Unauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := c.Authenticate(ctx, tt.token)
			if tt.kind != 0 {
				if fault.KindOf(err) != tt.kind {
					t.Fatalf("err = %v (kind %v), want kind %v", err, fault.KindOf(err), tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.UserID != "u1" || p.UserName != "alice" || p.ProjectID != "p1" || p.ProjectName != "team" {
				t.Errorf("principal = %+v", p)
			}
			if !slices.Equal(p.Roles, []string{"member", "reader"}) {
				t.Errorf("roles = %v, want lower-cased [member reader]", p.Roles)
			}
		})
	}
}

func TestRevokedTokenStopsWithinCacheTTL(t *testing.T) {
	clock := newClock()
	f := newFakeKeystone(t, clock)
	c := newTestClient(t, f, clock, func(cfg *Config) { cfg.CacheTTL = 10 * time.Second })
	ctx := context.Background()
	tok := f.issue(fakeToken{userID: "u1", projectID: "p1", roles: []string{"member"}})

	if _, err := c.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, v := f.counts(); v != 1 {
		t.Errorf("validations = %d, want 1 (the second from the cache)", v)
	}
	f.revoke(tok)
	clock.Advance(10 * time.Second)
	if _, err := c.Authenticate(ctx, tok); fault.KindOf(err) != fault.Unauthorized {
		t.Fatalf("revoked token after the cache time: err = %v, want Unauthorized", err)
	}
}

func TestCacheNeverOutlivesToken(t *testing.T) {
	clock := newClock()
	f := newFakeKeystone(t, clock)
	c := newTestClient(t, f, clock, func(cfg *Config) { cfg.CacheTTL = time.Hour })
	tok := f.issue(fakeToken{userID: "u1", projectID: "p1", roles: []string{"member"}, expires: clock.Now().Add(5 * time.Second)})
	if _, err := c.Authenticate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Second)
	if _, err := c.Authenticate(context.Background(), tok); fault.KindOf(err) != fault.Unauthorized {
		t.Fatalf("expired token: err = %v, want Unauthorized", err)
	}
}

func TestKeystoneDown(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fakeKeystone, cfg *Config)
	}{
		{"5xx", func(f *fakeKeystone, _ *Config) { f.setDown(http.StatusInternalServerError) }},
		{"503", func(f *fakeKeystone, _ *Config) { f.setDown(http.StatusServiceUnavailable) }},
		{"unreachable", func(f *fakeKeystone, _ *Config) { f.srv.Close() }},
		{"wrong service password", func(_ *fakeKeystone, cfg *Config) { cfg.ServicePassword = "wrong" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			f := newFakeKeystone(t, clock)
			tok := f.issue(fakeToken{userID: "u1", projectID: "p1", roles: []string{"member"}})
			c := newTestClient(t, f, clock, func(cfg *Config) { tt.setup(f, cfg) })
			_, err := c.Authenticate(context.Background(), tok)
			if fault.KindOf(err) != fault.Unavailable {
				t.Fatalf("err = %v (kind %v), want Unavailable", err, fault.KindOf(err))
			}
			if msg := fault.Message(err); strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "wrong") {
				t.Errorf("public message shows internals: %q", msg)
			}
		})
	}
}

func TestServiceTokenRenewal(t *testing.T) {
	clock := newClock()
	f := newFakeKeystone(t, clock)
	c := newTestClient(t, f, clock, func(cfg *Config) { cfg.CacheTTL = -1 })
	ctx := context.Background()
	tok := f.issue(fakeToken{userID: "u1", projectID: "p1", roles: []string{"member"}, expires: clock.Now().Add(10 * time.Hour)})
	auth := func() {
		t.Helper()
		if _, err := c.Authenticate(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name   string
		do     func()
		logins int
	}{
		{"first use logs in", func() {}, 1},
		{"reused while fresh", func() {}, 1},
		{"still fresh at half its life", func() { clock.Advance(30 * time.Minute) }, 1},
		{"renewed at three quarters", func() { clock.Advance(16 * time.Minute) }, 2},
		{"renewed when Keystone revokes it", func() { f.revoke("service") }, 3},
		{"renewed after it expired", func() { clock.Advance(2 * time.Hour) }, 4},
	}
	for _, st := range steps {
		st.do()
		auth()
		if l, _ := f.counts(); l != st.logins {
			t.Fatalf("%s: logins = %d, want %d", st.name, l, st.logins)
		}
	}
}

func TestRoleMapping(t *testing.T) {
	tests := []struct {
		roles              []string
		read, write, admin bool
	}{
		{[]string{"reader"}, true, false, false},
		{[]string{"observer"}, true, false, false},
		{[]string{"member"}, true, true, false},
		{[]string{"Member"}, true, true, false},
		{[]string{"_member_"}, true, true, false},
		{[]string{"creator"}, true, true, false},
		{[]string{"admin", "member", "reader"}, true, true, true},
		{[]string{"Admin"}, true, true, true},
		{[]string{"service"}, false, false, false},
		{nil, false, false, false},
	}
	clock := newClock()
	f := newFakeKeystone(t, clock)
	c := newTestClient(t, f, clock, nil)
	for _, tt := range tests {
		t.Run(strings.Join(tt.roles, ","), func(t *testing.T) {
			tok := f.issue(fakeToken{userID: "u1", projectID: "p1", roles: tt.roles})
			p, err := c.Authenticate(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if p.CanRead() != tt.read || p.CanWrite() != tt.write || p.IsAdmin() != tt.admin {
				t.Errorf("read, write, admin = %v, %v, %v; want %v, %v, %v",
					p.CanRead(), p.CanWrite(), p.IsAdmin(), tt.read, tt.write, tt.admin)
			}
		})
	}
}

// flavorsOnly serves the flavor list; hoard's API calls nothing else of
// it in these tests.
type flavorsOnly struct{ api.Backend }

func (flavorsOnly) ListFlavors(context.Context) ([]model.Flavor, error) { return nil, nil }

// TestAPIThroughKeystone runs hoard's API with the client as its
// Authenticator: the statuses a client of hoard sees.
func TestAPIThroughKeystone(t *testing.T) {
	clock := newClock()
	f := newFakeKeystone(t, clock)
	c := newTestClient(t, f, clock, func(cfg *Config) { cfg.CacheTTL = -1 })
	srv := httptest.NewServer(api.New(api.Config{}, flavorsOnly{}, c).Handler())
	defer srv.Close()

	member := f.issue(fakeToken{userID: "u1", projectID: "p1", roles: []string{"member"}})
	reader := f.issue(fakeToken{userID: "u2", projectID: "p1", roles: []string{"reader"}})
	tests := []struct {
		name, method, tenant, token string
		down                        int
		want                        int
		fault                       string
	}{
		{"member reads", http.MethodGet, "p1", member, 0, http.StatusOK, ""},
		{"reader reads", http.MethodGet, "p1", reader, 0, http.StatusOK, ""},
		{"other project", http.MethodGet, "p2", member, 0, http.StatusForbidden, "forbidden"},
		{"unknown token", http.MethodGet, "p1", "gAAAAAB-unknown", 0, http.StatusUnauthorized, "unauthorized"},
		{"keystone failing", http.MethodGet, "p1", member, http.StatusInternalServerError, http.StatusServiceUnavailable, "serviceUnavailable"},
		{"keystone overloaded", http.MethodGet, "p1", member, http.StatusServiceUnavailable, http.StatusServiceUnavailable, "serviceUnavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.setDown(tt.down)
			defer f.setDown(0)
			req, _ := http.NewRequest(tt.method, srv.URL+"/v1.0/"+tt.tenant+"/flavors", nil)
			req.Header.Set("X-Auth-Token", tt.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.fault == "" {
				return
			}
			var body map[string]json.RawMessage
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if _, ok := body[tt.fault]; !ok || len(body) != 1 {
				t.Errorf("fault body %v, want the key %q", body, tt.fault)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	clock := newClock()
	f := newFakeKeystone(t, clock)
	c := newTestClient(t, f, clock, nil)
	ctx := context.Background()
	urls := func() map[string]string {
		f.mu.Lock()
		defer f.mu.Unlock()
		m := map[string]string{}
		for _, e := range f.endpoints {
			m[e["interface"].(string)+"@"+e["region_id"].(string)] = e["url"].(string)
		}
		return m
	}
	steps := []struct {
		name, url, region string
		want              map[string]string
	}{
		{"first start", "http://db.example.com:8779", "RegionOne", map[string]string{
			"public@RegionOne":   "http://db.example.com:8779/v1.0/%(tenant_id)s",
			"internal@RegionOne": "http://db.example.com:8779/v1.0/%(tenant_id)s",
			"admin@RegionOne":    "http://db.example.com:8779/v1.0/%(tenant_id)s",
		}},
		{"restart: nothing new", "http://db.example.com:8779", "RegionOne", nil},
		{"moved: corrected", "https://db2.example.com", "RegionOne", map[string]string{
			"public@RegionOne":   "https://db2.example.com/v1.0/%(tenant_id)s",
			"internal@RegionOne": "https://db2.example.com/v1.0/%(tenant_id)s",
			"admin@RegionOne":    "https://db2.example.com/v1.0/%(tenant_id)s",
		}},
	}
	var last map[string]string
	for _, st := range steps {
		if err := c.Register(ctx, st.url, st.region); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want := st.want
		if want == nil {
			want = last
		}
		got := urls()
		if len(got) != len(want) || len(f.endpoints) != len(want) {
			t.Fatalf("%s: endpoints %v, want %v", st.name, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: endpoint %s = %q, want %q", st.name, k, got[k], v)
			}
		}
		if len(f.services) != 1 || f.services[0]["type"] != ServiceType {
			t.Errorf("%s: services %v, want one of type %s", st.name, f.services, ServiceType)
		}
		last = want
	}
}

func TestRegisterRefused(t *testing.T) {
	clock := newClock()
	f := newFakeKeystone(t, clock)
	c := newTestClient(t, f, clock, nil)
	f.setDown(http.StatusForbidden)
	err := c.Register(context.Background(), "http://db.example.com", "RegionOne")
	if err == nil || strings.Contains(err.Error(), svcPassword) {
		t.Fatalf("err = %v, want a refusal without the password", err)
	}
}
