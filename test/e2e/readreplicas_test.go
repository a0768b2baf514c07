package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/databases"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/users"
	goredis "github.com/redis/go-redis/v9"
)

// kvCase is one datastore's way to write and read a key as the tenant user
// app (password app-pw-123, database shop) of engineOpts/mysqlOpts.
type kvCase struct {
	datastore string
	opts      func(t *testing.T) instances.CreateOpts
	// write stores key=value and returns the engine's error.
	write func(t *testing.T, addr, key, value string) error
	// read returns the value of key ("" if it has none).
	read func(t *testing.T, addr, key string) string
}

var kvCases = []kvCase{
	{
		datastore: "mysql",
		opts: func(*testing.T) instances.CreateOpts {
			return instances.CreateOpts{Name: "src-mysql", FlavorRef: "1", Size: 1,
				Databases: databases.BatchCreateOpts{{Name: "shop"}},
				Users: users.BatchCreateOpts{{Name: "app", Password: "app-pw-123",
					Databases: databases.BatchCreateOpts{{Name: "shop"}}}},
				Datastore: &instances.DatastoreOpts{Type: "mysql"}}
		},
		write: func(t *testing.T, addr, key, value string) error {
			db := openDB(t, addr, "app", "app-pw-123", "shop")
			if _, err := db.Exec("CREATE TABLE IF NOT EXISTS kv (k VARCHAR(64) PRIMARY KEY, v TEXT)"); err != nil {
				return err
			}
			_, err := db.Exec("REPLACE INTO kv VALUES (?, ?)", key, value)
			return err
		},
		read: func(t *testing.T, addr, key string) string {
			var v string
			_ = openDB(t, addr, "app", "app-pw-123", "shop").QueryRow("SELECT v FROM kv WHERE k = ?", key).Scan(&v)
			return v
		},
	},
	{
		datastore: "postgresql",
		opts:      func(t *testing.T) instances.CreateOpts { return engineOpts(t, "postgresql", "src-postgresql") },
		write: func(t *testing.T, addr, key, value string) error {
			ctx := context.Background()
			c := pgConnect(t, addr, "app", "app-pw-123", "shop")
			if _, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS kv (k text PRIMARY KEY, v text)"); err != nil {
				return err
			}
			_, err := c.Exec(ctx, "INSERT INTO kv VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v", key, value)
			return err
		},
		read: func(t *testing.T, addr, key string) string {
			var v string
			_ = pgConnect(t, addr, "app", "app-pw-123", "shop").QueryRow(context.Background(), "SELECT v FROM kv WHERE k = $1", key).Scan(&v)
			return v
		},
	},
	{
		datastore: "redis",
		opts:      func(t *testing.T) instances.CreateOpts { return engineOpts(t, "redis", "src-redis") },
		write: func(t *testing.T, addr, key, value string) error {
			return redisClient(t, addr, "app", "app-pw-123").Set(context.Background(), key, value, 0).Err()
		},
		read: func(t *testing.T, addr, key string) string {
			v, err := redisClient(t, addr, "app", "app-pw-123").Get(context.Background(), key).Result()
			if errors.Is(err, goredis.Nil) {
				return ""
			}
			return v
		},
	},
}

// replicaView is the part of an instance's detail that replication adds.
type replicaView struct {
	Instance struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		ReplicaOf *struct {
			ID string `json:"id"`
		} `json:"replica_of"`
		Replicas []struct {
			ID string `json:"id"`
		} `json:"replicas"`
		Replication *struct {
			State      string   `json:"state"`
			LagSeconds *float64 `json:"lag_seconds"`
			Error      string   `json:"error"`
		} `json:"replication"`
	} `json:"instance"`
}

func getReplicaView(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, id string) replicaView {
	t.Helper()
	var v replicaView
	if _, err := sc.Get(ctx, sc.ServiceURL("instances", id), &v, nil); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestReadReplicas creates a read replica of a MariaDB, a PostgreSQL and a
// Redis instance through the API (Trove's form), and checks with the
// engines' own clients that: the replica holds the source's data and
// follows its later writes, also after a restart of the source; tenant
// writes on the replica fail; the views show the topology and a running
// replication; the source cannot be deleted while it has replicas; and a
// detached replica is a writable, standalone instance.
func TestReadReplicas(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	killInstanceProcs(t, h)
	sc := h.client(ctx)
	for _, kc := range kvCases {
		t.Run(kc.datastore, func(t *testing.T) {
			src, err := instances.Create(ctx, sc, kc.opts(t)).Extract()
			if err != nil {
				t.Fatal(err)
			}
			srcAddr := waitStatus(ctx, t, sc, src.ID, "ACTIVE", activeTimeout).IP[0]
			if err := kc.write(t, srcAddr, "before", "seeded"); err != nil {
				t.Fatal(err)
			}

			var created replicaView
			_, err = sc.Post(ctx, sc.ServiceURL("instances"),
				map[string]any{"instance": map[string]any{"name": "ro-" + kc.datastore, "replica_of": src.ID}},
				&created, &gophercloud.RequestOpts{OkCodes: []int{200}})
			if err != nil {
				t.Fatal(err)
			}
			rid := created.Instance.ID
			if created.Instance.ReplicaOf == nil || created.Instance.ReplicaOf.ID != src.ID {
				t.Errorf("created replica's replica_of = %+v, want %s", created.Instance.ReplicaOf, src.ID)
			}
			rAddr := waitStatus(ctx, t, sc, rid, "ACTIVE", activeTimeout).IP[0]
			if got := kc.read(t, rAddr, "before"); got != "seeded" {
				t.Errorf("replica's seed: before = %q, want seeded", got)
			}
			follows := func(key, value string) {
				t.Helper()
				if err := kc.write(t, srcAddr, key, value); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(30 * time.Second)
				for kc.read(t, rAddr, key) != value {
					if time.Now().After(deadline) {
						rv := getReplicaView(ctx, t, sc, rid)
						t.Fatalf("the replica did not apply %s within 30s; its replication: %+v", key, rv.Instance.Replication)
					}
					pollPause(50 * time.Millisecond)
				}
			}
			follows("after", "streamed")
			if err := kc.write(t, rAddr, "mine", "x"); err == nil {
				t.Error("a tenant write on the replica succeeded")
			} else if !strings.Contains(strings.ToLower(err.Error()), "read") {
				t.Errorf("a tenant write on the replica failed with %v, want the engine's read-only error", err)
			}

			rv := getReplicaView(ctx, t, sc, rid)
			if rv.Instance.Replication == nil || rv.Instance.Replication.State != "running" ||
				rv.Instance.Replication.LagSeconds == nil || *rv.Instance.Replication.LagSeconds < 0 {
				t.Errorf("replica's replication = %+v, want running with a lag", rv.Instance.Replication)
			}
			if sv := getReplicaView(ctx, t, sc, src.ID); len(sv.Instance.Replicas) != 1 || sv.Instance.Replicas[0].ID != rid {
				t.Errorf("source's replicas = %+v, want [%s]", sv.Instance.Replicas, rid)
			}
			var list struct {
				Instances []struct {
					ID string `json:"id"`
				} `json:"instances"`
			}
			if _, err := sc.Get(ctx, sc.ServiceURL("instances", src.ID, "replicas"), &list, nil); err != nil || len(list.Instances) != 1 {
				t.Errorf("GET replicas = %+v, %v", list, err)
			}

			// The source restarts: the replica reconnects by itself.
			if err := instances.Restart(ctx, sc, src.ID).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			waitStatus(ctx, t, sc, src.ID, "ACTIVE", activeTimeout)
			follows("after-restart", "again")

			err = instances.Delete(ctx, sc, src.ID).ExtractErr()
			if !gophercloud.ResponseCodeIs(err, http.StatusForbidden) {
				t.Errorf("delete of a source with replicas = %v, want 403", err)
			}

			// Detach: the replica becomes a writable, standalone instance.
			_, err = sc.Patch(ctx, sc.ServiceURL("instances", rid), map[string]any{"instance": map[string]any{"replica_of": nil}},
				nil, &gophercloud.RequestOpts{OkCodes: []int{202}})
			if err != nil {
				t.Fatal(err)
			}
			waitStatus(ctx, t, sc, rid, "ACTIVE", activeTimeout)
			if rv := getReplicaView(ctx, t, sc, rid); rv.Instance.ReplicaOf != nil || rv.Instance.Replication != nil {
				t.Errorf("detached replica view %+v, want standalone", rv.Instance)
			}
			if err := kc.write(t, rAddr, "mine", "ok"); err != nil {
				t.Errorf("write on the detached replica: %v", err)
			}
			// It stays writable across a restart.
			if err := instances.Restart(ctx, sc, rid).ExtractErr(); err != nil {
				t.Fatal(err)
			}
			waitStatus(ctx, t, sc, rid, "ACTIVE", activeTimeout)
			if err := kc.write(t, rAddr, "mine", "after restart"); err != nil {
				t.Errorf("write on the detached replica after a restart: %v", err)
			}
			for _, id := range []string{rid, src.ID} {
				if err := instances.Delete(ctx, sc, id).ExtractErr(); err != nil {
					t.Fatal(err)
				}
				waitGone(ctx, t, sc, id, activeTimeout)
			}
		})
	}
}

// TestReplicaSwitchover makes a replica of a MariaDB, a PostgreSQL and a
// Redis source the source of its set (promote_to_replica_source) while the
// old source holds acknowledged writes, and checks with the engines'
// clients that no write is lost: everything written before is on every
// member, the new source takes writes that reach the old source and the
// other replica, which refuse tenant writes.
func TestReplicaSwitchover(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	killInstanceProcs(t, h)
	sc := h.client(ctx)
	for _, kc := range kvCases {
		t.Run(kc.datastore, func(t *testing.T) {
			src, err := instances.Create(ctx, sc, kc.opts(t)).Extract()
			if err != nil {
				t.Fatal(err)
			}
			srcAddr := waitStatus(ctx, t, sc, src.ID, "ACTIVE", activeTimeout).IP[0]
			if err := kc.write(t, srcAddr, "k0", "seed"); err != nil {
				t.Fatal(err)
			}
			var ids, addrs []string
			for _, name := range []string{"sw1-" + kc.datastore, "sw2-" + kc.datastore} {
				var v replicaView
				if _, err := sc.Post(ctx, sc.ServiceURL("instances"), map[string]any{"instance": map[string]any{"name": name, "replica_of": src.ID}},
					&v, &gophercloud.RequestOpts{OkCodes: []int{200}}); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, v.Instance.ID)
			}
			for _, id := range ids {
				addrs = append(addrs, waitStatus(ctx, t, sc, id, "ACTIVE", activeTimeout).IP[0])
			}
			// Acknowledged writes right before the switchover.
			for i := range 20 {
				if err := kc.write(t, srcAddr, fmt.Sprintf("k%d", i+1), "before"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := sc.Post(ctx, sc.ServiceURL("instances", ids[0], "action"), map[string]any{"promote_to_replica_source": map[string]any{}},
				nil, &gophercloud.RequestOpts{OkCodes: []int{202}}); err != nil {
				t.Fatal(err)
			}
			for _, id := range append([]string{src.ID}, ids...) {
				waitStatus(ctx, t, sc, id, "ACTIVE", activeTimeout)
			}
			if v := getReplicaView(ctx, t, sc, ids[0]); v.Instance.ReplicaOf != nil || len(v.Instance.Replicas) != 2 {
				t.Errorf("new source's view %+v, want no replica_of and two replicas", v.Instance)
			}
			if v := getReplicaView(ctx, t, sc, src.ID); v.Instance.ReplicaOf == nil || v.Instance.ReplicaOf.ID != ids[0] {
				t.Errorf("old source's replica_of = %+v, want %s", v.Instance.ReplicaOf, ids[0])
			}
			for _, a := range append([]string{srcAddr}, addrs...) {
				for i := range 20 {
					if got := kc.read(t, a, fmt.Sprintf("k%d", i+1)); got != "before" {
						t.Fatalf("k%d at %s = %q after the switchover, want before (a lost write)", i+1, a, got)
					}
				}
			}
			if err := kc.write(t, addrs[0], "after", "switch"); err != nil {
				t.Fatalf("write on the new source: %v", err)
			}
			for _, a := range []string{srcAddr, addrs[1]} {
				waitFor(t, 30*time.Second, "the write on the new source to reach "+a, func() bool { return kc.read(t, a, "after") == "switch" })
				if err := kc.write(t, a, "mine", "x"); err == nil {
					t.Errorf("a tenant write on %s, now a replica, succeeded", a)
				}
			}
			for _, id := range []string{src.ID, ids[1], ids[0]} {
				if err := instances.Delete(ctx, sc, id).ExtractErr(); err != nil {
					t.Fatal(err)
				}
				waitGone(ctx, t, sc, id, activeTimeout)
			}
		})
	}
}
