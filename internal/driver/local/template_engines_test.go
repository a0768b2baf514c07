package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/enginetest"
	"github.com/hoard-db/hoard/internal/datastore/mariadb"
	"github.com/hoard-db/hoard/internal/datastore/postgresql"
	"github.com/hoard-db/hoard/internal/driver"
)

// TestTemplatePoolEngines: with real MariaDB and PostgreSQL on loop
// volumes (plain directories without root), instances made from the pool
// have the files, modes and owners of a freshly initialised one, start,
// accept hoard's admin account and a tenant user with their own
// passwords (and refuse a wrong one), survive a restart and back up; two
// PostgreSQL instances have different system identifiers.
func TestTemplatePoolEngines(t *testing.T) {
	for _, eng := range []datastore.Engine{mariadb.New(mariadb.Config{}), postgresql.New(postgresql.Config{})} {
		t.Run(eng.Name(), func(t *testing.T) {
			if _, err := eng.Discover(context.Background()); errors.Is(err, datastore.ErrNotInstalled) {
				enginetest.Unavailable(t, "%s is not installed", eng.Name())
			} else if err != nil {
				t.Fatal(err)
			}
			testTemplatePoolEngine(t, eng)
		})
	}
}

func testTemplatePoolEngine(t *testing.T, eng datastore.Engine) {
	ctx := context.Background()
	h := newHarness(t, nil)
	volumes := VolumesDir
	if volumeSupport(os.Geteuid() == 0) == nil {
		volumes = VolumesLoop
	}
	adminPW := map[string]datastore.Secret{}
	mk := func(pool int) *Driver {
		d, err := New(Config{
			Root:         h.root,
			Engines:      map[string]datastore.Engine{eng.Name(): eng},
			Logger:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
			Credentials:  func(id string) (string, datastore.Secret) { return eng.AdminUser(), adminPW[id] },
			Volumes:      volumes,
			TemplatePool: pool,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	d := mk(2)
	waitFor(t, 3*time.Minute, "the pool is full", func() bool { return ready(d, eng.Name()) == 2 })

	type inst struct {
		s      driver.Spec
		admin  datastore.Conn
		tenant datastore.User
	}
	var insts []inst
	for i, id := range []string{"pa", "pb"} {
		adminPW[id] = datastore.Secret(fmt.Sprintf("Adm1n-%s-%d-pw", id, time.Now().UnixNano()))
		s := driver.Spec{InstanceID: id, Engine: eng.Name(), Address: "127.0.0.1", Port: freePort(t), RAMMB: 512, VolumeGB: 1}
		if err := d.Provision(ctx, s); err != nil {
			t.Fatal(err)
		}
		if exists(filepath.Join(h.root, id, "log", "init.log")) {
			t.Fatalf("instance %s: the init ran although the pool was full", id)
		}
		if i == 0 {
			// The same files, modes and owners as a fresh init (a second
			// driver on the same root, without a pool).
			fresh := driver.Spec{InstanceID: "fresh", Engine: eng.Name(), Address: "127.0.0.1", Port: freePort(t), RAMMB: 512, VolumeGB: 1}
			d0 := mk(0)
			if err := d0.Provision(ctx, fresh); err != nil {
				t.Fatal(err)
			}
			if !exists(filepath.Join(h.root, "fresh", "log", "init.log")) {
				t.Fatal("a driver without a pool did not run the init")
			}
			compareLayouts(t, layout(t, d0.dataDir("fresh"), instanceAccount(t, d0, "fresh")),
				layout(t, d.dataDir(id), instanceAccount(t, d, id)))
			if err := d0.Destroy(ctx, "fresh"); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Start(ctx, s); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Destroy(context.Background(), id) })
		admin := d.Conn(s)
		admin.User, admin.Password = eng.AdminUser(), adminPW[id]
		waitPing(t, eng, admin)
		if err := eng.Bootstrap(ctx, admin); err != nil {
			t.Fatal(err)
		}
		u := datastore.User{Name: "app", Host: "%", Password: datastore.Secret(fmt.Sprintf("T3nant-%s-%d", id, time.Now().UnixNano())), Databases: []string{"appdb"}}
		if err := eng.(datastore.DatabaseAdmin).CreateDatabases(ctx, admin, []datastore.Database{{Name: "appdb"}}); err != nil {
			t.Fatal(err)
		}
		if err := eng.CreateUsers(ctx, admin, []datastore.User{u}); err != nil {
			t.Fatal(err)
		}
		insts = append(insts, inst{s, admin, u})
	}

	check := func(when string) {
		t.Helper()
		for i, in := range insts {
			if err := eng.(datastore.AdminChecker).CheckAdmin(ctx, in.admin); err != nil {
				t.Errorf("%s: admin account of %s: %v", when, in.s.InstanceID, err)
			}
			if err := tenantLogin(ctx, eng.Name(), in.s, in.tenant.Name, string(in.tenant.Password)); err != nil {
				t.Errorf("%s: tenant user of %s: %v", when, in.s.InstanceID, err)
			}
			// The other instance's password is refused.
			other := insts[1-i].tenant.Password
			if err := tenantLogin(ctx, eng.Name(), in.s, in.tenant.Name, string(other)); err == nil {
				t.Errorf("%s: %s accepted another instance's tenant password", when, in.s.InstanceID)
			}
		}
	}
	check("after create")

	if eng.Name() == "postgresql" {
		var ids [2]string
		for i, in := range insts {
			ids[i] = queryPG(t, in.s, in.admin, "SELECT system_identifier::text FROM pg_control_system()")
		}
		if ids[0] == ids[1] {
			t.Errorf("two instances share the system identifier %s", ids[0])
		}
	}

	if err := d.Restart(ctx, insts[0].s); err != nil {
		t.Fatal(err)
	}
	waitPing(t, eng, insts[0].admin)
	check("after a restart")

	work := t.TempDir()
	var n countWriter
	if _, err := eng.(datastore.Backuper).Backup(ctx, insts[0].admin, d.EngineSpec(insts[0].s), work, &n, nil); err != nil {
		t.Fatalf("backup of a pooled instance: %v", err)
	}
	if n == 0 {
		t.Error("the backup is empty")
	}
	waitFor(t, 3*time.Minute, "the pool is refilled", func() bool { return ready(d, eng.Name()) == 2 })
}

type countWriter int64

func (c *countWriter) Write(b []byte) (int, error) { *c += countWriter(len(b)); return len(b), nil }

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", d, what)
		}
		<-tick.C
	}
}

// waitPing waits until the engine answers c.
func waitPing(t *testing.T, eng datastore.Engine, c datastore.Conn) {
	t.Helper()
	var last error
	waitFor(t, time.Minute, "the engine answers", func() bool {
		pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		last = eng.Ping(pctx, c)
		return last == nil
	})
}

// tenantLogin logs in as user with password over TCP to database appdb.
func tenantLogin(ctx context.Context, engine string, s driver.Spec, user, password string) error {
	switch engine {
	case "mariadb":
		cfg := mysql.NewConfig()
		cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = user, password, "tcp", net.JoinHostPort(s.Address, strconv.Itoa(s.Port)), "appdb"
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			return err
		}
		defer db.Close()
		return db.PingContext(ctx)
	default:
		c, err := pgx.Connect(ctx, pgURL(s, user, password, "appdb"))
		if err != nil {
			return err
		}
		return c.Close(ctx)
	}
}

func pgURL(s driver.Spec, user, password, db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: net.JoinHostPort(s.Address, strconv.Itoa(s.Port)), Path: "/" + db}
	return u.String() + "?sslmode=disable"
}

// queryPG runs a one-value query as hoard's admin account c.
func queryPG(t *testing.T, s driver.Spec, c0 datastore.Conn, q string) string {
	t.Helper()
	c, err := pgx.Connect(context.Background(), pgURL(s, c0.User, string(c0.Password), "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var v string
	if err := c.QueryRow(context.Background(), q).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

var _ io.Writer = (*countWriter)(nil)
