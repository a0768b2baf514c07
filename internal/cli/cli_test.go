package cli

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
)

func TestParseFlags(t *testing.T) {
	cmd := commands["instance create"]
	tests := []struct {
		name    string
		args    []string
		wantPos []string
		check   func(o *opts) bool
		wantErr bool
	}{
		{"flags after name", []string{"db1", "--flavor", "2", "--size", "3", "--wait"}, []string{"db1"},
			func(o *opts) bool { return o.flavor == "2" && o.size == 3 && o.wait && o.output == "table" }, false},
		{"flags before name", []string{"-o", "json", "--flavor=1", "db1", "--size=1"}, []string{"db1"},
			func(o *opts) bool { return o.output == "json" && o.flavor == "1" && o.size == 1 }, false},
		{"long output", []string{"--output", "json", "x"}, []string{"x"}, func(o *opts) bool { return o.output == "json" }, false},
		{"users and databases", []string{"x", "--databases", "a,b", "--users", "u:p;v:q:a"}, []string{"x"},
			func(o *opts) bool { return o.databases == "a,b" && o.users == "u:p;v:q:a" }, false},
		{"unknown flag", []string{"x", "--bogus"}, nil, nil, true},
		{"bad int", []string{"x", "--size", "big"}, nil, nil, true},
		{"help", []string{"-h"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, pos, err := parseFlags("instance create", cmd, tt.args, io.Discard)
			if tt.wantErr {
				if !errors.Is(err, errUsage) {
					t.Fatalf("parseFlags(%q) err = %v, want a usage error", tt.args, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			}
			if !cmp.Equal(pos, tt.wantPos) || !tt.check(o) {
				t.Errorf("parseFlags(%q) = %+v, %q", tt.args, o, pos)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := [][]string{
		{},
		{"instance"},
		{"instance", "frobnicate"},
		{"instance", "show"},
		{"instance", "show", "a", "b"},
		{"instance", "create", "x"},
		{"instance", "resize", "x"},
		{"instance", "resize", "x", "--flavor", "1", "--size", "2"},
		{"instance", "list", "-o", "yaml"},
		{"instance", "create", "x", "--flavor", "1", "--size", "1", "--users", "nopassword"},
		{"config", "create", "x", "--values", "novalue"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCLI(t, nil, "", args...)
			if r.code != 2 || r.stderr == "" {
				t.Errorf("hoard %q = exit %d, stderr %q; want exit 2 with usage", args, r.code, r.stderr)
			}
		})
	}
}

func TestParseUsers(t *testing.T) {
	tests := []struct {
		in      string
		dbs     []string
		want    string // name@host:password:db,db ...
		wantErr bool
	}{
		{"", nil, "", false},
		{"app:pw", []string{"shop"}, "app@:pw:shop", false},
		{"app:pw:a,b; ro@10.0.0.1:x", []string{"shop"}, "app@:pw:a,b ro@10.0.0.1:x:shop", false},
		{"app:p:w", nil, "app@:p:w", false}, // the third field is the database list
		{"app", nil, "", true},
		{":pw", nil, "", true},
	}
	for _, tt := range tests {
		got, err := parseUsers(tt.in, tt.dbs)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseUsers(%q) err = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		var parts []string
		for _, u := range got {
			var dbs []string
			for _, d := range u.Databases {
				dbs = append(dbs, d.Name)
			}
			parts = append(parts, u.Name+"@"+u.Host+":"+u.Password+":"+strings.Join(dbs, ","))
		}
		if s := strings.Join(parts, " "); !tt.wantErr && s != tt.want {
			t.Errorf("parseUsers(%q) = %q, want %q", tt.in, s, tt.want)
		}
	}
}

func TestParseValues(t *testing.T) {
	got, err := parseValues("connect_timeout=120, collation_server=latin1_swedish_ci,ratio=0.5,flag=true,one=1x")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"connect_timeout": int64(120), "collation_server": "latin1_swedish_ci", "ratio": 0.5, "flag": true, "one": "1x"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("parseValues (-want +got):\n%s", d)
	}
	if _, err := parseValues("=3"); !errors.Is(err, errUsage) {
		t.Errorf("parseValues(=3) err = %v, want usage", err)
	}
	if s := formatValues(want); s != "collation_server=latin1_swedish_ci,connect_timeout=120,flag=true,one=1x,ratio=0.5" {
		t.Errorf("formatValues = %q", s)
	}
}

func TestEnvCredentials(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		want    gophercloud.AuthOptions
		region  string
		wantErr bool
	}{
		{"openrc", map[string]string{"OS_AUTH_URL": "http://h/identity/v3", "OS_USERNAME": "admin", "OS_PASSWORD": "pw",
			"OS_PROJECT_NAME": "admin", "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default", "OS_REGION_NAME": "RegionOne"},
			gophercloud.AuthOptions{IdentityEndpoint: "http://h/identity/v3", Username: "admin", Password: "pw", TenantName: "admin", DomainName: "Default"},
			"RegionOne", false},
		{"tenant alias and default domain", map[string]string{"OS_AUTH_URL": "u", "OS_USERNAME": "a", "OS_PASSWORD": "p", "OS_TENANT_NAME": "t"},
			gophercloud.AuthOptions{IdentityEndpoint: "u", Username: "a", Password: "p", TenantName: "t", DomainID: "default"}, "", false},
		{"project in another domain", map[string]string{"OS_AUTH_URL": "u", "OS_USERNAME": "a", "OS_PASSWORD": "p", "OS_PROJECT_NAME": "t",
			"OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Other"},
			gophercloud.AuthOptions{IdentityEndpoint: "u", Username: "a", Password: "p", TenantName: "t", DomainName: "Default",
				Scope: &gophercloud.AuthScope{ProjectName: "t", DomainName: "Other"}}, "", false},
		{"token", map[string]string{"OS_AUTH_URL": "u", "OS_TOKEN": "tok"},
			gophercloud.AuthOptions{IdentityEndpoint: "u", TokenID: "tok"}, "", false},
		{"nothing", map[string]string{}, gophercloud.AuthOptions{}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ao, eo, err := envCredentials(func(k string) string { return tt.vars[k] })
			if (err != nil) != tt.wantErr {
				t.Fatalf("envCredentials err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if d := cmp.Diff(tt.want, ao, cmp.AllowUnexported(gophercloud.AuthOptions{})); d != "" {
				t.Errorf("auth options (-want +got):\n%s", d)
			}
			if eo.Region != tt.region {
				t.Errorf("region = %q, want %q", eo.Region, tt.region)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{gophercloud.ErrUnexpectedResponseCode{Method: "GET", URL: "http://x/i", Actual: 404,
			Body: []byte(`{"itemNotFound":{"code":404,"message":"Instance x cannot be found."}}`)},
			"itemNotFound (HTTP 404): Instance x cannot be found."},
		{gophercloud.ErrUnexpectedResponseCode{Method: "POST", URL: "http://x/i", Actual: 401,
			Body: []byte(`{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}`)},
			"Unauthorized (HTTP 401): The request you have made requires authentication."},
		{gophercloud.ErrUnexpectedResponseCode{Method: "GET", URL: "http://x/b", Actual: 501, Body: []byte(`not json`)},
			"GET http://x/b: HTTP 501 Not Implemented"},
		{errors.New("plain"), "plain"},
	}
	for _, tt := range tests {
		if got := describe(tt.err); !strings.HasSuffix(got, tt.want) {
			t.Errorf("describe(%v) = %q, want suffix %q", tt.err, got, tt.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	if err := writeTable(&b, []string{"ID", "NAME"}, [][]string{{"1", "a\tb"}, {"22", "c\nd"}}); err != nil {
		t.Fatal(err)
	}
	want := "ID  NAME\n1   a\\tb\n22  c\\nd\n" // escaped, the table intact
	if b.String() != want {
		t.Errorf("writeTable = %q, want %q", b.String(), want)
	}
}

func TestCloudsYAML(t *testing.T) {
	s := newTestServer(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "clouds.yaml")
	yaml := "clouds:\n  hoard:\n    auth:\n      auth_url: " + s.url + "/identity/v3\n      username: " + testUser +
		"\n      password: " + testPassword + "\n      project_name: " + testProject +
		"\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"login", "--os-cloud", "hoard", "-o", "json"},
	} {
		var out strings.Builder
		code := Main(t.Context(), args, Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }, CloudsFiles: []string{file}})
		if code != 0 {
			t.Fatalf("hoard %q = %d: %s", args, code, out.String())
		}
		var v loginView
		if err := json.Unmarshal([]byte(out.String()), &v); err != nil || v.ProjectID != s.project || v.Project != testProject ||
			v.Endpoint != s.url+"/v1.0/"+s.project+"/" {
			t.Errorf("login = %q (%v), want project %s", out.String(), err, s.project)
		}
	}
	// OS_CLOUD selects the cloud as well; an unknown one is a clean error.
	r := runCLIFiles(t, map[string]string{"OS_CLOUD": "nope"}, []string{file}, "login")
	if r.code != 1 || !strings.Contains(r.stderr, `cloud "nope" not found`) {
		t.Errorf("unknown cloud = %+v", r)
	}
}

func runCLIFiles(t *testing.T, vars map[string]string, files []string, args ...string) result {
	t.Helper()
	var out, errb strings.Builder
	code := Main(t.Context(), args, Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return vars[k] }, CloudsFiles: files})
	return result{code, out.String(), errb.String()}
}

func TestBadPassword(t *testing.T) {
	s := newTestServer(t)
	vars := s.env()
	vars["OS_PASSWORD"] = "wrong-password"
	r := runCLI(t, vars, "", "login")
	if r.code != 1 || strings.Contains(r.stderr+r.stdout, "wrong-password") || !strings.Contains(r.stderr, "401") {
		t.Errorf("login with a bad password = %+v; want exit 1, a 401, and no password", r)
	}
}
