package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// backupCase is one datastore's backup story: fill writes data, snapshot
// returns a description of all of it that a restore must reproduce.
type backupCase struct {
	datastore string
	fill      func(t *testing.T, addr string)
	snapshot  func(t *testing.T, addr string) string
}

var backupCases = []backupCase{
	{
		datastore: "postgresql",
		fill: func(t *testing.T, addr string) {
			ctx := context.Background()
			c := pgConnect(t, addr, "app", "app-pw-123", "shop")
			for _, q := range []string{
				"CREATE TABLE orders (id int PRIMARY KEY, customer text, amount numeric(10,2))",
				"INSERT INTO orders SELECT g, 'c' || (g % 97), (g * 7 % 1000) / 10.0 FROM generate_series(1, 20000) g",
				"CREATE TABLE notes (id serial PRIMARY KEY, body text)",
				"INSERT INTO notes (body) SELECT md5(g::text) FROM generate_series(1, 500) g",
			} {
				if _, err := c.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		},
		// Row counts and a checksum of every table.
		snapshot: func(t *testing.T, addr string) string {
			ctx := context.Background()
			c := pgConnect(t, addr, "app", "app-pw-123", "shop")
			var out []string
			for _, tbl := range []string{"orders", "notes"} {
				var n, sum string
				q := fmt.Sprintf("SELECT count(*)::text, md5(string_agg(t::text, ',' ORDER BY id)) FROM %s t", tbl)
				if err := c.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				out = append(out, tbl+" "+n+" "+sum)
			}
			return strings.Join(out, "; ")
		},
	},
	{
		datastore: "redis",
		fill: func(t *testing.T, addr string) {
			ctx := context.Background()
			c := redisClient(t, addr, "app", "app-pw-123")
			p := c.Pipeline()
			for i := range 5000 {
				p.Set(ctx, fmt.Sprintf("k:%d", i), fmt.Sprintf("v-%d", i*31), 0)
			}
			p.HSet(ctx, "h", "a", "1", "b", "2")
			p.RPush(ctx, "l", "x", "y", "z")
			if _, err := p.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		},
		// Every key with its type and value.
		snapshot: func(t *testing.T, addr string) string {
			ctx := context.Background()
			c := redisClient(t, addr, "app", "app-pw-123")
			keys, err := c.Keys(ctx, "*").Result()
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(keys)
			var b strings.Builder
			for _, k := range keys {
				switch typ := c.Type(ctx, k).Val(); typ {
				case "string":
					fmt.Fprintf(&b, "%s=%s\n", k, c.Get(ctx, k).Val())
				case "hash":
					fmt.Fprintf(&b, "%s=%v\n", k, c.HGetAll(ctx, k).Val())
				case "list":
					fmt.Fprintf(&b, "%s=%v\n", k, c.LRange(ctx, k, 0, -1).Val())
				default:
					fmt.Fprintf(&b, "%s: %s\n", k, typ)
				}
			}
			return fmt.Sprintf("%d keys, sha of all: %x", len(keys), sha256.Sum256([]byte(b.String())))
		},
	},
}

// TestBackupRestoreEngines backs up a PostgreSQL and a Redis instance
// through the API, restores each backup into a new instance and checks
// that the data is identical (PostgreSQL: row counts and checksums;
// Redis: every key and value), that the created user works on the copy,
// and that an incremental backup is refused with 501 naming the
// datastore.
func TestBackupRestoreEngines(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	killInstanceProcs(t, h)
	sc := h.client(ctx)
	for _, bc := range backupCases {
		t.Run(bc.datastore, func(t *testing.T) {
			src, err := instances.Create(ctx, sc, engineOpts(t, bc.datastore, "bk-"+bc.datastore)).Extract()
			if err != nil {
				t.Fatal(err)
			}
			inst := waitStatus(ctx, t, sc, src.ID, "ACTIVE", activeTimeout)
			bc.fill(t, inst.IP[0])
			want := bc.snapshot(t, inst.IP[0])

			full := createBackup(ctx, t, sc, "full-"+bc.datastore, src.ID, "")
			full = waitBackup(ctx, t, sc, full.ID)
			if full.Size == nil || *full.Size <= 0 || full.Datastore == nil || full.Datastore.Type != bc.datastore {
				t.Errorf("completed backup = %+v", full)
			}
			waitStatus(ctx, t, sc, src.ID, "ACTIVE", activeTimeout)

			// Incremental: refused at once, naming the datastore.
			_, err = tryCreateBackup(ctx, sc, "inc", src.ID, full.ID)
			var ue gophercloud.ErrUnexpectedResponseCode
			if !gophercloud.ResponseCodeIs(err, http.StatusNotImplemented) {
				t.Errorf("incremental backup: %v, want 501", err)
			} else if errors.As(err, &ue) && !strings.Contains(string(ue.Body), bc.datastore) {
				t.Errorf("incremental refusal %s does not name %s", ue.Body, bc.datastore)
			}

			id, err := restore(ctx, sc, "restored-"+bc.datastore, full.ID, 1)
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			dst := waitStatus(ctx, t, sc, id, "ACTIVE", activeTimeout)
			if dst.Datastore.Type != bc.datastore {
				t.Errorf("restored datastore = %+v", dst.Datastore)
			}
			if got := bc.snapshot(t, dst.IP[0]); got != want {
				t.Errorf("restored data = %s\nwant %s", got, want)
			}
			// The copy is a running instance of its own: a restart keeps it.
			if err := instances.Restart(ctx, sc, id).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			waitStatus(ctx, t, sc, id, "ACTIVE", activeTimeout)
			if got := bc.snapshot(t, dst.IP[0]); got != want {
				t.Errorf("restored data after restart = %s\nwant %s", got, want)
			}
			for _, i := range []string{src.ID, id} {
				if err := instances.Delete(ctx, sc, i).ExtractErr(); err != nil {
					t.Fatal(err)
				}
				waitGone(ctx, t, sc, i, activeTimeout)
			}
			if _, err := sc.Delete(ctx, sc.ServiceURL("backups", full.ID), &gophercloud.RequestOpts{OkCodes: []int{202}}); err != nil {
				t.Errorf("delete backup: %v", err)
			}
		})
	}
}
