package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"

	"github.com/hoard-db/hoard/internal/pki"
	"github.com/hoard-db/hoard/internal/secret"
)

// tlsAutoEnv starts hoard serving HTTPS with a certificate from its CA.
const tlsAutoEnv = "HOARD_TLS_AUTO=true"

// readinessOverTLS is http.Get over HTTPS without verification: only to
// see that hoard answers (the tests verify the certificate themselves).
func readinessOverTLS(url string) (*http.Response, error) {
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // readiness only
	}}
	return cl.Get(url)
}

// tlsClient logs in over HTTPS trusting only caFile, as the OpenStack
// CLI does with OS_CACERT.
func (h *hoard) tlsClient(ctx context.Context, caFile string) (*gophercloud.ServiceClient, *http.Client) {
	h.t.Helper()
	b, err := os.ReadFile(caFile)
	if err != nil {
		h.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		h.t.Fatal("no CA certificate in " + caFile)
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	pc, err := openstack.NewClient("https://" + h.listen + "/identity/v3")
	if err != nil {
		h.t.Fatal(err)
	}
	pc.HTTPClient = *hc
	if err := openstack.Authenticate(ctx, pc, gophercloud.AuthOptions{
		IdentityEndpoint: "https://" + h.listen + "/identity/v3",
		Username:         "admin", Password: adminPassword, TenantName: "admin", DomainName: "Default",
	}); err != nil {
		h.t.Fatalf("login over HTTPS: %v", err)
	}
	sc, err := openstack.NewDBV1(pc, gophercloud.EndpointOpts{Region: "RegionOne"})
	if err != nil {
		h.t.Fatalf("database endpoint: %v", err)
	}
	return sc, hc
}

// TestTLSEverywhere: hoard serves its API and identity over HTTPS with a
// certificate from its own CA (--tls-auto), the catalog points at https,
// the hoard CLI works with OS_CACERT, and every engine serves TLS with a
// certificate for its address that the real clients verify with the CA
// from `hoard instance ca`: mariadb --ssl-verify-server-cert, psql
// sslmode=verify-full, redis-cli --tls --cacert.
func TestTLSEverywhere(t *testing.T) {
	h := startHoard(t, tlsAutoEnv)
	ctx := context.Background()
	caFile := filepath.Join(h.dataDir, pki.CertFile)
	sc, hc := h.tlsClient(ctx, caFile)
	if !strings.HasPrefix(sc.Endpoint, "https://") {
		t.Errorf("catalog database endpoint %s is not https", sc.Endpoint)
	}
	// Nobody who does not trust hoard's CA gets through.
	if resp, err := http.Get("https://" + h.listen + "/healthcheck"); err == nil {
		resp.Body.Close()
		t.Error("a client without hoard's CA connected")
	}
	rc, err := os.ReadFile(filepath.Join(h.dataDir, "admin-openrc"))
	if err != nil || !strings.Contains(string(rc), "OS_CACERT="+caFile) || !strings.Contains(string(rc), "https://") {
		t.Errorf("admin-openrc = %q, %v; want https and OS_CACERT", rc, err)
	}

	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OS_") && !strings.HasPrefix(kv, "MYSQL_PWD=") && !strings.HasPrefix(kv, "PGPASSWORD=") &&
			!strings.HasPrefix(kv, "REDISCLI_AUTH=") {
			env = append(env, kv)
		}
	}
	env = append(env, "OS_AUTH_URL=https://"+h.listen+"/identity/v3", "OS_USERNAME=admin", "OS_PASSWORD="+adminPassword,
		"OS_PROJECT_NAME=admin", "OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default", "OS_REGION_NAME=RegionOne",
		"OS_CACERT="+caFile)
	run := func(t *testing.T, extraEnv []string, bin string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(append([]string{}, env...), extraEnv...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}

	// Another CA, which must not be accepted by the clients.
	otherCA, err := pki.LoadOrCreate(t.TempDir(), mustSealer(t), "not hoard", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherCAFile := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(otherCAFile, otherCA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}

	const pw = "tls-pw-4711"
	for _, tc := range []struct {
		datastore, client string
		create            []string
		pwEnv             string
		connect           func(addr, ca string) []string
		want              string
	}{
		{"mysql", "mariadb", []string{"--databases", "shop", "--users", "app:" + pw}, "MYSQL_PWD",
			func(addr, ca string) []string {
				return []string{"--ssl", "--ssl-verify-server-cert", "--ssl-ca=" + ca, "-h", addr, "-u", "app", "shop",
					"-N", "-e", "SHOW SESSION STATUS LIKE 'Ssl_version'"}
			}, "TLSv1."},
		{"postgresql", "psql", []string{"--databases", "shop", "--users", "app:" + pw}, "PGPASSWORD",
			func(addr, ca string) []string {
				return []string{"host=" + addr + " user=app dbname=shop sslmode=verify-full sslrootcert=" + ca,
					"-Atc", "SELECT 'ssl=' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"}
			}, "ssl=t"},
		{"redis", "redis-cli", []string{"--users", "app:" + pw}, "REDISCLI_AUTH",
			func(addr, ca string) []string {
				return []string{"--tls", "--cacert", ca, "-h", addr, "-p", "6380", "--user", "app", "--no-auth-warning", "PING"}
			}, "PONG"},
	} {
		t.Run(tc.datastore, func(t *testing.T) {
			if _, err := exec.LookPath(tc.client); err != nil {
				t.Fatalf("%s is not installed: run scripts/install-deps", tc.client)
			}
			name := "tls-" + tc.datastore
			args := append([]string{"instance", "create", name, "--flavor", "1", "--size", "1", "--datastore", tc.datastore,
				"--wait", "--timeout", "3m"}, tc.create...)
			if out, err := run(t, nil, hoardBin, args...); err != nil {
				t.Fatalf("hoard %q over HTTPS: %v\n%s", args, err, out)
			}
			t.Cleanup(func() {
				if out, err := run(t, nil, hoardBin, "instance", "delete", name, "--wait", "--timeout", "2m"); err != nil {
					t.Errorf("delete: %v\n%s", err, out)
				}
			})
			// The CA through the CLI, and through the API's JSON.
			ca, err := run(t, nil, hoardBin, "instance", "ca", name)
			if err != nil || !strings.HasPrefix(ca, "-----BEGIN CERTIFICATE-----") {
				t.Fatalf("hoard instance ca: %v\n%s", err, ca)
			}
			own, _ := os.ReadFile(caFile)
			if ca != string(own) {
				t.Error("hoard instance ca is not hoard's CA certificate")
			}
			instCA := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(instCA, []byte(ca), 0o644); err != nil {
				t.Fatal(err)
			}
			var id, addr string
			pages, err := instances.List(sc).AllPages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			all, _ := instances.ExtractInstances(pages)
			for _, in := range all {
				if in.Name == name {
					id = in.ID
				}
			}
			inst, err := instances.Get(ctx, sc, id).Extract()
			if err != nil || len(inst.IP) != 1 {
				t.Fatalf("get %s: %v %v", id, inst, err)
			}
			addr = inst.IP[0]
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sc.ServiceURL("instances", id, "ca"), nil)
			req.Header.Set("X-Auth-Token", sc.Token())
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				CA struct{ Certificate string } `json:"ca"`
			}
			err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
			resp.Body.Close()
			if err != nil || body.CA.Certificate != ca {
				t.Errorf("GET .../instances/%s/ca = %+v, %v", id, body, err)
			}

			// The real client verifies the engine's certificate for its address.
			out, err := run(t, []string{tc.pwEnv + "=" + pw}, tc.client, tc.connect(addr, instCA)...)
			if err != nil || !strings.Contains(out, tc.want) {
				t.Errorf("%s over TLS: %v\n%s", tc.client, err, out)
			}
			// ... and refuses a server that a foreign CA would vouch for.
			if out, err := run(t, []string{tc.pwEnv + "=" + pw}, tc.client, tc.connect(addr, otherCAFile)...); err == nil && strings.Contains(out, tc.want) {
				t.Errorf("%s accepted the engine with a foreign CA:\n%s", tc.client, out)
			}

			// The key is the instance user's alone, and never shows.
			conf := filepath.Join(h.dataDir, "instances", id, "conf")
			fi, err := os.Stat(filepath.Join(conf, "tls-key.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("tls-key.pem mode %v", fi.Mode().Perm())
			}
			if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
				t.Error("tls-key.pem is root's: the engine runs as the instance user")
			}
			if strings.Contains(h.logs(), "PRIVATE KEY") || strings.Contains(psAll(t), "PRIVATE KEY") {
				t.Error("a private key shows in hoard's log or in ps")
			}
		})
	}
}

func mustSealer(t *testing.T) *secret.Sealer {
	t.Helper()
	s, err := secret.LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// psAll is every process's command line.
func psAll(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ps", "-eo", "args").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
