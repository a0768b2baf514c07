package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hoard-db/hoard/internal/model"
)

// runWith runs one command with env's hooks (ReadSecret, Exec, ...) and
// the test's OS_* variables.
func runWith(t *testing.T, env Env, vars map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env.Stdout, env.Stderr = &out, &errb
	env.Stdin = strings.NewReader("")
	env.Getenv = func(k string) string { return vars[k] }
	env.PollInterval = time.Millisecond
	code := Main(t.Context(), args, env)
	return result{code, out.String(), errb.String()}
}

// TestOutputFormats: -o table|json|yaml|value and -c, on a list and on one
// object.
func TestOutputFormats(t *testing.T) {
	s := newTestServer(t)
	vars := s.env()
	a := s.fb.add(s.project, "alpha", model.StatusActive)
	b := s.fb.add(s.project, "beta", model.StatusBuild)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"instance", "list", "-o", "value", "-c", "name", "-c", "status"}, "alpha ACTIVE\nbeta BUILD\n"},
		{[]string{"instance", "list", "-c", "NAME", "-c", "ID"}, "NAME   ID\nalpha  " + a.ID + "\nbeta   " + b.ID + "\n"},
		{[]string{"instance", "list", "-o", "json", "-c", "name"}, "[\n  {\n    \"name\": \"alpha\"\n  },\n  {\n    \"name\": \"beta\"\n  }\n]\n"},
		{[]string{"instance", "list", "-o", "yaml", "-c", "name", "-c", "size"}, "- name: alpha\n  volume_size: 1\n- name: beta\n  volume_size: 1\n"},
		{[]string{"instance", "show", "alpha", "-o", "value", "-c", "port", "-c", "status"}, "3306\nACTIVE\n"},
		{[]string{"instance", "show", "alpha", "-c", "addresses"}, "FIELD      VALUE\naddresses  127.0.1.9\n"},
		{[]string{"instance", "show", "alpha", "-o", "json", "-c", "id", "-c", "port"}, "{\n  \"id\": \"" + a.ID + "\",\n  \"port\": 3306\n}\n"},
		{[]string{"instance", "show", "alpha", "-o", "yaml", "-c", "name", "-c", "volume_size"}, "name: alpha\nvolume_size: 1\n"},
		{[]string{"datastore", "list", "-o", "yaml"}, "- id: ds-mysql\n  name: mysql\n  default_version: \"10.11\"\n  versions:\n    - \"10.11\"\n"},
		{[]string{"flavor", "list", "-o", "value"}, "1 512MB Instance 512\n2 1GB Instance 1024\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, vars, "", tt.args...)
			if r.code != 0 || r.stdout != tt.want {
				t.Errorf("hoard %q = exit %d\n%s\nwant\n%s\nstderr %s", tt.args, r.code, r.stdout, tt.want, r.stderr)
			}
		})
	}

	// Full YAML decodes to what JSON says.
	rj := runCLI(t, vars, "", "instance", "show", "alpha", "-o", "json")
	ry := runCLI(t, vars, "", "instance", "show", "alpha", "-o", "yaml")
	var fromJSON, fromYAML map[string]any
	if err := json.Unmarshal([]byte(rj.stdout), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(ry.stdout), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(fromJSON, fromYAML) || fromJSON["port"] != float64(3306) {
		t.Errorf("yaml %v != json %v (want port 3306)", fromYAML, fromJSON)
	}

	r := runCLI(t, vars, "", "instance", "list", "-c", "bogus")
	if r.code != 2 || !strings.Contains(r.stderr, `no column "bogus"`) || !strings.Contains(r.stderr, "name") {
		t.Errorf("-c bogus = %+v", r)
	}
}

// TestYAMLEscaped: server text reaches the terminal escaped in YAML too,
// and decodes to the exact text.
func TestYAMLEscaped(t *testing.T) {
	s := newTestServer(t)
	in := s.fb.add(s.project, hostileName, model.StatusActive)
	r := runCLI(t, s.env(), "", "instance", "show", in.ID, "-o", "yaml")
	if r.code != 0 {
		t.Fatalf("show -o yaml = %+v", r)
	}
	checkTerminalSafe(t, "show -o yaml", r.stdout)
	var v map[string]any
	if err := yaml.Unmarshal([]byte(r.stdout), &v); err != nil || v["name"] != hostileName {
		t.Errorf("show -o yaml name = %q (%v), want %q\n%s", v["name"], err, hostileName, r.stdout)
	}
	r = runCLI(t, s.env(), "", "instance", "list", "-o", "value", "-c", "name")
	checkTerminalSafe(t, "list -o value", r.stdout)
}

// TestWaitTimeout: --wait gives up at --timeout, exit 1, naming the
// instance and its status.
func TestWaitTimeout(t *testing.T) {
	s := newTestServer(t)
	r := runCLI(t, s.env(), "", "instance", "create", "stuck", "--flavor", "1", "--size", "1", "--wait", "--timeout", "50ms")
	if r.code != 1 || !strings.Contains(r.stderr, "gave up waiting for instance stuck (") ||
		!strings.Contains(r.stderr, "after 50ms (--timeout); its status is still BUILD") {
		t.Errorf("create --wait --timeout 50ms = %+v", r)
	}
}

// TestDeleteAccepted: without --wait, delete says the deletion was
// accepted, not done.
func TestDeleteAccepted(t *testing.T) {
	s := newTestServer(t)
	in := s.fb.add(s.project, "db1", model.StatusActive)
	r := runCLI(t, s.env(), "", "instance", "delete", "db1")
	if r.code != 0 || r.stdout != "deletion of instance db1 ("+in.ID+") accepted (--wait waits until it is gone)\n" {
		t.Errorf("delete = %+v", r)
	}
}

// TestSameName: creating a second instance of a name warns; addressing the
// name then fails naming both ids.
func TestSameName(t *testing.T) {
	s := newTestServer(t)
	first := s.fb.add(s.project, "twin", model.StatusActive)
	r := runCLI(t, s.env(), "", "instance", "create", "twin", "--flavor", "1", "--size", "1", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stderr, `warning: an instance named "twin" exists already (`+first.ID+")") {
		t.Fatalf("second create = %+v", r)
	}
	var second instanceView
	if err := json.Unmarshal([]byte(r.stdout), &second); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, s.env(), "", "instance", "show", "twin")
	if r.code != 1 || !strings.Contains(r.stderr, `2 instances are named "twin"`) ||
		!strings.Contains(r.stderr, first.ID) || !strings.Contains(r.stderr, second.ID) {
		t.Errorf("show twin = %+v, want an error naming %s and %s", r, first.ID, second.ID)
	}
	if r := runCLI(t, s.env(), "", "instance", "show", first.ID); r.code != 0 {
		t.Errorf("show by id = %+v", r)
	}
}

// TestBackupsByName: backup show and delete take names; instance create
// --backup restores one (by name) with restorePoint.
func TestBackupsByName(t *testing.T) {
	bb := &backupBackend{fakeBackend: newFakeBackend()}
	s := newTestServerWith(t, bb)
	src := s.fb.add(s.project, "db1", model.StatusActive)
	nightly := bb.addBackup(s.project, "nightly", src.ID)
	dup1 := bb.addBackup(s.project, "dup", src.ID)
	dup2 := bb.addBackup(s.project, "dup", src.ID)

	r := runCLI(t, s.env(), "", "backup", "show", "nightly", "-o", "value", "-c", "id", "-c", "status")
	if r.code != 0 || r.stdout != nightly.ID+"\nCOMPLETED\n" {
		t.Errorf("backup show nightly = %+v", r)
	}
	r = runCLI(t, s.env(), "", "backup", "show", "dup")
	if r.code != 1 || !strings.Contains(r.stderr, dup1.ID) || !strings.Contains(r.stderr, dup2.ID) {
		t.Errorf("backup show dup = %+v, want both ids", r)
	}
	r = runCLI(t, s.env(), "", "backup", "show", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, "itemNotFound (HTTP 404)") {
		t.Errorf("backup show nope = %+v", r)
	}

	r = runCLI(t, s.env(), "", "instance", "create", "restored", "--backup", "nightly", "--flavor", "1", "--size", "2", "--wait")
	if r.code != 0 {
		t.Fatalf("create --backup = %+v", r)
	}
	if req := s.fb.lastReq; req.RestoreBackupID != nightly.ID || req.VolumeSize != 2 {
		t.Errorf("create --backup sent %+v, want restorePoint %s", req, nightly.ID)
	}
	if r := runCLI(t, s.env(), "", "instance", "create", "r2", "--backup", "nope", "--flavor", "1", "--size", "2"); r.code != 1 {
		t.Errorf("create --backup nope = %+v", r)
	}

	r = runCLI(t, s.env(), "", "backup", "delete", "nightly")
	if r.code != 0 || !strings.Contains(r.stdout, "backup nightly ("+nightly.ID+") deleted") {
		t.Errorf("backup delete nightly = %+v", r)
	}
	r = runCLI(t, s.env(), "", "backup", "list", "-o", "value", "-c", "name")
	if r.stdout != "dup\ndup\n" {
		t.Errorf("backup list after delete = %+v", r)
	}
}

// TestPasswordPrompts: a password left out is asked for when there is a
// terminal, and never echoed.
func TestPasswordPrompts(t *testing.T) {
	s := newTestServer(t)
	var prompts []string
	env := Env{ReadSecret: func(p string) (string, bool, error) {
		prompts = append(prompts, p)
		if strings.Contains(p, "admin") {
			return testPassword, true, nil
		}
		return "typed-pw-789", true, nil
	}}
	vars := s.env()
	delete(vars, "OS_PASSWORD")
	r := runWith(t, env, vars, "instance", "create", "db1", "--flavor", "1", "--size", "1", "--users", "app;ro:given-pw")
	if r.code != 0 {
		t.Fatalf("create = %+v", r)
	}
	want := []string{"Password for database user app: ", "Password for admin at " + s.url + "/identity/v3: "}
	if !slices.Equal(prompts, want) {
		t.Errorf("prompts = %q, want %q", prompts, want)
	}
	us := s.fb.lastReq.Users
	if len(us) != 2 || string(us[0].Password) != "typed-pw-789" || string(us[1].Password) != "given-pw" {
		t.Errorf("users sent = %+v", us)
	}
	if strings.Contains(r.stdout+r.stderr, "typed-pw-789") {
		t.Errorf("a password was echoed: %+v", r)
	}
	// Without a terminal the login fails as before (no password).
	if r := runCLI(t, vars, "", "login"); r.code != 1 {
		t.Errorf("login without password or terminal = %+v", r)
	}
}

// TestConnect: instance connect prints the URI, or execs the engine's
// client with host, port and user on the command line and the password in
// its environment only.
func TestConnect(t *testing.T) {
	s := newTestServer(t)
	s.fb.add(s.project, "db1", model.StatusActive)
	s.fb.add(s.project, "building", model.StatusBuild)
	vars := s.env()

	r := runCLI(t, vars, "", "instance", "connect", "db1", "--print", "--user", "app", "--database", "shop")
	if r.code != 0 || r.stdout != "mysql://app@127.0.1.9:3306/shop\n" {
		t.Errorf("connect --print = %+v", r)
	}
	if r := runCLI(t, vars, "", "instance", "connect", "building", "--print"); r.code != 1 || !strings.Contains(r.stderr, "no address yet") {
		t.Errorf("connect to a BUILD instance = %+v", r)
	}

	var gotPath string
	var gotArgv, gotEnv []string
	env := Env{
		LookPath: func(f string) (string, error) {
			if f == "mariadb" {
				return "", errors.New("not found")
			}
			return "/usr/bin/" + f, nil
		},
		Exec: func(path string, argv, envv []string) error {
			gotPath, gotArgv, gotEnv = path, argv, envv
			return nil
		},
		Environ:    func() []string { return []string{"PATH=/usr/bin"} },
		ReadSecret: func(string) (string, bool, error) { return "sekrit-123", true, nil },
	}
	r = runWith(t, env, vars, "instance", "connect", "db1", "--user", "app", "--database", "shop")
	if r.code != 0 {
		t.Fatalf("connect = %+v", r)
	}
	wantArgv := []string{"/usr/bin/mysql", "--host=127.0.1.9", "--port=3306", "--protocol=TCP", "--user=app", "--database=shop"}
	if gotPath != "/usr/bin/mysql" || !slices.Equal(gotArgv, wantArgv) {
		t.Errorf("exec %s %q, want %q", gotPath, gotArgv, wantArgv)
	}
	if !slices.Equal(gotEnv, []string{"PATH=/usr/bin", "MYSQL_PWD=sekrit-123"}) {
		t.Errorf("client environment = %q", gotEnv)
	}
	// A password already in the environment is passed on as it is, and
	// nothing is asked.
	env.Environ = func() []string { return []string{"MYSQL_PWD=from-env"} }
	env.ReadSecret = func(string) (string, bool, error) { t.Error("asked for a password"); return "", false, nil }
	if r := runWith(t, env, vars, "instance", "connect", "db1"); r.code != 0 || !slices.Equal(gotEnv, []string{"MYSQL_PWD=from-env"}) ||
		!slices.Contains(gotArgv, "--user=root") {
		t.Errorf("connect with MYSQL_PWD = %+v, env %q argv %q", r, gotEnv, gotArgv)
	}
	env.LookPath = func(string) (string, error) { return "", errors.New("not found") }
	if r := runWith(t, env, vars, "instance", "connect", "db1"); r.code != 1 || !strings.Contains(r.stderr, "mysql://root@127.0.1.9:3306") {
		t.Errorf("connect without a client = %+v", r)
	}
}

// TestConnectClients: each engine's client and URI.
func TestConnectClients(t *testing.T) {
	tests := []struct {
		datastore, user, db string
		wantURI             string
		wantArgv            []string
	}{
		{"mysql", "root", "", "mysql://root@10.0.0.5:3306", []string{"--host=10.0.0.5", "--port=3306", "--protocol=TCP", "--user=root"}},
		{"postgresql", "app", "postgres", "postgresql://app@10.0.0.5:5432/postgres",
			[]string{"--host=10.0.0.5", "--port=5432", "--username=app", "--dbname=postgres"}},
		{"redis", "root", "2", "redis://root@10.0.0.5:6379/2", []string{"-h", "10.0.0.5", "-p", "6379", "--user", "root", "-n", "2"}},
	}
	for _, tt := range tests {
		e := engineClients[tt.datastore]
		if got := connectURI(e, "10.0.0.5", e.port, tt.user, tt.db, nil); got != tt.wantURI {
			t.Errorf("%s URI = %q, want %q", tt.datastore, got, tt.wantURI)
		}
		if got := e.argv("10.0.0.5", e.port, tt.user, tt.db); !slices.Equal(got, tt.wantArgv) {
			t.Errorf("%s argv = %q, want %q", tt.datastore, got, tt.wantArgv)
		}
	}
	if got := connectURI(postgresClient, "fd00::5", 5432, "a b", "x", nil); got != "postgresql://a%20b@[fd00::5]:5432/x" {
		t.Errorf("IPv6 URI = %q", got)
	}
}

// TestCompleteNames: shell completion offers the project's instance names.
func TestCompleteNames(t *testing.T) {
	s := newTestServer(t)
	s.fb.add(s.project, "alpha", model.StatusActive)
	s.fb.add(s.project, "beta", model.StatusActive)
	for _, args := range [][]string{
		{"__complete", "instance", "show", "a"},
		{"__complete", "instance", "create", "ro", "--replica-of", "a"},
		{"__complete", "backup", "list", "--instance", "al"},
	} {
		r := runCLI(t, s.env(), "", args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "alpha\n:4\n") {
			t.Errorf("hoard %q = %+v, want alpha", args, r)
		}
	}
}

// TestExternal: the binary's other commands get their arguments raw, and
// hoard help NAME is NAME --help.
func TestExternal(t *testing.T) {
	var got [][]string
	x := External{Name: "serve", Help: "run the service", Run: func(_ context.Context, args []string) int {
		got = append(got, args)
		return 3
	}}
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb}
	for _, tt := range []struct {
		args []string
		want []string
		code int
	}{
		{[]string{"serve", "--listen", "x", "-o", "y"}, []string{"--listen", "x", "-o", "y"}, 3},
		{[]string{"help", "serve"}, []string{"--help"}, 3},
		{[]string{"serve"}, []string{}, 3},
	} {
		got = nil
		if code := Main(t.Context(), tt.args, env, x); code != tt.code || len(got) != 1 || !slices.Equal(got[0], tt.want) {
			t.Errorf("hoard %q = exit %d, ran with %q; want exit %d with %q", tt.args, code, got, tt.code, tt.want)
		}
	}
	out.Reset()
	if code := Main(t.Context(), []string{"--help"}, env, x); code != 0 || !strings.Contains(out.String(), "run the service") {
		t.Errorf("hoard --help = %d, does not list serve:\n%s", code, out.String())
	}
}
