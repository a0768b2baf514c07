package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
)

// TestReplicaCrashResume kills hoard with SIGKILL at step boundaries of a
// MariaDB replica's create and detach, starts it again on the same data
// directory, and checks that each replica ends ACTIVE and following its
// source (create) or writable and standalone (detach), with one engine per
// instance. "seed:after" loses the seed's recorded position (the step's
// completion is not stored): the resumed task must seed again.
func TestReplicaCrashResume(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)
	accepted := acceptedOrCut
	crashAt := func(t *testing.T, spec string, act func()) { sc = h.crashAt(ctx, t, spec, &sc, act) }
	mysql := kvCases[0]
	src, err := instances.Create(ctx, sc, mysql.opts(t)).Extract()
	if err != nil {
		t.Fatal(err)
	}
	srcAddr := waitStatus(ctx, t, sc, src.ID, "ACTIVE", activeTimeout).IP[0]
	if err := mysql.write(t, srcAddr, "k", "v0"); err != nil {
		t.Fatal(err)
	}

	var replicas []string
	for i, spec := range []string{"replica_create:seed:after", "replica_create:start_replica:before", "replica_create:activate:before"} {
		t.Run(spec, func(t *testing.T) {
			name := fmt.Sprintf("crash-ro-%d", i)
			var id string
			crashAt(t, spec, func() {
				var v replicaView
				_, err := sc.Post(ctx, sc.ServiceURL("instances"), map[string]any{"instance": map[string]any{"name": name, "replica_of": src.ID}},
					&v, &gophercloud.RequestOpts{OkCodes: []int{200}})
				if err != nil && !accepted(err) {
					t.Fatal(err)
				}
				id = v.Instance.ID
			})
			if id == "" {
				id = instanceIDByName(ctx, t, sc, name)
			}
			addr := waitStatus(ctx, t, sc, id, "ACTIVE", activeTimeout).IP[0]
			value := "v-" + strings.ReplaceAll(spec, ":", "-")
			if err := mysql.write(t, srcAddr, "k", value); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "the resumed replica to follow its source", func() bool { return mysql.read(t, addr, "k") == value })
			replicas = append(replicas, id)
		})
	}
	for i, spec := range []string{"detach:promote:after", "detach:unlink:after", "detach:render_standalone:before"} {
		if i >= len(replicas) {
			break
		}
		t.Run(spec, func(t *testing.T) {
			id := replicas[i]
			crashAt(t, spec, func() {
				_, err := sc.Patch(ctx, sc.ServiceURL("instances", id), map[string]any{"instance": map[string]any{"replica_of": nil}},
					nil, &gophercloud.RequestOpts{OkCodes: []int{202}})
				if err != nil && !accepted(err) {
					t.Fatal(err)
				}
			})
			addr := waitStatus(ctx, t, sc, id, "ACTIVE", activeTimeout).IP[0]
			if rv := getReplicaView(ctx, t, sc, id); rv.Instance.ReplicaOf != nil {
				t.Errorf("detached replica still shows replica_of %+v", rv.Instance.ReplicaOf)
			}
			if err := mysql.write(t, addr, "own", "yes"); err != nil {
				t.Errorf("write on the resumed detached replica: %v", err)
			}
		})
	}
	waitFor(t, 30*time.Second, "one engine per instance", func() bool {
		return len(enginePIDs(h.dataDir)) == 1+len(replicas)
	})
}

// instanceIDByName finds an instance's id by its name.
func instanceIDByName(ctx context.Context, t *testing.T, sc *gophercloud.ServiceClient, name string) string {
	t.Helper()
	pages, err := instances.List(sc).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := instances.ExtractInstances(pages)
	for _, i := range list {
		if i.Name == name {
			return i.ID
		}
	}
	t.Fatalf("instance %s not found after the crash", name)
	return ""
}

// TestPromoteCrashResume kills hoard with SIGKILL in a switchover
// (promote_to_replica_source) right after the replica was promoted, starts
// it again, and checks that the switchover finishes: the replica is the
// writable source, the old source follows it read-only, and there is one
// writable source.
func TestPromoteCrashResume(t *testing.T) {
	ctx := context.Background()
	h := startHoard(t)
	sc := h.client(ctx)
	mysql := kvCases[0]
	src, err := instances.Create(ctx, sc, mysql.opts(t)).Extract()
	if err != nil {
		t.Fatal(err)
	}
	srcAddr := waitStatus(ctx, t, sc, src.ID, "ACTIVE", activeTimeout).IP[0]
	var v replicaView
	if _, err := sc.Post(ctx, sc.ServiceURL("instances"), map[string]any{"instance": map[string]any{"name": "promote-me", "replica_of": src.ID}},
		&v, &gophercloud.RequestOpts{OkCodes: []int{200}}); err != nil {
		t.Fatal(err)
	}
	rAddr := waitStatus(ctx, t, sc, v.Instance.ID, "ACTIVE", activeTimeout).IP[0]
	if err := mysql.write(t, srcAddr, "k", "before"); err != nil {
		t.Fatal(err)
	}
	sc = h.crashAt(ctx, t, "promote:promote:after", &sc, func() {
		_, err := sc.Post(ctx, sc.ServiceURL("instances", v.Instance.ID, "action"), map[string]any{"promote_to_replica_source": map[string]any{}},
			nil, &gophercloud.RequestOpts{OkCodes: []int{202}})
		if err != nil && !acceptedOrCut(err) {
			t.Fatal(err)
		}
	})
	waitStatus(ctx, t, sc, v.Instance.ID, "ACTIVE", activeTimeout)
	waitStatus(ctx, t, sc, src.ID, "ACTIVE", activeTimeout)
	if rv := getReplicaView(ctx, t, sc, src.ID); rv.Instance.ReplicaOf == nil || rv.Instance.ReplicaOf.ID != v.Instance.ID {
		t.Fatalf("the old source after the resumed switchover: replica_of %+v, want %s", rv.Instance.ReplicaOf, v.Instance.ID)
	}
	if mysql.read(t, rAddr, "k") != "before" {
		t.Error("the promoted replica lacks the source's last write")
	}
	if err := mysql.write(t, rAddr, "k", "after"); err != nil {
		t.Fatalf("write on the new source: %v", err)
	}
	waitFor(t, 30*time.Second, "the old source to follow the new one", func() bool { return mysql.read(t, srcAddr, "k") == "after" })
	if err := mysql.write(t, srcAddr, "k", "split"); err == nil {
		t.Error("the old source still takes writes: two writable sources")
	}
}
