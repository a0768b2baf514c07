package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/databases"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/datastores"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-db/hoard/internal/datastore/enginetest"
)

// instanceProcs lists the live processes (not zombies) whose working
// directory is inside dir: every process of every engine of one hoard
// data directory (the local driver runs engines in their data directory).
// Unlike enginePIDs it does not depend on the command line, which
// redis-server and postgres's children rewrite.
func instanceProcs(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || !strings.HasPrefix(cwd, dir+"/") {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// killInstanceProcs is a cleanup for tests whose engines enginePIDs does
// not know: it kills what is left and waits until it is gone.
func killInstanceProcs(t *testing.T, h *hoard) {
	t.Cleanup(func() {
		if h.running() {
			_ = h.cmd.Process.Signal(syscall.SIGKILL)
			<-h.done
			h.done <- nil
		}
		for _, pid := range instanceProcs(h.dataDir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		waitFor(t, 30*time.Second, "engines of the test to exit", func() bool { return len(instanceProcs(h.dataDir)) == 0 })
	})
}

// engineCase is one non-MariaDB datastore and how to use an instance of it.
type engineCase struct {
	datastore   string
	versionFrom func(t *testing.T) string // the installed version, from the binary
	opts        instances.CreateOpts
	// use writes data as the created user and changes a runtime setting
	// (returning what it was before); check verifies after a restart that
	// the data is there and the setting is back to before.
	use   func(t *testing.T, h *hoard, id, addr string) (before string)
	check func(t *testing.T, h *hoard, id, addr, before string)
}

func versionOutput(t *testing.T, bin string) string {
	t.Helper()
	out, err := execOutput(bin, "--version")
	if err != nil {
		enginetest.Unavailable(t, "%s not installed: %v", bin, err)
	}
	return out
}

func pgConnect(t *testing.T, addr, user, pw, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = addr, 5432, user, pw, db
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to postgresql %s as %s: %v", addr, user, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func redisClient(t *testing.T, addr, user, pw string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: net.JoinHostPort(addr, "6379"), Username: user, Password: pw, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var engineCases = []engineCase{
	{
		datastore: "postgresql",
		versionFrom: func(t *testing.T) string {
			// "postgres (PostgreSQL) 15.18 (Debian ...)"
			f := strings.Fields(versionOutput(t, "/usr/lib/postgresql/15/bin/postgres"))
			return f[2]
		},
		opts: instances.CreateOpts{
			Name: "pg", FlavorRef: "1", Size: 1,
			Databases: databases.BatchCreateOpts{{Name: "shop"}},
			Users: users.BatchCreateOpts{{Name: "app", Password: "app-pw-123",
				Databases: databases.BatchCreateOpts{{Name: "shop"}}}},
			Datastore: &instances.DatastoreOpts{Type: "postgresql"},
		},
		use: func(t *testing.T, h *hoard, id, addr string) string {
			ctx := context.Background()
			c := pgConnect(t, addr, "app", "app-pw-123", "shop")
			for _, q := range []string{"CREATE TABLE orders (id int PRIMARY KEY, item text)", "INSERT INTO orders VALUES (1, 'apple'), (2, 'pear')"} {
				if _, err := c.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			var before string
			if err := c.QueryRow(ctx, "SHOW work_mem").Scan(&before); err != nil {
				t.Fatal(err)
			}
			// Tenants cannot ALTER SYSTEM; an operator's (or a root
			// user's) ALTER SYSTEM lands in postgresql.auto.conf, which is
			// what we write here. A restart must erase it.
			if _, err := c.Exec(ctx, "ALTER SYSTEM SET work_mem = '9MB'"); err == nil {
				t.Error("the created user may ALTER SYSTEM")
			}
			auto := filepath.Join(h.instanceDataDir(id), "postgresql.auto.conf")
			if err := os.WriteFile(auto, []byte("work_mem = '9MB'\nmax_connections = 77\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return before
		},
		check: func(t *testing.T, h *hoard, id, addr, before string) {
			ctx := context.Background()
			c := pgConnect(t, addr, "app", "app-pw-123", "shop")
			var wm string
			var n int
			if err := c.QueryRow(ctx, "SHOW work_mem").Scan(&wm); err != nil || wm != before {
				t.Errorf("work_mem after restart = %q, %v; want %s", wm, err, before)
			}
			if err := c.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil || n != 2 {
				t.Errorf("rows after restart = %d, %v; want 2", n, err)
			}
		},
	},
	{
		datastore: "redis",
		versionFrom: func(t *testing.T) string {
			// "Redis server v=7.0.15 sha=..."
			for _, f := range strings.Fields(versionOutput(t, "redis-server")) {
				if v, ok := strings.CutPrefix(f, "v="); ok {
					return v
				}
			}
			t.Fatal("no version in redis-server --version")
			return ""
		},
		opts: instances.CreateOpts{
			Name: "cache", FlavorRef: "1", Size: 1,
			Users:     users.BatchCreateOpts{{Name: "app", Password: "app-pw-123"}},
			Datastore: &instances.DatastoreOpts{Type: "redis"},
		},
		use: func(t *testing.T, h *hoard, id, addr string) string {
			ctx := context.Background()
			c := redisClient(t, addr, "app", "app-pw-123")
			if err := c.Set(ctx, "greeting", "hello", 0).Err(); err != nil {
				t.Fatalf("SET as app: %v", err)
			}
			before := c.ConfigGet(ctx, "maxmemory").Val()["maxmemory"]
			if err := c.ConfigSet(ctx, "maxmemory", "10mb").Err(); err != nil {
				t.Fatalf("CONFIG SET as app: %v", err)
			}
			if got := c.ConfigGet(ctx, "maxmemory").Val()["maxmemory"]; got != "10485760" {
				t.Fatalf("maxmemory after CONFIG SET = %s", got)
			}
			if err := c.ConfigRewrite(ctx).Err(); err == nil {
				t.Error("CONFIG REWRITE allowed")
			}
			// Without credentials nothing works.
			if err := redisClient(t, addr, "", "").Get(ctx, "greeting").Err(); err == nil {
				t.Error("GET without authentication worked")
			}
			return before
		},
		check: func(t *testing.T, h *hoard, id, addr, before string) {
			ctx := context.Background()
			c := redisClient(t, addr, "app", "app-pw-123")
			if got := c.ConfigGet(ctx, "maxmemory").Val()["maxmemory"]; got != before {
				t.Errorf("maxmemory after restart = %s, want %s", got, before)
			}
			if v, err := c.Get(ctx, "greeting").Result(); err != nil || v != "hello" {
				t.Errorf("GET after restart = %q, %v", v, err)
			}
		},
	},
}

// TestEngines runs the instance story of TestInstanceLifecycle on the
// PostgreSQL and Redis datastores: the catalogue shows the installed
// version, an instance with a user (and for PostgreSQL a database) becomes
// ACTIVE and is usable with the engine's own client at its address and
// standard port, a restart erases runtime settings and keeps data, and a
// delete leaves nothing behind.
func TestEngines(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t, "HOARD_TEMPLATE_POOL=1")
	killInstanceProcs(t, h)
	sc := h.client(ctx)

	dp, err := datastores.List(sc).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dss, err := datastores.ExtractDatastores(dp)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string][]string{}
	for _, d := range dss {
		for _, v := range d.Versions {
			versions[d.Name] = append(versions[d.Name], v.Name)
		}
	}

	for _, ec := range engineCases {
		t.Run(ec.datastore, func(t *testing.T) {
			full := ec.versionFrom(t)
			major, minor, _ := strings.Cut(full, ".")
			want := major
			if ec.datastore == "redis" {
				minor, _, _ = strings.Cut(minor, ".")
				want = major + "." + minor
			}
			if !slices.Contains(versions[ec.datastore], want) {
				t.Errorf("datastore %s versions = %v, want %s (installed %s)", ec.datastore, versions[ec.datastore], want, full)
			}

			if ec.datastore == "postgresql" {
				// Its data comes from a pre-initialised directory.
				waitTemplateReady(t, h, ec.datastore)
			}
			inst, err := instances.Create(ctx, sc, ec.opts).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if inst.Datastore.Type != ec.datastore {
				t.Errorf("create returned datastore %+v", inst.Datastore)
			}
			inst = waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
			if len(inst.IP) != 1 {
				t.Fatalf("active instance = %+v, want an address", inst)
			}
			if ec.datastore == "postgresql" && !createdFromTemplate(h, inst.ID) {
				t.Errorf("instance %s was not created from the template pool", inst.ID)
			}
			addr := inst.IP[0]
			before := ec.use(t, h, inst.ID, addr)
			instDir := filepath.Join(h.dataDir, "instances", inst.ID)
			pidsBefore := instanceProcs(instDir)

			if err := instances.Restart(ctx, sc, inst.ID).ExtractErr(); err != nil {
				t.Fatalf("restart: %v", err)
			}
			if got, err := instances.Get(ctx, sc, inst.ID).Extract(); err != nil || (got.Status != "REBOOT" && got.Status != "ACTIVE") {
				t.Errorf("right after restart: %+v, %v; want REBOOT", got, err)
			}
			waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)
			pidsAfter := instanceProcs(instDir)
			if len(pidsBefore) == 0 || len(pidsAfter) == 0 || slices.Contains(pidsAfter, pidsBefore[0]) {
				t.Errorf("engine processes before %v, after %v: want new ones", pidsBefore, pidsAfter)
			}
			ec.check(t, h, inst.ID, addr, before)

			if err := instances.Delete(ctx, sc, inst.ID).ExtractErr(); err != nil {
				t.Fatalf("delete: %v", err)
			}
			waitGone(ctx, t, sc, inst.ID, time.Minute)
			waitFor(t, 30*time.Second, "engine processes to exit", func() bool { return len(instanceProcs(instDir)) == 0 })
			if _, err := os.Stat(instDir); !os.IsNotExist(err) {
				t.Errorf("instance directory left after delete: %v", err)
			}
		})
	}

	// Redis has no databases: 501 at once, naming the datastore.
	t.Run("redis databases", func(t *testing.T) {
		opts := engineCases[1].opts
		opts.Name = "cache-db"
		opts.Databases = databases.BatchCreateOpts{{Name: "x"}}
		_, err := instances.Create(ctx, sc, opts).Extract()
		if !gophercloud.ResponseCodeIs(err, http.StatusNotImplemented) || !strings.Contains(err.Error(), "'redis' datastore") {
			t.Errorf("create redis with databases: %v, want 501 naming redis", err)
		}
	})
}

// execOutput runs a program and returns its standard output.
func execOutput(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).Output()
	return string(out), err
}
