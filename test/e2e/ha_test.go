package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/databases"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
)

// haView is GET /ha/{id}.
type haView struct {
	HA struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		Networks []struct {
			Access  string `json:"access"`
			Port    int    `json:"port"`
			Address string `json:"address"`
		} `json:"networks"`
		ReplicaSource []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			HAID   string `json:"ha_id"`
		} `json:"replica_source"`
		Replicas []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"replicas"`
		Events []struct {
			Message string `json:"message"`
		} `json:"events"`
	} `json:"ha_instance"`
}

func getHA(ctx context.Context, sc *gophercloud.ServiceClient, id string) (haView, error) {
	var v haView
	_, err := sc.Get(ctx, sc.ServiceURL("ha", id), &v, nil)
	return v, err
}

// waitHA polls group id until cond holds.
func waitHA(ctx context.Context, t testing.TB, sc *gophercloud.ServiceClient, id, what string, d time.Duration, cond func(haView) bool) haView {
	t.Helper()
	var last haView
	waitFor(t, d, what, func() bool {
		v, err := getHA(ctx, sc, id)
		if err != nil {
			t.Fatalf("GET /ha/%s: %v", id, err)
		}
		last = v
		return cond(v)
	})
	return last
}

func (v haView) endpoint(access string) string {
	for _, n := range v.HA.Networks {
		if n.Access == access {
			return net.JoinHostPort(n.Address, strconv.Itoa(n.Port))
		}
	}
	return ""
}

// haEngine is one datastore's way to write numbered rows through an
// address, and read them back, as the tenant user app.
type haEngine struct {
	datastore string
	// dbs is whether the engine has databases (Redis has none).
	dbs bool
	// writer returns a function that commits row i through addr (its own
	// connection handling: a failed write may be retried on a new
	// connection) and one that closes what it holds.
	writer func(addr string) (func(ctx context.Context, i int) error, func())
	// rows returns every row number stored at addr.
	rows func(addr string) (map[int]bool, error)
	// readOnly reports whether err is the engine's refusal of a write on a
	// replica.
	readOnly func(err error) bool
}

func mysqlAt(addr string) *sql.DB {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName = "tcp", addr, "app", "app-pw-123", "shop"
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 5*time.Second, 15*time.Second, 15*time.Second
	db, _ := sql.Open("mysql", cfg.FormatDSN())
	db.SetMaxOpenConns(1)
	return db
}

func pgAt(ctx context.Context, addr string) (*pgx.Conn, error) {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = host, uint16(p), "app", "app-pw-123", "shop"
	cfg.TLSConfig, cfg.Fallbacks, cfg.ConnectTimeout = nil, nil, 5*time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

var haEngines = []haEngine{
	{
		datastore: "mysql", dbs: true,
		writer: func(addr string) (func(context.Context, int) error, func()) {
			db := mysqlAt(addr)
			return func(ctx context.Context, i int) error {
				if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS seq (i INT PRIMARY KEY)"); err != nil {
					return err
				}
				_, err := db.ExecContext(ctx, "INSERT INTO seq VALUES (?)", i)
				return err
			}, func() { db.Close() }
		},
		rows: func(addr string) (map[int]bool, error) {
			db := mysqlAt(addr)
			defer db.Close()
			got := map[int]bool{}
			rows, err := db.Query("SELECT i FROM seq")
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			for rows.Next() {
				var i int
				if err := rows.Scan(&i); err != nil {
					return nil, err
				}
				got[i] = true
			}
			return got, rows.Err()
		},
		readOnly: func(err error) bool {
			var me *mysql.MySQLError
			return errors.As(err, &me) && me.Number == 1290 // ER_OPTION_PREVENTS_STATEMENT (--read-only)
		},
	},
	{
		datastore: "postgresql", dbs: true,
		writer: func(addr string) (func(context.Context, int) error, func()) {
			var c *pgx.Conn
			return func(ctx context.Context, i int) error {
					if c == nil || c.IsClosed() {
						var err error
						if c, err = pgAt(ctx, addr); err != nil {
							c = nil
							return err
						}
					}
					_, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS seq (i int PRIMARY KEY)")
					if err == nil {
						_, err = c.Exec(ctx, "INSERT INTO seq VALUES ($1)", i)
					}
					if err != nil {
						_ = c.Close(context.Background())
						c = nil
					}
					return err
				}, func() {
					if c != nil {
						_ = c.Close(context.Background())
					}
				}
		},
		rows: func(addr string) (map[int]bool, error) {
			ctx := context.Background()
			c, err := pgAt(ctx, addr)
			if err != nil {
				return nil, err
			}
			defer c.Close(ctx)
			rows, err := c.Query(ctx, "SELECT i FROM seq")
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			got := map[int]bool{}
			for rows.Next() {
				var i int
				if err := rows.Scan(&i); err != nil {
					return nil, err
				}
				got[i] = true
			}
			return got, rows.Err()
		},
		readOnly: func(err error) bool { return err != nil && strings.Contains(err.Error(), "read-only transaction") },
	},
	{
		datastore: "redis",
		writer: func(addr string) (func(context.Context, int) error, func()) {
			c := goredis.NewClient(&goredis.Options{Addr: addr, Username: "app", Password: "app-pw-123", MaxRetries: -1, DialTimeout: 5 * time.Second})
			return func(ctx context.Context, i int) error {
				return c.SAdd(ctx, "seq", i).Err()
			}, func() { c.Close() }
		},
		rows: func(addr string) (map[int]bool, error) {
			c := goredis.NewClient(&goredis.Options{Addr: addr, Username: "app", Password: "app-pw-123"})
			defer c.Close()
			ms, err := c.SMembers(context.Background(), "seq").Result()
			if err != nil {
				return nil, err
			}
			got := map[int]bool{}
			for _, m := range ms {
				i, _ := strconv.Atoi(m)
				got[i] = true
			}
			return got, nil
		},
		readOnly: func(err error) bool { return err != nil && strings.Contains(err.Error(), "READONLY") },
	},
}

// createHA creates a group of ds with a source and two replicas.
func createHA(ctx context.Context, t testing.TB, sc *gophercloud.ServiceClient, ds string) string {
	t.Helper()
	body := map[string]any{"ha": map[string]any{
		"name":           "ha-" + ds,
		"datastore":      map[string]string{"type": ds},
		"replica_source": []map[string]any{{"name": "ha-" + ds + "-src", "flavorRef": "1", "volume": map[string]int{"size": 1}}},
		"replicas": []map[string]any{
			{"name": "ha-" + ds + "-r1", "flavorRef": "1", "volume": map[string]int{"size": 1}},
			{"name": "ha-" + ds + "-r2", "flavorRef": "1", "volume": map[string]int{"size": 1}},
		},
		"networks": []string{"servicenet"},
		"acls":     []map[string]string{{"address": "127.0.0.0/8"}},
	}}
	var out haView
	if _, err := sc.Post(ctx, sc.ServiceURL("ha"), body, &out, &gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}}); err != nil {
		t.Fatalf("POST /ha: %v", err)
	}
	if out.HA.State != "BUILD" || out.HA.ID == "" {
		t.Fatalf("POST /ha = %+v; want a group in BUILD", out.HA)
	}
	return out.HA.ID
}

// hoardCLIAs runs hoard's CLI binary as the bootstrap admin of h.
func hoardCLIAs(h *hoard, args ...string) (string, string, error) {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "OS_AUTH_URL=http://"+h.listen+"/identity/v3", "OS_USERNAME=admin", "OS_PASSWORD="+adminPassword,
		"OS_PROJECT_NAME=admin", "OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default", "OS_REGION_NAME=RegionOne")
	cmd := exec.Command(hoardBin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// instanceDataDir is where the local driver keeps instance id's data.
func instanceDataDir(t testing.TB, h *hoard, id string) string {
	t.Helper()
	for _, pat := range []string{"*/" + id + "/*/data", "*/" + id + "/data"} {
		m, _ := filepath.Glob(filepath.Join(h.dataDir, pat))
		if len(m) == 1 {
			return m[0]
		}
	}
	t.Fatalf("no data directory of instance %s under %s", id, h.dataDir)
	return ""
}

// TestHAFailover creates an HA group of each engine through /ha, checks
// its stable addresses (writes reach the source, reads a read-only
// replica), refuses instance calls on a member, then commits numbered rows
// through the write address while the source's engine is killed and kept
// from starting again: the group fails over by itself, writes resume
// through the same address, every row the client saw acknowledged is on
// the new source (MariaDB semi-synchronous, PostgreSQL synchronous
// replication; Redis replicates asynchronously and is only checked for
// resumed writes), the ejected source is replaced by a new replica, and
// deleting the group removes every member.
func TestHAFailover(t *testing.T) {
	h := startHoard(t)
	ctx := context.Background()
	sc := h.client(ctx)
	for _, he := range haEngines {
		t.Run(he.datastore, func(t *testing.T) {
			testHAFailover(ctx, t, h, sc, he)
		})
	}
}

func testHAFailover(ctx context.Context, t *testing.T, h *hoard, sc *gophercloud.ServiceClient, he haEngine) {
	id := createHA(ctx, t, sc, he.datastore)
	v := waitHA(ctx, t, sc, id, "the group ACTIVE with two replicas", 4*time.Minute, func(v haView) bool {
		return v.HA.State == "ACTIVE" && len(v.HA.Replicas) == 2 && len(v.HA.ReplicaSource) == 1
	})
	src := v.HA.ReplicaSource[0].ID
	if v.HA.ReplicaSource[0].HAID != id {
		t.Errorf("the source's ha_id = %q; want %s", v.HA.ReplicaSource[0].HAID, id)
	}
	write, read := v.endpoint("write"), v.endpoint("read")
	if write == "" || read == "" || write == read {
		t.Fatalf("group endpoints write %q read %q", write, read)
	}
	// hoard's own CLI shows the group by name, with its addresses.
	out, errOut, err := hoardCLIAs(h, "ha", "show", "ha-"+he.datastore)
	if err != nil || !strings.Contains(out, write) || !strings.Contains(out, read) || !strings.Contains(out, "ACTIVE") {
		t.Errorf("hoard ha show = %v\n%s%s; want the state and both addresses", err, out, errOut)
	}
	if out, _, err := hoardCLIAs(h, "ha", "list", "-o", "value", "-c", "id"); err != nil || !strings.Contains(out, id) {
		t.Errorf("hoard ha list = %v\n%s; want %s", err, out, id)
	}
	// A tenant user, made on the source (allowed on a member).
	u := users.CreateOpts{Name: "app", Password: "app-pw-123"}
	if he.dbs {
		if err := databases.Create(ctx, sc, src, databases.BatchCreateOpts{{Name: "shop"}}).ExtractErr(); err != nil {
			t.Fatal(err)
		}
		u.Databases = databases.BatchCreateOpts{{Name: "shop"}}
	}
	if err := users.Create(ctx, sc, src, users.BatchCreateOpts{u}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	// Member calls Rackspace refuses.
	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"delete", func() error { _, err := sc.Delete(ctx, sc.ServiceURL("instances", src), nil); return err }},
		{"restart", func() error {
			_, err := sc.Post(ctx, sc.ServiceURL("instances", src, "action"), map[string]any{"restart": map[string]any{}}, nil, nil)
			return err
		}},
	} {
		if err := call.do(); !gophercloud.ResponseCodeIs(err, http.StatusUnprocessableEntity) {
			t.Errorf("%s of a member = %v; want 422", call.name, err)
		}
	}

	insert, closeW := he.writer(write)
	defer closeW()
	if err := insert(ctx, 0); err != nil {
		t.Fatalf("first write through the group's write address: %v", err)
	}
	// Reads reach a replica, which refuses writes.
	waitFor(t, 30*time.Second, "row 0 readable through the read address", func() bool {
		got, err := he.rows(read)
		return err == nil && got[0]
	})
	rinsert, closeR := he.writer(read)
	if err := rinsert(ctx, -1); !he.readOnly(err) {
		t.Errorf("a write through the read address = %v; want the engine's read-only refusal", err)
		for _, r := range v.HA.Replicas {
			t.Logf("replica %s: %+v", r.ID, getReplicaView(ctx, t, sc, r.ID).Instance.Replication)
		}
	}
	closeR()

	// Write continuously; kill the source's engine and keep it down.
	var (
		mu    sync.Mutex
		acked []int
		fails int
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := insert(wctx, i)
			cancel()
			mu.Lock()
			if err == nil {
				acked = append(acked, i)
			} else {
				fails++
			}
			mu.Unlock()
			if err != nil {
				<-time.After(50 * time.Millisecond) // back off before a new connection
			}
		}
	}()
	waitFor(t, 30*time.Second, "writes under way", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) > 20 })
	dataDir := instanceDataDir(t, h, src)
	if err := os.Chmod(dataDir, 0); err != nil {
		t.Fatal(err)
	}
	killed := 0
	instDir := dataDir[:strings.Index(dataDir, src)+len(src)]
	for _, pid := range instanceProcs(instDir) {
		if p, err := os.FindProcess(pid); err == nil && p.Kill() == nil {
			killed++
		}
	}
	if killed == 0 {
		t.Fatalf("no engine process of %s found to kill", src)
	}
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	v = waitHA(ctx, t, sc, id, "a failover to another member", 60*time.Second, func(v haView) bool {
		return len(v.HA.ReplicaSource) == 1 && v.HA.ReplicaSource[0].ID != src && v.HA.ReplicaSource[0].Status == "ACTIVE"
	})
	newSrc := v.HA.ReplicaSource[0].ID
	waitFor(t, 60*time.Second, "writes resumed through the same address", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) > before+20
	})
	close(stop)
	<-done
	got, err := he.rows(write)
	if err != nil {
		t.Fatalf("read the rows through the write address: %v", err)
	}
	mu.Lock()
	var lost []int
	for _, i := range acked {
		if !got[i] {
			lost = append(lost, i)
		}
	}
	t.Logf("%s: %d writes acknowledged, %d failed during the failover; new source %s", he.datastore, len(acked), fails, newSrc)
	mu.Unlock()
	if len(lost) > 0 {
		msg := fmt.Sprintf("%d acknowledged rows are not on the new source: %v", len(lost), lost[:min(len(lost), 20)])
		if he.datastore == "redis" {
			t.Log(msg + " (Redis replicates asynchronously)")
		} else {
			t.Error(msg)
		}
	}
	// The ejected source is replaced: the group is whole again, the
	// old source gone, and the failover is in its events.
	v = waitHA(ctx, t, sc, id, "the group ACTIVE again with two replicas", 4*time.Minute, func(v haView) bool {
		return v.HA.State == "ACTIVE" && len(v.HA.Replicas) == 2
	})
	if !strings.Contains(fmt.Sprint(v.HA.Events), "Failover") {
		t.Errorf("group events %v do not tell of the failover", v.HA.Events)
	}
	waitGone(ctx, t, sc, src, 60*time.Second)

	// Delete the group: every member goes, then the group.
	members := []string{newSrc, v.HA.Replicas[0].ID, v.HA.Replicas[1].ID}
	if _, err := sc.Delete(ctx, sc.ServiceURL("ha", id), &gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		waitGone(ctx, t, sc, m, 2*time.Minute)
	}
	waitFor(t, 30*time.Second, "the group gone", func() bool {
		_, err := getHA(ctx, sc, id)
		return gophercloud.ResponseCodeIs(err, http.StatusNotFound)
	})
	if c, err := net.DialTimeout("tcp", write, time.Second); err == nil {
		c.Close()
		t.Errorf("the deleted group's write address %s still accepts connections", write)
	}
}

// TestHAGroupTLS: a client that verifies the server by the address it
// connects to (pgx with sslmode verify-full, trusting only the CA from
// GET /instances/{id}/ca) gets through a PostgreSQL group's write and read
// addresses: every member's certificate names its group's address too,
// not only its own; a name the certificates do not carry is refused.
func TestHAGroupTLS(t *testing.T) {
	h := startHoard(t)
	ctx := context.Background()
	sc := h.client(ctx)
	body := map[string]any{"ha": map[string]any{
		"name":           "ha-tls",
		"datastore":      map[string]string{"type": "postgresql"},
		"replica_source": []map[string]any{{"name": "ha-tls-src", "flavorRef": "1", "volume": map[string]int{"size": 1}}},
		"replicas":       []map[string]any{{"name": "ha-tls-r1", "flavorRef": "1", "volume": map[string]int{"size": 1}}},
		"networks":       []string{"servicenet"},
	}}
	var created haView
	if _, err := sc.Post(ctx, sc.ServiceURL("ha"), body, &created, &gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}}); err != nil {
		t.Fatalf("POST /ha: %v", err)
	}
	id := created.HA.ID
	v := waitHA(ctx, t, sc, id, "the group ACTIVE with one replica", 4*time.Minute, func(v haView) bool {
		return v.HA.State == "ACTIVE" && len(v.HA.Replicas) == 1 && len(v.HA.ReplicaSource) == 1
	})
	src := v.HA.ReplicaSource[0].ID
	members := []string{src, v.HA.Replicas[0].ID}
	if err := databases.Create(ctx, sc, src, databases.BatchCreateOpts{{Name: "shop"}}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	if err := users.Create(ctx, sc, src, users.BatchCreateOpts{{Name: "app", Password: "app-pw-123",
		Databases: databases.BatchCreateOpts{{Name: "shop"}}}}).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	var ca struct {
		CA struct {
			Certificate string `json:"certificate"`
		} `json:"ca"`
	}
	if _, err := sc.Get(ctx, sc.ServiceURL("instances", src, "ca"), &ca, nil); err != nil {
		t.Fatalf("GET /instances/%s/ca: %v", src, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(ca.CA.Certificate)) {
		t.Fatalf("GET /instances/%s/ca holds no certificate: %q", src, ca.CA.Certificate)
	}
	// verifyFull connects to addr as app over TLS, verifying the server's
	// certificate for serverName.
	verifyFull := func(addr, serverName string) (bool, error) {
		host, port, _ := net.SplitHostPort(addr)
		cfg, err := pgx.ParseConfig("host=" + host + " port=" + port + " user=app dbname=shop sslmode=verify-full connect_timeout=5")
		if err != nil {
			return false, err
		}
		cfg.Password = "app-pw-123"
		cfg.TLSConfig = &tls.Config{RootCAs: roots, ServerName: serverName}
		cfg.Fallbacks = nil
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(cctx, cfg)
		if err != nil {
			return false, err
		}
		defer c.Close(ctx)
		var ssl bool
		err = c.QueryRow(cctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl)
		return ssl, err
	}
	write, read := v.endpoint("write"), v.endpoint("read")
	groupHost, _, _ := net.SplitHostPort(write)
	for _, addr := range []string{write, read} {
		if ssl, err := verifyFull(addr, groupHost); err != nil || !ssl {
			t.Errorf("pgx verify-full through %s for %s = ssl %v, %v; want a verified TLS session", addr, groupHost, ssl, err)
		}
	}
	if _, err := verifyFull(write, "not-the-group.example"); err == nil {
		t.Error("pgx verify-full accepted the group's server for a name its certificate does not carry")
	}

	if _, err := sc.Delete(ctx, sc.ServiceURL("ha", id), &gophercloud.RequestOpts{OkCodes: []int{http.StatusAccepted}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		waitGone(ctx, t, sc, m, 2*time.Minute)
	}
}
