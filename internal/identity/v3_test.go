package identity

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/fault"
)

type v3Resp struct {
	Token struct {
		Methods   []string `json:"methods"`
		ExpiresAt string   `json:"expires_at"`
		IssuedAt  string   `json:"issued_at"`
		User      struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			Domain struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"domain"`
		} `json:"user"`
		Project *struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"project"`
		Roles []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"roles"`
		Catalog []struct {
			Type      string `json:"type"`
			Name      string `json:"name"`
			Endpoints []struct {
				Interface string `json:"interface"`
				Region    string `json:"region"`
				RegionID  string `json:"region_id"`
				URL       string `json:"url"`
			} `json:"endpoints"`
		} `json:"catalog"`
	} `json:"token"`
}

func TestV3Issue(t *testing.T) {
	f := newFixture(t)
	userByID := func(name, pw string, scope any) map[string]any {
		auth := map[string]any{"identity": map[string]any{
			"methods":  []string{"password"},
			"password": map[string]any{"user": map[string]any{"id": f.ids[name], "password": pw}},
		}}
		if scope != nil {
			auth["scope"] = scope
		}
		return map[string]any{"auth": auth}
	}
	byDomainID := `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"secret"}}},"scope":{"project":{"name":"demo","domain":{"id":"default"}}}}}`
	tests := []struct {
		name        string
		body        any
		wantStatus  int
		wantUser    string
		wantProject string // "" for unscoped
		wantRoles   []string
	}{
		{"by name, domain name", v3Password("admin", "secret", "demo"), 201, "admin", "demo", []string{"admin"}},
		{"by name, domain id", byDomainID, 201, "admin", "demo", []string{"admin"}},
		{"user by id, project by id", userByID("alice", "alicepw", map[string]any{"project": map[string]any{"id": f.ids["demo"]}}), 201, "alice", "demo", []string{"member"}},
		{"unscoped, one project", v3Password("alice", "alicepw", ""), 201, "alice", "demo", []string{"member"}},
		{"unscoped, two projects", v3Password("bob", "bobpw", ""), 201, "bob", "", nil},
		{"explicitly unscoped", userByID("alice", "alicepw", "unscoped"), 201, "alice", "", nil},
		{"empty scope object", userByID("alice", "alicepw", map[string]any{}), 201, "alice", "", nil},
		{"second project", v3Password("bob", "bobpw", "other"), 201, "bob", "other", []string{"member"}},
		{"wrong password", v3Password("admin", "wrong", "demo"), 401, "", "", nil},
		{"empty password", v3Password("admin", "", "demo"), 401, "", "", nil},
		{"unknown user", v3Password("nobody", "secret", "demo"), 401, "", "", nil},
		{"disabled user", v3Password("dave", "davepw", "demo"), 401, "", "", nil},
		{"no role on project", v3Password("alice", "alicepw", "other"), 401, "", "", nil},
		{"unknown project", v3Password("alice", "alicepw", "nope"), 401, "", "", nil},
		{"disabled project", v3Password("carol", "carolpw", "off"), 401, "", "", nil},
		{"other domain", strings.Replace(byDomainID, `"user":{"name":"admin","domain":{"id":"default"}`, `"user":{"name":"admin","domain":{"id":"elsewhere"}`, 1), 401, "", "", nil},
		{"project in other domain", strings.Replace(byDomainID, `"name":"demo","domain":{"id":"default"}`, `"name":"demo","domain":{"name":"Other"}`, 1), 401, "", "", nil},
		{"domain scope", userByID("alice", "alicepw", map[string]any{"domain": map[string]any{"id": "default"}}), 401, "", "", nil},
		{"unsupported method", `{"auth":{"identity":{"methods":["totp"]}}}`, 401, "", "", nil},
		{"malformed JSON", `{"auth":`, 400, "", "", nil},
		{"wrong type", `{"auth":{"identity":{"methods":"password"}}}`, 400, "", "", nil},
		{"no identity", `{"auth":{}}`, 400, "", "", nil},
		{"no user", `{"auth":{"identity":{"methods":["password"],"password":{}}}}`, 400, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, "POST", "/identity/v3/auth/tokens", tt.body, nil)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("POST /v3/auth/tokens = %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus != 201 {
				e := decode[keystoneError](t, body)
				if e.Error.Code != tt.wantStatus || e.Error.Title == "" || e.Error.Message == "" {
					t.Errorf("error body = %s", body)
				}
				if resp.Header.Get("X-Subject-Token") != "" {
					t.Error("failed login returned a token")
				}
				return
			}
			tok := resp.Header.Get("X-Subject-Token")
			if raw, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(raw) != 32 {
				t.Errorf("token %d chars is not 32 base64url bytes (err %v)", len(tok), err)
			}
			got := decode[v3Resp](t, body).Token
			if got.User.Name != tt.wantUser || got.User.ID != f.ids[tt.wantUser] || got.User.Domain.ID != "default" || got.User.Domain.Name != "Default" {
				t.Errorf("user = %+v, want %s", got.User, tt.wantUser)
			}
			if want := f.clock.Now().Add(testTTL).UTC().Format("2006-01-02T15:04:05.000000Z"); got.ExpiresAt != want {
				t.Errorf("expires_at = %q, want %q", got.ExpiresAt, want)
			}
			if tt.wantProject == "" {
				if got.Project != nil || got.Catalog != nil || got.Roles != nil {
					t.Errorf("unscoped token has project %+v, roles %+v, catalog %+v", got.Project, got.Roles, got.Catalog)
				}
				return
			}
			if got.Project == nil || got.Project.Name != tt.wantProject || got.Project.ID != f.ids[tt.wantProject] {
				t.Fatalf("project = %+v, want %s", got.Project, tt.wantProject)
			}
			var roles []string
			for _, r := range got.Roles {
				if r.ID != r.Name {
					t.Errorf("role id %q != name %q", r.ID, r.Name)
				}
				roles = append(roles, r.Name)
			}
			if diff := cmp.Diff(tt.wantRoles, roles); diff != "" {
				t.Errorf("roles (-want +got):\n%s", diff)
			}
			if len(got.Catalog) != 2 || got.Catalog[0].Type != "database" || got.Catalog[1].Type != "identity" || len(got.Catalog[0].Endpoints) != 3 {
				t.Fatalf("catalog = %+v", got.Catalog)
			}
			var ifaces []string
			for _, ep := range got.Catalog[0].Endpoints {
				ifaces = append(ifaces, ep.Interface)
				if want := f.srv.URL + "/v1.0/" + f.ids[tt.wantProject]; ep.URL != want || ep.Region != "RegionOne" || ep.RegionID != "RegionOne" {
					t.Errorf("endpoint = %+v, want url %s in RegionOne", ep, want)
				}
			}
			if diff := cmp.Diff([]string{"public", "internal", "admin"}, ifaces); diff != "" {
				t.Errorf("interfaces (-want +got):\n%s", diff)
			}
			p, err := f.svc.Authenticate(context.Background(), tok)
			if err != nil {
				t.Fatalf("Authenticate(new token): %v", err)
			}
			if p.ProjectID != f.ids[tt.wantProject] || p.UserName != tt.wantUser || !slices.Equal(p.Roles, tt.wantRoles) {
				t.Errorf("Authenticate = %+v", p)
			}
		})
	}
}

func TestAuthenticateExpiry(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, "alice", "alicepw", "demo")
	ctx := context.Background()
	steps := []struct {
		advance time.Duration
		wantOK  bool
	}{
		{0, true},
		{testTTL - time.Second, true},
		{time.Second, false}, // exactly at expiry
		{time.Hour, false},
	}
	for i, st := range steps {
		f.clock.Advance(st.advance)
		p, err := f.svc.Authenticate(ctx, tok)
		if st.wantOK {
			if err != nil {
				t.Fatalf("step %d: Authenticate = %v, want ok", i, err)
			}
			if p.UserName != "alice" || p.ProjectName != "demo" || p.IsAdmin() || !p.CanAccessTenant(f.ids["demo"]) {
				t.Errorf("step %d: principal = %+v", i, p)
			}
			continue
		}
		if !fault.Is(err, fault.Unauthorized) {
			t.Fatalf("step %d: Authenticate = %v, want Unauthorized", i, err)
		}
	}
	resp, _ := f.do(t, "GET", "/identity/v3/auth/tokens", nil, map[string]string{"X-Auth-Token": tok, "X-Subject-Token": tok})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v3/auth/tokens with expired token = %d, want 401", resp.StatusCode)
	}
}

func TestAuthenticateBadTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tok := range []string{"", "x", strings.Repeat("a", 43), strings.Repeat("a", 10000)} {
		if _, err := f.svc.Authenticate(ctx, tok); !fault.Is(err, fault.Unauthorized) {
			t.Errorf("Authenticate(%.10q) = %v, want Unauthorized", tok, err)
		}
	}
	// A token whose user was disabled after issue stops working.
	tok := f.login(t, "alice", "alicepw", "")
	f.st.mu.Lock()
	u := f.st.users[f.ids["alice"]]
	u.Enabled = false
	f.st.users[u.ID] = u
	f.st.mu.Unlock()
	if _, err := f.svc.Authenticate(ctx, tok); !fault.Is(err, fault.Unauthorized) {
		t.Errorf("Authenticate(disabled user's token) = %v, want Unauthorized", err)
	}
}

func TestTokensAtRest(t *testing.T) {
	f := newFixture(t)
	tok := f.login(t, "admin", "secret", "demo")
	for _, h := range f.st.tokenHashes() {
		if strings.Contains(string(h), tok) || len(h) != 32 {
			t.Fatalf("stored token hash %x is not a SHA-256 hash", h)
		}
	}
	if !slices.ContainsFunc(f.st.tokenHashes(), func(h []byte) bool { return string(h) == string(hashToken(tok)) }) {
		t.Error("token's SHA-256 is not stored")
	}
	u, err := f.st.GetUserByName(context.Background(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(u.PasswordHash), "$2") {
		t.Errorf("password hash %q is not bcrypt", u.PasswordHash)
	}
}

func TestPrune(t *testing.T) {
	f := newFixture(t)
	f.login(t, "alice", "alicepw", "demo") // prunes (first time), then stores
	f.clock.Advance(testTTL + time.Minute)
	f.login(t, "alice", "alicepw", "demo") // more than a minute later: prunes the first
	if n := f.st.tokenCount(); n != 1 {
		t.Fatalf("after prune: %d tokens, want 1", n)
	}
	f.clock.Advance(testTTL + time.Second)
	f.login(t, "alice", "alicepw", "demo") // prunes again: the second expired
	f.clock.Advance(testTTL + time.Second)
	f.login(t, "alice", "alicepw", "demo")
	if n := f.st.tokenCount(); n != 1 {
		t.Fatalf("after second prune: %d tokens, want 1", n)
	}
}

func TestValidateAndRevoke(t *testing.T) {
	f := newFixture(t)
	alice := f.login(t, "alice", "alicepw", "demo")
	alice2 := f.login(t, "alice", "alicepw", "demo")
	bob := f.login(t, "bob", "bobpw", "demo")
	admin := f.login(t, "admin", "secret", "demo")
	hdr := func(auth, subj string) map[string]string {
		return map[string]string{"X-Auth-Token": auth, "X-Subject-Token": subj}
	}
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		want   int
	}{
		{"validate own", "GET", "/identity/v3/auth/tokens", hdr(alice, alice), 200},
		{"validate own other token", "GET", "/identity/v3/auth/tokens", hdr(alice, alice2), 200},
		{"validate no catalog", "GET", "/identity/v3/auth/tokens?nocatalog", hdr(alice, alice), 200},
		{"validate by admin", "GET", "/identity/v3/auth/tokens", hdr(admin, bob), 200},
		{"validate someone else's", "GET", "/identity/v3/auth/tokens", hdr(bob, alice), 403},
		{"validate bogus subject", "GET", "/identity/v3/auth/tokens", hdr(alice, "bogus"), 404},
		{"validate bad auth", "GET", "/identity/v3/auth/tokens", hdr("bogus", alice), 401},
		{"validate no auth", "GET", "/identity/v3/auth/tokens", map[string]string{"X-Subject-Token": alice}, 401},
		{"check", "HEAD", "/identity/v3/auth/tokens", hdr(alice, alice), 200},
		{"check bogus", "HEAD", "/identity/v3/auth/tokens", hdr(alice, "bogus"), 404},
		{"revoke someone else's", "DELETE", "/identity/v3/auth/tokens", hdr(bob, alice2), 403},
		{"revoke own", "DELETE", "/identity/v3/auth/tokens", hdr(alice, alice2), 204},
		{"check revoked", "HEAD", "/identity/v3/auth/tokens", hdr(alice, alice2), 404},
		{"revoke again", "DELETE", "/identity/v3/auth/tokens", hdr(alice, alice2), 404},
		{"use revoked", "GET", "/identity/v3/auth/projects", map[string]string{"X-Auth-Token": alice2}, 401},
		{"bad method", "PATCH", "/identity/v3/auth/tokens", hdr(alice, alice), 405},
		{"unknown path", "GET", "/identity/v3/nothing", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.do(t, tt.method, tt.path, nil, tt.header)
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s = %d, want %d: %s", tt.method, tt.path, resp.StatusCode, tt.want, body)
			}
			if tt.method != "GET" || tt.want != 200 {
				return
			}
			if got := resp.Header.Get("X-Subject-Token"); got != tt.header["X-Subject-Token"] {
				t.Error("X-Subject-Token not echoed")
			}
			tok := decode[v3Resp](t, body).Token
			if tok.Project == nil || tok.Project.Name != "demo" {
				t.Errorf("project = %+v", tok.Project)
			}
			if noCat := strings.Contains(tt.path, "nocatalog"); noCat != (len(tok.Catalog) == 0) {
				t.Errorf("catalog = %+v with nocatalog=%v", tok.Catalog, noCat)
			}
		})
	}
}

func TestRescope(t *testing.T) {
	f := newFixture(t)
	unscoped := f.login(t, "bob", "bobpw", "")
	f.clock.Advance(time.Minute)
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"token"}, "token": map[string]any{"id": unscoped}},
		"scope":    map[string]any{"project": map[string]any{"id": f.ids["other"]}},
	}}
	resp, b := f.do(t, "POST", "/identity/v3/auth/tokens", body, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("rescope = %d: %s", resp.StatusCode, b)
	}
	got := decode[v3Resp](t, b).Token
	if got.Project == nil || got.Project.ID != f.ids["other"] || len(got.Catalog) != 2 {
		t.Errorf("rescoped token = %+v", got)
	}
	old, err := f.svc.Authenticate(context.Background(), unscoped)
	if err != nil {
		t.Fatal(err)
	}
	if want := old.ExpiresAt.Format(v3TimeLayout); got.ExpiresAt != want {
		t.Errorf("rescoped expires_at = %s, want the original %s", got.ExpiresAt, want)
	}
	body["auth"].(map[string]any)["identity"].(map[string]any)["token"] = map[string]any{"id": "bogus"}
	if resp, _ := f.do(t, "POST", "/identity/v3/auth/tokens", body, nil); resp.StatusCode != 401 {
		t.Errorf("rescope with a bad token = %d, want 401", resp.StatusCode)
	}
}

func TestVersions(t *testing.T) {
	f := newFixture(t)
	type doc struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Links  []link `json:"links"`
	}
	resp, body := f.do(t, "GET", "/identity/", nil, nil)
	if resp.StatusCode != http.StatusMultipleChoices {
		t.Fatalf("GET /identity/ = %d", resp.StatusCode)
	}
	vs := decode[struct {
		Versions struct {
			Values []doc `json:"values"`
		} `json:"versions"`
	}](t, body)
	want := []doc{
		{"v3.14", "stable", []link{{"self", f.srv.URL + "/identity/v3/"}}},
		{"v2.0", "stable", []link{{"self", f.srv.URL + "/identity/v2.0/"}}},
	}
	if diff := cmp.Diff(want, vs.Versions.Values); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	for path, w := range map[string]doc{"/identity/v3": want[0], "/identity/v3/": want[0], "/identity/v2.0": want[1], "/identity/v2.0/": want[1]} {
		resp, body := f.do(t, "GET", path, nil, nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d", path, resp.StatusCode)
			continue
		}
		got := decode[struct {
			Version doc `json:"version"`
		}](t, body)
		if diff := cmp.Diff(w, got.Version); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", path, diff)
		}
	}
}

func TestBootstrapIdempotent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	granted := strings.Count(f.logs.String(), "role granted")
	if err := f.svc.Bootstrap(ctx, "admin", "changed", "demo"); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(f.logs.String(), "role granted"); n != granted {
		t.Errorf("bootstrap again logged %d more \"role granted\" lines, want none", n-granted)
	}
	f.login(t, "admin", "secret", "demo") // password unchanged
	if resp, _ := f.do(t, "POST", "/identity/v3/auth/tokens", v3Password("admin", "changed", "demo"), nil); resp.StatusCode != 401 {
		t.Errorf("login with new bootstrap password = %d, want 401", resp.StatusCode)
	}
	// An existing user gets admin on a new bootstrap project.
	if err := f.svc.Bootstrap(ctx, "alice", "x", "fresh"); err != nil {
		t.Fatal(err)
	}
	_, pr, err := f.svc.Login(ctx, "alice", "alicepw", "fresh")
	if err != nil {
		t.Fatal(err)
	}
	if !pr.IsAdmin() || pr.ProjectName != "fresh" {
		t.Errorf("Login(alice, fresh) = %+v, want admin on fresh", pr)
	}
	ps, _ := f.st.ListProjects(ctx)
	if len(ps) != 4 {
		t.Errorf("%d projects after bootstraps, want 4", len(ps))
	}
}

func TestTokenLogValue(t *testing.T) {
	var buf syncBuffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "token", Token("sekrit-token"))
	if strings.Contains(buf.String(), "sekrit") || !strings.Contains(buf.String(), "REDACTED") {
		t.Errorf("Token logged as %q", buf.String())
	}
}
