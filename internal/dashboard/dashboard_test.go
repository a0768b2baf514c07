package dashboard

import (
	"crypto/tls"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// browser is a cookie-keeping client of a dashboard under test; it does
// not follow redirects, so that tests see them.
type browser struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func newDashboard(t *testing.T, cfg Config) (*fakeAPI, *httptest.Server) {
	t.Helper()
	f := newFakeAPI()
	cfg.API, cfg.Auth = f, f
	srv := httptest.NewServer(New(cfg).Handler())
	t.Cleanup(srv.Close)
	return f, srv
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, srv: srv, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page2 struct {
	status int
	loc    string
	body   string
	header http.Header
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) page2 {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page2{status: resp.StatusCode, loc: resp.Header.Get("Location"), body: string(raw), header: resp.Header}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// csrf is the CSRF token of the first form of the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	p := b.do("GET", path, nil)
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		b.t.Fatalf("GET %s: no csrf token in the page (status %d)", path, p.status)
	}
	return html.UnescapeString(m[1])
}

// login logs in through the form and fails the test unless it worked.
func (b *browser) login(user, pw, project string) {
	b.t.Helper()
	tok := b.csrf("/dashboard/login")
	p := b.do("POST", "/dashboard/login", url.Values{"csrf_token": {tok}, "user": {user}, "password": {pw}, "project": {project}})
	if p.status != http.StatusSeeOther || p.loc != "/dashboard/instances" {
		b.t.Fatalf("login %s: status %d, location %q, want 303 to /dashboard/instances\n%s", user, p.status, p.loc, p.body)
	}
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	_, srv := newDashboard(t, Config{})
	b := newBrowser(t, srv)
	tests := []struct {
		method, path string
		status       int
		loc          string
	}{
		{"GET", "/dashboard/", 303, "/dashboard/login?next=%2Fdashboard%2F"},
		{"GET", "/dashboard/instances", 303, "/dashboard/login?next=%2Fdashboard%2Finstances"},
		{"GET", "/dashboard/instances/i-alice", 303, "/dashboard/login?next=%2Fdashboard%2Finstances%2Fi-alice"},
		{"GET", "/dashboard/instances/status.json", 401, ""},
		{"POST", "/dashboard/instances", 403, ""},
		{"GET", "/dashboard/login", 200, ""},
		{"GET", "/dashboard/static/app.js", 200, ""},
	}
	for _, tt := range tests {
		p := b.do(tt.method, tt.path, url.Values{})
		if p.status != tt.status || p.loc != tt.loc {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, p.status, p.loc, tt.status, tt.loc)
		}
	}
}

func TestSessionCookieFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		publicURL  string
		tls        bool
		wantSecure bool
	}{
		{"http", "http://db.example", false, false},
		{"https public URL", "https://db.example", false, true},
		{"request over TLS", "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI()
			d := New(Config{API: f, Auth: f, PublicURL: tt.publicURL})
			get := httptest.NewRequest("GET", "/dashboard/login", nil)
			if tt.tls {
				get.TLS = &tls.ConnectionState{}
			}
			rec := httptest.NewRecorder()
			d.Handler().ServeHTTP(rec, get)
			var login *http.Cookie
			for _, c := range rec.Result().Cookies() {
				if c.Name == loginCookie {
					login = c
				}
			}
			if login == nil {
				t.Fatal("the login page set no login cookie")
			}
			tok := csrfRE.FindStringSubmatch(rec.Body.String())[1]
			form := url.Values{"csrf_token": {tok}, "user": {"alice"}, "password": {"alice-pw"}}
			post := httptest.NewRequest("POST", "/dashboard/login", strings.NewReader(form.Encode()))
			post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			post.AddCookie(login)
			post.TLS = get.TLS
			rec = httptest.NewRecorder()
			d.Handler().ServeHTTP(rec, post)
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("login = %d, want 303\n%s", rec.Code, rec.Body)
			}
			var sess *http.Cookie
			for _, c := range rec.Result().Cookies() {
				if c.Name == sessionCookie {
					sess = c
				}
			}
			if sess == nil {
				t.Fatal("login set no session cookie")
			}
			if !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Path != Prefix || sess.Secure != tt.wantSecure {
				t.Errorf("session cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v, want true Strict %q %v",
					sess.HttpOnly, sess.SameSite, sess.Path, sess.Secure, Prefix, tt.wantSecure)
			}
			if sess.MaxAge <= 0 || sess.MaxAge > 3600 {
				t.Errorf("session cookie MaxAge = %d, want the token's remaining life (≤ 3600)", sess.MaxAge)
			}
			if !strings.HasPrefix(sess.Value, "tok-") {
				t.Errorf("session cookie holds %q, want the identity token", sess.Value)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	f, srv := newDashboard(t, Config{})
	alice := newBrowser(t, srv)
	alice.login("alice", "alice-pw", "one")
	bob := newBrowser(t, srv)
	bob.login("bob", "bob-pw", "")
	good := alice.csrf("/dashboard/instances/new")
	bobs := bob.csrf("/dashboard/instances/new")
	if good == bobs {
		t.Fatal("two sessions have the same CSRF token")
	}
	create := func(tok string) url.Values {
		return url.Values{"csrf_token": {tok}, "name": {"x"}, "volume": {"1"}, "flavor": {"1"}}
	}
	tests := []struct {
		name   string
		path   string
		form   url.Values
		hdr    []string
		status int
	}{
		{"no token", "/dashboard/instances", url.Values{"name": {"x"}}, nil, 403},
		{"wrong token", "/dashboard/instances", create("forged"), nil, 403},
		{"another session's token", "/dashboard/instances", create(bobs), nil, 403},
		{"another site's origin", "/dashboard/instances", create(good), []string{"Origin", "https://evil.example"}, 403},
		{"an opaque origin", "/dashboard/instances", create(good), []string{"Origin", "null"}, 403},
		{"another site's referer", "/dashboard/instances", create(good), []string{"Referer", "https://evil.example/x"}, 403},
		{"logout without token", "/dashboard/logout", url.Values{}, nil, 403},
		{"restart without token", "/dashboard/instances/i-alice/restart", url.Values{}, nil, 403},
		{"good token", "/dashboard/instances", create(good), []string{"Origin", srv.URL}, 303},
	}
	for _, tt := range tests {
		before := len(f.calls)
		p := alice.do("POST", tt.path, tt.form, tt.hdr...)
		if p.status != tt.status {
			t.Errorf("%s: POST %s = %d, want %d", tt.name, tt.path, p.status, tt.status)
		}
		if tt.status == 403 {
			f.mu.Lock()
			for _, c := range f.calls[before:] {
				if !strings.HasPrefix(c, "GET ") {
					t.Errorf("%s: a refused form still reached the API: %s", tt.name, c)
				}
			}
			f.mu.Unlock()
		}
	}
	// The login form is tied to its own cookie: a token without it fails.
	other := newBrowser(t, srv)
	p := other.do("POST", "/dashboard/login", url.Values{"csrf_token": {good}, "user": {"alice"}, "password": {"alice-pw"}})
	if p.status != 403 {
		t.Errorf("login without the login cookie = %d, want 403", p.status)
	}
	// Still logged in: the refused logout did nothing.
	if p := alice.do("GET", "/dashboard/instances", nil); p.status != 200 {
		t.Errorf("after a refused logout, GET instances = %d, want 200", p.status)
	}
}

func TestLogoutRevokes(t *testing.T) {
	t.Parallel()
	f, srv := newDashboard(t, Config{})
	b := newBrowser(t, srv)
	b.login("alice", "alice-pw", "")
	f.mu.Lock()
	n := len(f.tokens)
	f.mu.Unlock()
	tok := b.csrf("/dashboard/instances")
	if p := b.do("POST", "/dashboard/logout", url.Values{"csrf_token": {tok}}); p.status != 303 || p.loc != "/dashboard/login" {
		t.Fatalf("logout = %d %q, want 303 to the login page", p.status, p.loc)
	}
	f.mu.Lock()
	if len(f.tokens) != n-1 {
		t.Errorf("logout left %d tokens, want %d (the session's revoked)", len(f.tokens), n-1)
	}
	f.mu.Unlock()
	if p := b.do("GET", "/dashboard/instances", nil); p.status != 303 {
		t.Errorf("after logout GET instances = %d, want 303 to the login page", p.status)
	}
}

// TestAuthorization: a member sees their project only, through every page;
// a reader sees but cannot change, and is told why (the API's message).
func TestAuthorization(t *testing.T) {
	t.Parallel()
	f, srv := newDashboard(t, Config{})
	alice := newBrowser(t, srv)
	alice.login("alice", "alice-pw", "one")
	bob := newBrowser(t, srv)
	bob.login("bob", "bob-pw", "")
	rita := newBrowser(t, srv)
	rita.login("rita", "rita-pw", "")

	tests := []struct {
		who        *browser
		path       string
		status     int
		want, deny []string
	}{
		{alice, "/dashboard/instances", 200, []string{"alices-db"}, []string{"bobs-db", "second-project-db"}},
		{alice, "/dashboard/instances/status.json", 200, []string{"i-alice"}, []string{"i-bob"}},
		{alice, "/dashboard/instances/i-bob", 404, []string{"could not be found"}, []string{"bobs-db"}},
		{alice, "/dashboard/instances/i-bob/status.json", 404, nil, []string{"bobs-db"}},
		{bob, "/dashboard/instances", 200, []string{"bobs-db"}, []string{"alices-db"}},
		{bob, "/dashboard/instances/i-alice", 404, nil, []string{"alices-db"}},
		{rita, "/dashboard/instances", 200, []string{"alices-db"}, []string{`href="/dashboard/instances/new"`}},
		{rita, "/dashboard/instances/i-alice", 200, []string{"mysql://app@127.0.1.7:3306/shop"}, []string{`id="restart"`, `id="db-create"`}},
	}
	for _, tt := range tests {
		p := tt.who.do("GET", tt.path, nil)
		if p.status != tt.status {
			t.Errorf("GET %s = %d, want %d", tt.path, p.status, tt.status)
		}
		for _, w := range tt.want {
			if !strings.Contains(p.body, w) {
				t.Errorf("GET %s does not show %q", tt.path, w)
			}
		}
		for _, d := range tt.deny {
			if strings.Contains(p.body, d) {
				t.Errorf("GET %s shows %q", tt.path, d)
			}
		}
	}
	// Every API request named the session's own project.
	f.mu.Lock()
	if f.crossTenant != 0 {
		t.Errorf("%d API requests named a project other than their token's", f.crossTenant)
	}
	f.mu.Unlock()

	// A reader's change reaches the API, which refuses it: the page says why.
	tok := rita.csrf("/dashboard/instances/i-alice")
	p := rita.do("POST", "/dashboard/instances/i-alice/restart", url.Values{"csrf_token": {tok}})
	if p.status != 403 || !strings.Contains(p.body, "only allow reading") {
		t.Errorf("reader's restart = %d, want 403 with the API's message\n%s", p.status, p.body)
	}
}

// TestFaultNextToField: the API's fault message appears next to the field
// it names, the form keeps its values, and the status is the API's.
func TestFaultNextToField(t *testing.T) {
	t.Parallel()
	_, srv := newDashboard(t, Config{})
	b := newBrowser(t, srv)
	b.login("alice", "alice-pw", "")
	tok := b.csrf("/dashboard/instances/new")
	tests := []struct {
		name     string
		form     url.Values
		status   int
		field    string
		contains string
	}{
		{"volume too large", url.Values{"name": {"big"}, "volume": {"50"}, "flavor": {"1"}}, 413, "volume", "cannot exceed maximum of 10 GB"},
		{"no name", url.Values{"name": {""}, "volume": {"1"}, "flavor": {"1"}}, 400, "name", "&#39;name&#39; is a required property"},
		{"volume not a number", url.Values{"name": {"x"}, "volume": {"lots"}, "flavor": {"1"}}, 400, "volume", "whole number"},
	}
	for _, tt := range tests {
		tt.form.Set("csrf_token", tok)
		p := b.do("POST", "/dashboard/instances", tt.form)
		if p.status != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, p.status, tt.status)
		}
		re := regexp.MustCompile(`id="` + tt.field + `-error">([^<]*)<`)
		m := re.FindStringSubmatch(p.body)
		if m == nil || !strings.Contains(m[1], tt.contains) {
			t.Errorf("%s: no %q next to field %s (got %q)", tt.name, tt.contains, tt.field, m)
		}
		if !strings.Contains(p.body, `value="`+tt.form.Get("name")+`"`) {
			t.Errorf("%s: the form lost its name value", tt.name)
		}
	}
}

func TestProjectSwitch(t *testing.T) {
	t.Parallel()
	f, srv := newDashboard(t, Config{})
	b := newBrowser(t, srv)
	b.login("alice", "alice-pw", "one")
	p := b.do("GET", "/dashboard/instances", nil)
	if !strings.Contains(p.body, `id="project-switch"`) || !strings.Contains(p.body, ">two<") {
		t.Fatalf("a user of two projects sees no project switcher")
	}
	tok := csrfRE.FindStringSubmatch(p.body)[1]
	f.mu.Lock()
	n := len(f.tokens)
	f.mu.Unlock()
	if p := b.do("POST", "/dashboard/project", url.Values{"csrf_token": {tok}, "project_id": {"p2"}}); p.status != 303 {
		t.Fatalf("switch = %d, want 303\n%s", p.status, p.body)
	}
	p = b.do("GET", "/dashboard/instances", nil)
	if !strings.Contains(p.body, "second-project-db") || strings.Contains(p.body, "alices-db") {
		t.Errorf("after switching to project two the list is wrong:\n%s", p.body)
	}
	f.mu.Lock()
	if len(f.tokens) != n {
		t.Errorf("switch left %d tokens, want %d (the old one revoked)", len(f.tokens), n)
	}
	f.mu.Unlock()
	// A project of someone else's is refused by the identity service.
	tok = csrfRE.FindStringSubmatch(p.body)[1]
	if p := b.do("POST", "/dashboard/project", url.Values{"csrf_token": {tok}, "project_id": {"p3"}}); p.status != 401 {
		t.Errorf("switch to another user's project = %d, want 401", p.status)
	}
	// Bob has one project: no switcher.
	bob := newBrowser(t, srv)
	bob.login("bob", "bob-pw", "")
	if p := bob.do("GET", "/dashboard/instances", nil); strings.Contains(p.body, `id="project-switch"`) {
		t.Error("a user of one project sees a project switcher")
	}
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	_, srv := newDashboard(t, Config{})
	tests := []struct {
		name, user, pw, project string
		status                  int
		field                   string
	}{
		{"wrong password", "alice", "nope", "", 401, "password"},
		{"empty", "", "", "", 400, "user"},
		{"not a member", "bob", "bob-pw", "one", 401, "password"},
	}
	for _, tt := range tests {
		b := newBrowser(t, srv)
		tok := b.csrf("/dashboard/login")
		p := b.do("POST", "/dashboard/login", url.Values{"csrf_token": {tok}, "user": {tt.user}, "password": {tt.pw}, "project": {tt.project}})
		if p.status != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, p.status, tt.status)
		}
		if !strings.Contains(p.body, `id="login-error"`) || !regexp.MustCompile(`name="`+tt.field+`"[^>]*aria-invalid="true"`).MatchString(p.body) {
			t.Errorf("%s: the error is not shown next to %s", tt.name, tt.field)
		}
		for _, c := range p.header.Values("Set-Cookie") {
			if strings.HasPrefix(c, sessionCookie+"=tok") {
				t.Errorf("%s: a failed login set a session", tt.name)
			}
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	_, srv := newDashboard(t, Config{})
	p := newBrowser(t, srv).do("GET", "/dashboard/login", nil)
	for k, want := range map[string]string{
		"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
	} {
		if got := p.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

// TestPagesRender renders every page with content, for a member and a
// reader: each answers 200 with its content, and the reader's has no form
// that changes anything.
func TestPagesRender(t *testing.T) {
	t.Parallel()
	_, srv := newDashboard(t, Config{})
	alice := newBrowser(t, srv)
	alice.login("alice", "alice-pw", "one")
	rita := newBrowser(t, srv)
	rita.login("rita", "rita-pw", "")
	tests := []struct {
		path string
		want []string
	}{
		{"/dashboard/instances", []string{"alices-db", "small", "127.0.1.7", "<meter"}},
		{"/dashboard/instances/new", []string{"mysql 10.11 (default)", "small (512 MB", "nightly", "tuned", `<label for="volume">`}},
		{"/dashboard/instances/new?backup=b-1", []string{`<option value="b-1" selected>`}},
		{"/dashboard/instances/i-alice", []string{"mysql://app@127.0.1.7:3306/shop", "mariadb -h 127.0.1.7 -P 3306 -u app -p shop", "nightly", "Status history"}},
		{"/dashboard/instances/i-alice/delete", []string{"Delete alices-db?"}},
		{"/dashboard/backups", []string{"nightly", "COMPLETED", "full on Wednesday", "04:05"}},
		{"/dashboard/configurations", []string{"tuned", "mysql 10.11"}},
		{"/dashboard/configurations/c-1", []string{"max_connections", "10 – 100000", "restart"}},
	}
	for _, tt := range tests {
		for _, b := range []*browser{alice, rita} {
			p := b.do("GET", tt.path, nil)
			if p.status != 200 {
				t.Errorf("GET %s = %d, want 200\n%s", tt.path, p.status, p.body)
				continue
			}
			for _, w := range tt.want {
				if !strings.Contains(p.body, w) && !(b == rita && strings.Contains(tt.path, "/new")) {
					t.Errorf("GET %s does not show %q", tt.path, w)
				}
			}
			if b == rita && strings.Count(p.body, `method="post"`) != 1 { // the logout form only
				t.Errorf("GET %s shows a reader %d forms, want the logout form only", tt.path, strings.Count(p.body, `method="post"`))
			}
		}
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		origin, referer, public string
		want                    bool
	}{
		{"", "", "", true},
		{"http://hoard.test", "", "", true},
		{"https://hoard.test", "", "", true},
		{"http://HOARD.test", "", "", true},
		{"http://evil.test", "", "", false},
		{"null", "", "", false},
		{"", "http://hoard.test/dashboard/instances", "", true},
		{"", "http://evil.test/x", "", false},
		{"ftp://hoard.test", "", "", false},
		{"https://db.example.com", "", "db.example.com", true},
		{"https://db.example.com", "", "", false},
		{"http://hoard.test.evil.test", "", "", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "http://hoard.test/dashboard/logout", nil)
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if tt.referer != "" {
			r.Header.Set("Referer", tt.referer)
		}
		if got := sameOrigin(r, tt.public); got != tt.want {
			t.Errorf("sameOrigin(Origin %q, Referer %q, public %q) = %v, want %v", tt.origin, tt.referer, tt.public, got, tt.want)
		}
	}
}

func TestQuotas(t *testing.T) {
	t.Parallel()
	_, srv := newDashboard(t, Config{})
	alice := newBrowser(t, srv)
	alice.login("alice", "alice-pw", "one")
	ada := newBrowser(t, srv)
	ada.login("ada", "ada-pw", "")

	// A member reads their own quotas, without a form, and no one else's.
	p := alice.do("GET", "/dashboard/quotas", nil)
	if p.status != 200 || !strings.Contains(p.body, "instances") || strings.Contains(p.body, `id="quota-save"`) || strings.Contains(p.body, `id="projects"`) {
		t.Errorf("a member's quotas page: %d\n%s", p.status, p.body)
	}
	if p := alice.do("GET", "/dashboard/quotas?project=p3", nil); p.status != 403 || !strings.Contains(p.body, "admin privileges") {
		t.Errorf("a member on another project's quotas = %d, want 403 with the API's message", p.status)
	}
	tok := csrfRE.FindStringSubmatch(p.body)[1]
	if p := alice.do("POST", "/dashboard/quotas/p1", url.Values{"csrf_token": {tok}, "quota_instances": {"50"}}); p.status != 403 {
		t.Errorf("a member's quota update = %d, want 403", p.status)
	}

	// An admin sees projects and users, and sets another project's limits.
	p = ada.do("GET", "/dashboard/quotas?project=p3", nil)
	for _, w := range []string{`id="projects"`, "three", "alice", "disabled", `id="quota-save"`, `name="quota_instances"`} {
		if !strings.Contains(p.body, w) {
			t.Errorf("the admin's quotas page does not show %q", w)
		}
	}
	tok = csrfRE.FindStringSubmatch(p.body)[1]
	if p := ada.do("POST", "/dashboard/quotas/p3", url.Values{"csrf_token": {tok}, "quota_instances": {"9"}, "quota_volumes": {"40"}}); p.status != 303 {
		t.Fatalf("the admin's update = %d, want 303\n%s", p.status, p.body)
	}
	if p := ada.do("GET", "/dashboard/quotas?project=p3", nil); !strings.Contains(p.body, `value="9"`) || !strings.Contains(p.body, `value="40"`) {
		t.Error("the new limits are not shown")
	}
	p = ada.do("POST", "/dashboard/quotas/p3", url.Values{"csrf_token": {tok}, "quota_instances": {"many"}})
	if p.status != 400 || !strings.Contains(p.body, "whole number") {
		t.Errorf("a non-number limit = %d, want 400 with the field's message", p.status)
	}
}
