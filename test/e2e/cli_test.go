package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCLIConnect runs hoard's own CLI binary against a running hoard: it
// creates an instance of each engine with --wait, then `hoard instance
// connect` starts the engine's real client (mariadb, psql, redis-cli) with
// the password in its environment, and a query on its stdin answers.
func TestCLIConnect(t *testing.T) {
	h := startHoard(t)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OS_") && !strings.HasPrefix(kv, "MYSQL_PWD=") && !strings.HasPrefix(kv, "PGPASSWORD=") &&
			!strings.HasPrefix(kv, "REDISCLI_AUTH=") {
			env = append(env, kv)
		}
	}
	// instance connect keeps each instance's CA in the user's cache
	// directory: this test's own.
	env = append(env, "XDG_CACHE_HOME="+t.TempDir())
	env = append(env, "OS_AUTH_URL=http://"+h.listen+"/identity/v3", "OS_USERNAME=admin", "OS_PASSWORD="+adminPassword,
		"OS_PROJECT_NAME=admin", "OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default", "OS_REGION_NAME=RegionOne")
	hoardCLI := func(t *testing.T, stdin string, extraEnv []string, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(hoardBin, args...)
		cmd.Env = append(append([]string{}, env...), extraEnv...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}

	const pw = "cli-pw-4711"
	for _, tc := range []struct {
		datastore, server, client string
		create                    []string
		connect                   []string
		pwEnv, query, want        string
		tlsURI                    string // in the --print URI: TLS verified against the instance's CA
	}{
		{"mysql", "mariadbd", "mariadb", []string{"--databases", "shop", "--users", "app:" + pw},
			[]string{"--user", "app", "--database", "shop"}, "MYSQL_PWD", "SELECT 40+2 AS answer;", "42", "ssl-mode=VERIFY_IDENTITY"},
		{"postgresql", "postgres", "psql", []string{"--databases", "shop", "--users", "app:" + pw},
			[]string{"--user", "app", "--database", "shop"}, "PGPASSWORD", "SELECT 40+2 AS answer;", "42", "sslmode=verify-full"},
		{"redis", "redis-server", "redis-cli", []string{"--users", "app:" + pw},
			[]string{"--user", "app"}, "REDISCLI_AUTH", "SET k 42\nGET k\n", "42", "rediss://"},
	} {
		t.Run(tc.datastore, func(t *testing.T) {
			if _, err := exec.LookPath(tc.client); err != nil {
				t.Fatalf("%s is not installed: run scripts/install-deps", tc.client)
			}
			name := "cli-" + tc.datastore
			args := append([]string{"instance", "create", name, "--flavor", "1", "--size", "1", "--datastore", tc.datastore, "--wait",
				"--timeout", "3m"}, tc.create...)
			out, errOut, err := hoardCLI(t, "", nil, args...)
			if err != nil {
				t.Fatalf("hoard %q: %v\n%s\n%s", args, err, out, errOut)
			}
			t.Cleanup(func() {
				if out, errOut, err := hoardCLI(t, "", nil, "instance", "delete", name, "--wait", "--timeout", "2m"); err != nil {
					t.Errorf("delete: %v\n%s\n%s", err, out, errOut)
				}
			})
			if !strings.Contains(errOut, name+"  ACTIVE") || strings.Contains(out+errOut, pw) {
				t.Errorf("create --wait progress = %q (want the name, never the password)", errOut)
			}

			out, _, err = hoardCLI(t, "", nil, append([]string{"instance", "connect", name, "--print"}, tc.connect...)...)
			if err != nil || !strings.Contains(out, "app@") || !strings.Contains(out, tc.tlsURI) || strings.Contains(out, pw) {
				t.Errorf("connect --print = %q, %v", out, err)
			}

			args = append([]string{"instance", "connect", name}, tc.connect...)
			out, errOut, err = hoardCLI(t, tc.query, []string{tc.pwEnv + "=" + pw}, args...)
			if err != nil || !strings.Contains(out, tc.want) {
				t.Errorf("hoard %q with %q on stdin = %v\nstdout %q\nstderr %q", args, tc.query, err, out, errOut)
			}
			// The password is the client's: a wrong one gets nothing.
			if out, _, _ := hoardCLI(t, tc.query, []string{tc.pwEnv + "=wrong"}, args...); strings.Contains(out, tc.want) {
				t.Errorf("connect with a wrong password answered %q", out)
			}
		})
	}
}
