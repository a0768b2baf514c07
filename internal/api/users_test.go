package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/model"
)

func TestUserRoutes(t *testing.T) {
	h := newHarness(t, Config{})
	in := h.fb.add(tenant, "db", model.StatusActive)
	base := "/v1.0/TENANT/instances/" + in.ID
	steps := []struct {
		method, path, body string
		want               int
		wantBody           string // exact JSON body when set
	}{
		{"GET", base + "/databases", "", 200, `{"databases":[]}`},
		{"POST", base + "/databases", `{"databases":[{"name":"b_db","character_set":"utf8"},{"name":"a_db"}]}`, 202, ""},
		{"POST", base + "/databases", `{"databases":[{"name":"a_db"}]}`, 400, ""},
		{"GET", base + "/databases", "", 200, `{"databases":[{"name":"a_db"},{"name":"b_db"}]}`},
		{"GET", base + "/databases/a_db", "", 501, ""},
		{"GET", "/v1.0/TENANT/instances/nope/databases/a_db", "", 404, ""},
		{"DELETE", base + "/databases/nosuch", "", 404, ""},
		{"DELETE", base + "/databases/mysql", "", 400, ""},
		{"POST", base + "/users", `{"users":[{"name":"alice","password":"pw-a1","databases":[{"name":"a_db"}]},
			{"name":"bob","password":"pw-b1","host":"10.0.0.1"}]}`, 202, ""},
		{"POST", base + "/users", `{"users":[{"name":"alice","password":"pw-a1"}]}`, 400, ""},
		{"GET", base + "/users", "", 200, `{"users":[{"name":"alice","host":"%","databases":[{"name":"a_db"}]},{"name":"bob","host":"10.0.0.1","databases":[]}]}`},
		{"GET", base + "/users/alice", "", 200, `{"user":{"name":"alice","host":"%","databases":[{"name":"a_db"}]}}`},
		{"GET", base + "/users/alice%40%25", "", 200, ""},
		{"GET", base + "/users/bob%4010%252E0%252E0%252E1", "", 200, `{"user":{"name":"bob","host":"10.0.0.1","databases":[]}}`},
		{"GET", base + "/users/bob", "", 404, ""},
		{"GET", base + "/users/root", "", 400, ""},
		{"PUT", base + "/users/bob@10.0.0.1/databases", `{"databases":[{"name":"b_db"}]}`, 202, ""},
		{"PUT", base + "/users/bob@10.0.0.1/databases", `{"databases":[{"name":"zzz"}]}`, 404, ""},
		{"GET", base + "/users/bob@10.0.0.1/databases", "", 200, `{"databases":[{"name":"b_db"}]}`},
		{"DELETE", base + "/users/bob@10.0.0.1/databases/b_db", "", 202, ""},
		{"DELETE", base + "/users/bob@10.0.0.1/databases/b_db", "", 404, ""},
		{"PUT", base + "/users/bob@10.0.0.1", `{"user":{"name":"robert","host":"%"}}`, 202, ""},
		{"PUT", base + "/users/robert", `{"user":{}}`, 400, ""},
		{"PUT", base + "/users/robert", `{"user":{"color":"red"}}`, 400, ""},
		{"PUT", base + "/users", `{"users":[{"name":"robert","password":"pw-r2"},{"name":"alice","password":"pw-a2"}]}`, 202, ""},
		{"PUT", base + "/users", `{"users":[{"name":"nobody","password":"pw-n"}]}`, 404, ""},
		{"DELETE", base + "/users/robert", "", 202, ""},
		{"DELETE", base + "/users/robert", "", 404, ""},
		{"DELETE", base + "/databases/b_db", "", 202, ""},
		{"GET", base + "/root", "", 200, `{"rootEnabled":false}`},
		{"DELETE", base + "/root", "", 404, ""},
		{"POST", base + "/root", "", 200, `{"user":{"name":"root","password":"generated-x"}}`},
		{"POST", base + "/root", `{"password":"chosen-pw1"}`, 200, `{"user":{"name":"root","password":"chosen-pw1"}}`},
		{"GET", base + "/root", "", 200, `{"rootEnabled":true}`},
		{"DELETE", base + "/root", "", 204, ""},
		{"GET", base + "/root", "", 200, `{"rootEnabled":true}`},
		{"PATCH", base + "/root", "", 405, ""},
		{"POST", base + "/users/alice", "", 405, ""},
	}
	for _, st := range steps {
		r := h.do(st.method, st.path, st.body)
		if r.status != st.want {
			t.Errorf("%s %s = %d %s, want %d", st.method, st.path, r.status, r.body, st.want)
			continue
		}
		if st.wantBody != "" && strings.TrimSpace(r.body) != st.wantBody {
			t.Errorf("%s %s body = %s, want %s", st.method, st.path, r.body, st.wantBody)
		}
		if st.want == 202 && r.body != "" {
			t.Errorf("%s %s: 202 with body %q", st.method, st.path, r.body)
		}
		if st.want >= 400 {
			m := mustJSON(t, r.body)
			if len(m) != 1 {
				t.Errorf("%s %s: fault body %s", st.method, st.path, r.body)
			}
		}
	}
	if h.fb.lastUserChange != (datastore.UserChange{Name: "robert", Host: "%"}) {
		t.Errorf("update decoded as %+v", h.fb.lastUserChange)
	}
	if strings.Contains(h.logs.String(), "pw-") || strings.Contains(h.logs.String(), "chosen-pw1") {
		t.Errorf("a password reached the log:\n%s", h.logs.String())
	}
}

func TestUserRoutesNotReady(t *testing.T) {
	h := newHarness(t, Config{})
	in := h.fb.add(tenant, "db", model.StatusReboot)
	base := "/v1.0/TENANT/instances/" + in.ID
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/databases", ""},
		{"POST", "/databases", `{"databases":[{"name":"x1"}]}`},
		{"GET", "/users", ""},
		{"POST", "/users", `{"users":[{"name":"u1","password":"p1"}]}`},
		{"POST", "/root", ""},
		{"GET", "/root", ""},
		{"DELETE", "/root", ""},
	} {
		r := h.do(c.method, base+c.path, c.body)
		want := "Instance " + in.ID + " is not ready, status: REBOOT."
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, want) {
			t.Errorf("%s %s on REBOOT = %d %s, want 422 %q", c.method, c.path, r.status, r.body, want)
		}
	}
	// Another tenant's instance is 404.
	r := h.do("GET", base+"/users", "", "X-Auth-Token", otherToken)
	if r.status != http.StatusForbidden && r.status != http.StatusNotFound {
		t.Errorf("other tenant = %d", r.status)
	}
}

func TestUserPagination(t *testing.T) {
	h := newHarness(t, Config{})
	in := h.fb.add(tenant, "db", model.StatusActive)
	base := "/v1.0/TENANT/instances/" + in.ID
	r := h.do("POST", base+"/users", `{"users":[{"name":"u1","password":"p1"},{"name":"u2","password":"p2"},{"name":"u3","password":"p3"}]}`)
	if r.status != 202 {
		t.Fatal(r.body)
	}
	var page struct {
		Users      []userView `json:"users"`
		Links      []link     `json:"links"`
		UsersLinks []link     `json:"users_links"`
	}
	r = h.do("GET", base+"/users?limit=2", "")
	if err := json.Unmarshal([]byte(r.body), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Users) != 2 || len(page.Links) != 1 || !cmp.Equal(page.Links, page.UsersLinks) {
		t.Fatalf("page 1 = %s", r.body)
	}
	// The marker is quoted before query encoding, as in Rackspace's example.
	if !strings.Contains(page.Links[0].Href, "marker=u2%2540%2525") {
		t.Errorf("next href = %s, want marker=u2%%2540%%2525", page.Links[0].Href)
	}
	next := strings.TrimPrefix(page.Links[0].Href, "http://db.example.com")
	r = h.do("GET", next, "")
	page.Users, page.Links = nil, nil
	if err := json.Unmarshal([]byte(r.body), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Users) != 1 || page.Users[0].Name != "u3" || page.Links != nil {
		t.Errorf("page 2 = %s", r.body)
	}
	// Databases default to pages of 100.
	h.do("GET", base+"/databases", "")
	if p := h.fb.listedPages[len(h.fb.listedPages)-1]; p.Limit != databasePageSize {
		t.Errorf("database page limit = %d, want %d", p.Limit, databasePageSize)
	}
	h.do("GET", base+"/users", "")
	if p := h.fb.listedPages[len(h.fb.listedPages)-1]; p.Limit != DefaultPageSize {
		t.Errorf("user page limit = %d, want %d", p.Limit, DefaultPageSize)
	}
}

func TestUnescapeLenient(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alice", "alice"},
		{"alice@%", "alice@%"},
		{"dbuser2@10%2E0%2E0%2E1", "dbuser2@10.0.0.1"},
		{"a%2", "a%2"},
		{"a%zz", "a%zz"},
		{"%25", "%"},
		{"%", "%"},
		{"%40%", "@%"},
	}
	for _, tt := range tests {
		if got := unescapeLenient(tt.in); got != tt.want {
			t.Errorf("unescapeLenient(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUserDecoders(t *testing.T) {
	bad := []struct {
		name string
		fn   func([]byte) error
		body string
	}{
		{"databases missing", func(b []byte) error { _, err := decodeDatabaseCreate(b); return err }, `{}`},
		{"databases empty", func(b []byte) error { _, err := decodeDatabaseCreate(b); return err }, `{"databases":[]}`},
		{"databases not list", func(b []byte) error { _, err := decodeDatabaseCreate(b); return err }, `{"databases":{"name":"x"}}`},
		{"database name number", func(b []byte) error { _, err := decodeDatabaseCreate(b); return err }, `{"databases":[{"name":1}]}`},
		{"users no password", func(b []byte) error { _, err := decodeUserCreate(b); return err }, `{"users":[{"name":"a"}]}`},
		{"users malformed", func(b []byte) error { _, err := decodeUserCreate(b); return err }, `{"users":[`},
		{"passwords empty pw", func(b []byte) error { _, err := decodePasswords(b); return err }, `{"users":[{"name":"a","password":""}]}`},
		{"update not object", func(b []byte) error { _, err := decodeUserUpdate(b); return err }, `{"user":"x"}`},
		{"update empty name", func(b []byte) error { _, err := decodeUserUpdate(b); return err }, `{"user":{"name":""}}`},
		{"grant missing", func(b []byte) error { _, err := decodeGrant(b); return err }, `{"database":[]}`},
		{"root pw number", func(b []byte) error { _, err := decodeRootEnable(b); return err }, `{"password":5}`},
		{"root pw empty", func(b []byte) error { _, err := decodeRootEnable(b); return err }, `{"password":""}`},
	}
	for _, tt := range bad {
		if err := tt.fn([]byte(tt.body)); err == nil {
			t.Errorf("%s: %s accepted", tt.name, tt.body)
		}
	}
	// A password is never echoed in a decoder error.
	_, err := decodeUserCreate([]byte(`{"users":[{"name":"a","password":["secret-pw"]}]}`))
	if err == nil || strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("decodeUserCreate(password list) = %v", err)
	}
	pw, err := decodeRootEnable(nil)
	if err != nil || pw != "" {
		t.Errorf("decodeRootEnable(no body) = %q, %v", pw, err)
	}
	ch, err := decodeUserUpdate([]byte(`{"user":{"password":"p w;'--"}}`))
	if err != nil || ch.Password != "p w;'--" {
		t.Errorf("decodeUserUpdate kept password %q, %v (the engine validates it)", ch.Password, err)
	}
}

// TestUserInjectionShapes sends hostile names through the URL and bodies:
// the API layer passes them on as exact strings (the engine validates
// them), never answers 500, and never echoes a password.
func TestUserInjectionShapes(t *testing.T) {
	h := newHarness(t, Config{})
	in := h.fb.add(tenant, "db", model.StatusActive)
	base := "/v1.0/TENANT/instances/" + in.ID
	hostile := []string{"x'%3BDROP%20USER%20alice%3B--", "a`b", "a%00b", "%FF%FE", "a--b", strings.Repeat("A", 3000), "a%2Fb", "$(id)"}
	for _, hs := range hostile {
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/users/" + hs, ""},
			{"DELETE", "/users/" + hs, ""},
			{"DELETE", "/databases/" + hs, ""},
			{"PUT", "/users/" + hs, `{"user":{"password":"pw-x1"}}`},
			{"DELETE", "/users/alice/databases/" + hs, ""},
		} {
			r := h.do(c.method, base+c.path, c.body)
			if r.status >= 500 || r.status < 400 {
				t.Errorf("%s %s = %d %s", c.method, truncate(c.path, 80), r.status, truncate(r.body, 200))
			}
			if strings.Contains(r.body, "pw-x1") {
				t.Errorf("password echoed: %s", r.body)
			}
			if !utf8.ValidString(r.body) {
				t.Errorf("response is not UTF-8: %q", r.body)
			}
		}
	}
}

func FuzzDecodeDatabaseCreate(f *testing.F) {
	f.Add([]byte(`{"databases":[{"name":"a","character_set":"utf8","collate":"utf8_general_ci"}]}`))
	f.Add([]byte(`{"databases":[]}`))
	f.Add([]byte(`{"databases":[{"name":null}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		dbs, err := decodeDatabaseCreate(body)
		if err == nil && (len(dbs) == 0 || len(dbs) > maxListItems) {
			t.Errorf("accepted %d databases", len(dbs))
		}
		for _, d := range dbs {
			if d.Name == "" {
				t.Errorf("accepted an empty name")
			}
		}
	})
}

func FuzzDecodeUserCreate(f *testing.F) {
	f.Add([]byte(`{"users":[{"name":"a","password":"p","host":"%","databases":[{"name":"d"}]}]}`))
	f.Add([]byte(`{"users":[{"name":"a"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		users, err := decodeUserCreate(body)
		if err != nil {
			return
		}
		for _, u := range users {
			if u.Name == "" || u.Password == "" || u.Host == "" {
				t.Errorf("accepted %+v", u)
			}
		}
		if _, err := decodePasswords(body); err != nil {
			t.Errorf("decodePasswords refused what decodeUserCreate accepted: %v", err)
		}
	})
}

func FuzzDecodeUserUpdate(f *testing.F) {
	f.Add([]byte(`{"user":{"name":"a","host":"%","password":"p"}}`))
	f.Add([]byte(`{"user":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ch, err := decodeUserUpdate(body)
		if err == nil && ch == (datastore.UserChange{}) {
			t.Errorf("accepted an empty change")
		}
		if err != nil && ch.Password != "" && strings.Contains(err.Error(), string(ch.Password)) {
			t.Errorf("error echoes the password")
		}
	})
}

func FuzzDecodeGrant(f *testing.F) {
	f.Add([]byte(`{"databases":[{"name":"a"},{"name":"b"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		names, err := decodeGrant(body)
		if err == nil && len(names) == 0 {
			t.Errorf("accepted no databases")
		}
	})
}

func FuzzDecodeRootEnable(f *testing.F) {
	f.Add([]byte(``))
	f.Add([]byte(`{"password":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		pw, err := decodeRootEnable(body)
		if err != nil && pw != "" {
			t.Errorf("error with a password")
		}
		if err != nil && len(body) > 0 {
			var m map[string]string
			if json.Unmarshal(body, &m) == nil && m["password"] != "" && strings.Contains(err.Error(), m["password"]) {
				t.Errorf("error echoes the password")
			}
		}
	})
}

func FuzzUserAddress(f *testing.F) {
	for _, s := range []string{"alice", "alice@%", "dbuser2%4010%252E0%252E0%252E1", "a@b@c", "bob@", "%", "%%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seg string) {
		s := unescapeLenient(seg)
		if len(s) > len(seg) {
			t.Errorf("unescapeLenient(%q) grew to %q", seg, s)
		}
		if !strings.Contains(seg, "%") && s != seg {
			t.Errorf("unescapeLenient(%q) = %q changed a segment without escapes", seg, s)
		}
	})
}
