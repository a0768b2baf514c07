package cli

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/spf13/cobra"
)

// parseLine parses a command line as Main does, without running the
// command: it returns the options, the command's path and its arguments.
func parseLine(args ...string) (*opts, string, []string, error) {
	env := Env{Stdout: io.Discard, Stderr: io.Discard}
	env.fill()
	o := &opts{}
	code := 0
	root := newRoot(&env, o, &code, nil)
	var path string
	var pos []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if len(c.Commands()) == 0 && c.RunE != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				path, pos = cmd.CommandPath(), args
				return nil
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	root.SetArgs(longFlags(root, args))
	_, err := root.ExecuteC()
	return o, path, pos, err
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		line    string
		path    string
		pos     []string
		check   func(o *opts) bool
		wantErr string // a part of the usage error
	}{
		{"instance create db1 --flavor 2 --size 3 --wait", "hoard instance create", []string{"db1"},
			func(o *opts) bool {
				return o.flavor == "2" && o.size == 3 && o.wait && o.output == "table" && o.timeout == 30*time.Minute
			}, ""},
		{"instance create -o json --flavor=1 db1 --size=1", "hoard instance create", []string{"db1"},
			func(o *opts) bool { return o.output == "json" && o.flavor == "1" && o.size == 1 }, ""},
		{"-o json instance list", "hoard instance list", []string{}, func(o *opts) bool { return o.output == "json" }, ""},
		{"--os-cloud c1 --output yaml instance show x", "hoard instance show", []string{"x"},
			func(o *opts) bool { return o.cloud == "c1" && o.output == "yaml" }, ""},
		{"instance list -o value -c id -c name", "hoard instance list", []string{},
			func(o *opts) bool { return o.output == "value" && slices.Equal(o.columns, []string{"id", "name"}) }, ""},
		{"instance list --column=status", "hoard instance list", []string{}, func(o *opts) bool { return slices.Equal(o.columns, []string{"status"}) }, ""},
		{"instance restart db1 --wait --timeout 5m", "hoard instance restart", []string{"db1"},
			func(o *opts) bool { return o.wait && o.timeout == 5*time.Minute }, ""},
		{"--timeout 0 instance delete db1 --wait", "hoard instance delete", []string{"db1"}, func(o *opts) bool { return o.timeout == 0 }, ""},
		{"instance create r --backup nightly --flavor 1 --size 2", "hoard instance create", []string{"r"},
			func(o *opts) bool { return o.backup == "nightly" }, ""},
		{"instance create ro --replica-of db1", "hoard instance create", []string{"ro"}, func(o *opts) bool { return o.replicaOf == "db1" }, ""},
		{"instance connect db1", "hoard instance connect", []string{"db1"},
			func(o *opts) bool { return o.user == "root" && o.database == "" && !o.print }, ""},
		{"instance connect db1 --user app --database shop --print", "hoard instance connect", []string{"db1"},
			func(o *opts) bool { return o.user == "app" && o.database == "shop" && o.print }, ""},
		{"instance create x --databases a,b --users u:p;v:q:a", "hoard instance create", []string{"x"},
			func(o *opts) bool { return o.databases == "a,b" && o.users == "u:p;v:q:a" }, ""},
		{"backup show nightly", "hoard backup show", []string{"nightly"}, nil, ""},
		// One dash, as the flag package took them.
		{"instance create db1 -flavor 2 -size=3 -wait -output json", "hoard instance create", []string{"db1"},
			func(o *opts) bool { return o.flavor == "2" && o.size == 3 && o.wait && o.output == "json" }, ""},
		{"instance show -- -wait", "hoard instance show", []string{"-wait"}, nil, ""},
		{"instance create x --bogus", "", nil, nil, "unknown flag: --bogus"},
		{"instance create x --size big", "", nil, nil, "invalid argument"},
		{"instance create x --wiat", "", nil, nil, `did you mean "--wait"`},
		{"instance list --otput json", "", nil, nil, `did you mean "--output"`},
		{"instance lsit", "", nil, nil, `did you mean "list"`},
		{"instanse list", "", nil, nil, `did you mean "instance"`},
		{"instance show", "", nil, nil, "wants 1 argument(s), got 0"},
		{"instance show a b", "", nil, nil, "wants 1 argument(s), got 2"},
		{"instance list --timeout soon", "", nil, nil, "invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			o, path, pos, err := parseLine(strings.Fields(tt.line)...)
			if tt.wantErr != "" {
				var ue *usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("hoard %s: err = %v, want a usage error with %q", tt.line, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("hoard %s: %v", tt.line, err)
			}
			if path != tt.path || !slices.Equal(pos, tt.pos) || (tt.check != nil && !tt.check(o)) {
				t.Errorf("hoard %s = %s %q %+v", tt.line, path, pos, o)
			}
		})
	}
}

// TestHelp: help, asked for in any of its spellings, goes to stdout and
// exits 0.
func TestHelp(t *testing.T) {
	for _, line := range []string{"--help", "-h", "-help", "help", "help instance", "help instance create", "instance --help",
		"instance create --help", "instance create -h", "db list --help", "instance connect --help"} {
		t.Run(line, func(t *testing.T) {
			r := runCLI(t, nil, "", strings.Fields(line)...)
			if r.code != 0 || !strings.Contains(r.stdout, "Usage:") || r.stderr != "" {
				t.Errorf("hoard %s = exit %d, stdout %q, stderr %q; want exit 0 with the help on stdout", line, r.code, r.stdout, r.stderr)
			}
		})
	}
	r := runCLI(t, nil, "", "--help")
	for _, want := range []string{"instance", "backup", "completion", "login"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("hoard --help does not list %q:\n%s", want, r.stdout)
		}
	}
}

// TestSuggestions: a typo gets a suggestion on stderr and exit 2.
func TestSuggestions(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{"instance lsit", `unknown command "lsit" for "hoard instance"; did you mean "list"?`},
		{"instanse", `did you mean "instance"?`},
		{"backup shwo x", `did you mean "show"?`},
		{"instance create x --wiat", `unknown flag: --wiat; did you mean "--wait"?`},
		{"instance restart x --wiat", `did you mean "--wait"?`},
		{"instance list --colum id", `did you mean "--column"?`},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			r := runCLI(t, nil, "", strings.Fields(tt.line)...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "--help' for usage") {
				t.Errorf("hoard %s = exit %d, stderr %q; want exit 2 with %q", tt.line, r.code, r.stderr, tt.want)
			}
		})
	}
}

// TestCompletionScripts: hoard completion SHELL writes a script.
func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := runCLI(t, nil, "", "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "hoard") || len(r.stdout) < 500 {
			t.Errorf("hoard completion %s = exit %d, %d bytes, stderr %q", shell, r.code, len(r.stdout), r.stderr)
		}
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
		{"instance", "list", "-o", "xml"},
		{"instance", "list", "-c", "nosuchcolumn", "-o", "json"},
		{"instance", "create", "x", "--flavor", "1", "--size", "1", "--users", ":pw"},
		// No password and no terminal to ask on.
		{"instance", "create", "x", "--flavor", "1", "--size", "1", "--users", "nopassword"},
		{"instance", "create", "x", "--replica-of", "y", "--backup", "b"},
		{"config", "create", "x", "--values", "novalue"},
	}
	s := newTestServer(t)
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCLI(t, s.env(), "", args...)
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
		{"app:p:w", nil, "app@:p:w", false},            // the third field is the database list
		{"app", []string{"shop"}, "app@::shop", false}, // no password: asked for
		{"app@h::a", nil, "app@h::a", false},           // no password, own databases
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
