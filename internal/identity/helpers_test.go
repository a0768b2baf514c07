package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hoard-db/hoard/internal/model"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a service with a known set of projects and users, served by
// an httptest server.
type fixture struct {
	svc   *Service
	st    *memStore
	clock *clock
	srv   *httptest.Server
	logs  *syncBuffer
	ids   map[string]string // name → id of projects and users
	// owned is what the database service says each project owns.
	owned *fakeCounter
}

// fakeCounter is what the database service owns per project, as the
// store counts it in DeleteProjectIfUnused (memStore asks it).
type fakeCounter struct {
	mu  sync.Mutex
	m   map[string]model.ProjectResources
	err error
}

func (c *fakeCounter) ProjectResources(_ context.Context, projectID string) (model.ProjectResources, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[projectID], c.err
}

func (c *fakeCounter) set(projectID string, r model.ProjectResources, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[projectID] = r
	c.err = err
}

const testTTL = time.Hour

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		st:    newMemStore(),
		clock: &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC)},
		logs:  &syncBuffer{},
		ids:   map[string]string{},
		owned: &fakeCounter{m: map[string]model.ProjectResources{}},
	}
	mux := http.NewServeMux()
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	f.svc = New(f.st, Config{
		PublicURL: f.srv.URL,
		TokenTTL:  testTTL,
		Now:       f.clock.Now,
		Logger:    slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	f.st.owned = f.owned
	f.svc.cost = bcrypt.MinCost
	mux.Handle("/identity/", f.svc.Handler())

	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.svc.Bootstrap(ctx, "admin", "secret", "demo"))
	for _, name := range []string{"other", "off"} {
		p, err := f.svc.createProject(ctx, name, "", name != "off")
		must(err)
		f.ids[name] = p.ID
	}
	demo, err := f.svc.FindProject(ctx, "demo")
	must(err)
	f.ids["demo"] = demo.ID
	admin, err := f.svc.FindUser(ctx, "admin")
	must(err)
	f.ids["admin"] = admin.ID
	for _, u := range []struct {
		name    string
		enabled bool
		grants  []string
	}{
		{"alice", true, []string{"demo"}},
		{"bob", true, []string{"demo", "other"}},
		{"carol", true, []string{"off"}},
		{"dave", false, []string{"demo"}},
	} {
		usr, err := f.svc.createUser(ctx, u.name, u.name+"pw", u.enabled)
		must(err)
		f.ids[u.name] = usr.ID
		for _, p := range u.grants {
			must(f.svc.GrantRole(ctx, usr.ID, f.ids[p], model.RoleMember))
		}
	}
	t.Cleanup(func() {
		// No secret may ever reach the log.
		logs := f.logs.String()
		for _, secret := range []string{"secret", "alicepw", "bobpw"} {
			if strings.Contains(logs, secret) {
				t.Errorf("log contains password %q:\n%s", secret, logs)
			}
		}
	})
	return f
}

// do sends a request to the fixture's server and returns the response
// with its body read.
func (f *fixture) do(t *testing.T, method, path string, body any, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if tok := resp.Header.Get("X-Subject-Token"); tok != "" && strings.Contains(f.logs.String(), tok) {
		t.Errorf("log contains token")
	}
	return resp, b
}

// v3Password is a v3 password auth body; project "" means no scope.
func v3Password(user, password, project string) map[string]any {
	auth := map[string]any{
		"identity": map[string]any{
			"methods": []string{"password"},
			"password": map[string]any{"user": map[string]any{
				"name": user, "password": password, "domain": map[string]any{"name": "Default"},
			}},
		},
	}
	if project != "" {
		auth["scope"] = map[string]any{"project": map[string]any{"name": project, "domain": map[string]any{"name": "Default"}}}
	}
	return map[string]any{"auth": auth}
}

// login issues a v3 token or fails the test.
func (f *fixture) login(t *testing.T, user, password, project string) string {
	t.Helper()
	resp, body := f.do(t, "POST", "/identity/v3/auth/tokens", v3Password(user, password, project), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("login %s/%s: status %d: %s", user, project, resp.StatusCode, body)
	}
	return resp.Header.Get("X-Subject-Token")
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// keystoneError is the Keystone error body.
type keystoneError struct {
	Error struct {
		Code    int    `json:"code"`
		Title   string `json:"title"`
		Message string `json:"message"`
	} `json:"error"`
}
