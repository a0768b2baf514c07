package e2e

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/db/v1/instances"
	"github.com/jackc/pgx/v5"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/mariadb"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/driver/kubernetes"
	"github.com/hoard-db/hoard/internal/k8stest"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/pgtest"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/store/postgres"
)

// k8sPrefix is the namespace prefix of the replicas under test.
const k8sPrefix = "hoard-e2e-"

// podLog records, from a watch, the pods of one instance: every UID seen
// and every UID seen going away (a deletion timestamp, or deleted).
type podLog struct {
	mu      sync.Mutex
	uids    []types.UID
	deleted map[types.UID]int
}

func (l *podLog) add(p *corev1.Pod, gone bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := false
	for _, u := range l.uids {
		seen = seen || u == p.UID
	}
	if !seen {
		l.uids = append(l.uids, p.UID)
	}
	if (gone || p.DeletionTimestamp != nil) && l.deleted[p.UID] == 0 {
		l.deleted[p.UID] = 1
	}
}

func (l *podLog) snapshot() ([]types.UID, map[types.UID]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := make(map[types.UID]int, len(l.deleted))
	for k, v := range l.deleted {
		d[k] = v
	}
	return append([]types.UID(nil), l.uids...), d
}

// watchPods records the pods of instance id in ns until the test ends.
func watchPods(t *testing.T, cl *k8stest.Cluster, ns, id string) *podLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sel := metav1.ListOptions{LabelSelector: kubernetes.LabelInstance + "=" + id}
	list, err := cl.Client.CoreV1().Pods(ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	l := &podLog{deleted: map[types.UID]int{}}
	for i := range list.Items {
		l.add(&list.Items[i], false)
	}
	sel.ResourceVersion = list.ResourceVersion
	w, err := cl.Client.CoreV1().Pods(ns).Watch(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok {
				l.add(p, ev.Type == watch.Deleted)
			}
		}
	}()
	t.Cleanup(func() { cancel(); w.Stop(); <-done })
	return l
}

// statusLog records the statuses an instance shows, polled every 50 ms
// through any replica that answers, until stopped.
type statusLog struct {
	mu   sync.Mutex
	seen []string // distinct consecutive statuses, in order
	n    int      // samples taken
	stop func()
}

// watchStatuses starts polling instance id through clients (one per
// replica; a replica that is down simply does not answer).
func watchStatuses(t *testing.T, clients []*gophercloud.ServiceClient, id string) *statusLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &statusLog{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			inst, err := instances.Get(ctx, clients[i%len(clients)], id).Extract()
			if err == nil {
				l.mu.Lock()
				if len(l.seen) == 0 || l.seen[len(l.seen)-1] != inst.Status {
					l.seen = append(l.seen, inst.Status)
				}
				l.n++
				l.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	l.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(l.stop)
	return l
}

// samples returns the number of samples and the statuses seen so far.
func (l *statusLog) samples() (int, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, append([]string(nil), l.seen...)
}

// seedK8sInstance makes an ACTIVE MariaDB instance of tenant in the
// replicas' store and cluster, without a create task: under kwok no
// database runs in the pods, so a create's bootstrap step (SQL over the
// network) could never succeed. It writes the row a create would have
// written (status ACTIVE, the driver's address, the admin password sealed
// with the replicas' key) and runs the Kubernetes driver's own Provision
// and Start with the spec the replicas derive from that row (same engines,
// images, storage class and credentials, so the same spec hash), until
// the pod is Ready.
func seedK8sInstance(t *testing.T, cl *k8stest.Cluster, dsn, keyPath, tenant string) (*model.Instance, driver.Spec) {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sealer, err := secret.LoadOrCreateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	dss, err := st.ListDatastores(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var dv *model.DatastoreVersion
	for _, ds := range dss {
		for i, v := range ds.Versions {
			if ds.Name == "mysql" && v.Engine == "mariadb" && v.Active {
				dv = &ds.Versions[i]
			}
		}
	}
	if dv == nil {
		t.Fatalf("no active mysql version in the catalogue: %+v", dss)
	}
	flavor, err := st.GetFlavor(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	pw := secret.Password(24)
	sealed, err := sealer.Seal([]byte(pw))
	if err != nil {
		t.Fatal(err)
	}
	maria := mariadb.New(mariadb.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	drv, err := kubernetes.New(kubernetes.Config{
		Client:          cl.Client,
		NamespacePrefix: k8sPrefix,
		StorageClass:    k8stest.StorageClass,
		Engines:         map[string]datastore.Engine{maria.Name(): maria},
		Credentials: func(string) (string, datastore.Secret) {
			return maria.AdminUser(), datastore.Secret(pw)
		},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		PollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	inst := &model.Instance{
		ID: uuid.NewString(), TenantID: tenant, Name: "k8s-replicated", Status: model.StatusActive,
		FlavorID: flavor.ID, VolumeSize: 1, Datastore: dv.DatastoreName, DatastoreVersion: dv.Name, DatastoreVersionID: dv.ID,
		Port: maria.DefaultPort(), AdminSecret: sealed,
	}
	sp := driver.Spec{InstanceID: inst.ID, TenantID: tenant, Engine: maria.Name(), Port: inst.Port, RAMMB: flavor.RAM, VolumeGB: inst.VolumeSize}
	inst.Address = drv.Address(sp)
	sp.Address = inst.Address
	if err := st.CreateInstance(ctx, inst, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := drv.Provision(ctx, sp); err != nil {
		t.Fatal(err)
	}
	if err := drv.Start(ctx, sp); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := drv.WaitReady(wctx, sp); err != nil {
		t.Fatal(err)
	}
	return inst, sp
}

// TestK8sReplicasTakeOverRestart runs three hoard replicas with the
// Kubernetes driver on one PostgreSQL store and one cluster (a real API
// server, controller-manager and scheduler; kwok as the kubelet). Every
// replica would kill itself with SIGKILL right after recording the restart
// step of a restart, that is after deleting the pod: the replica that claims
// the restart dies there; once its lease has expired another replica
// resumes the task at wait_ready, which follows the replacement pod's
// readiness, and makes the instance ACTIVE. The pod is replaced exactly
// once. A delete through a surviving replica then removes every object.
func TestK8sReplicasTakeOverRestart(t *testing.T) {
	cl := k8stest.Own(t)
	ctx := context.Background()
	dsn := pgtest.Start(t).NewDatabase(t)
	pool := nextPool()
	env := []string{
		"HOARD_DRIVER=kubernetes",
		"HOARD_KUBECONFIG=" + cl.Kubeconfig,
		"HOARD_K8S_STORAGE_CLASS=" + k8stest.StorageClass,
		"HOARD_K8S_NAMESPACE_PREFIX=" + k8sPrefix,
		"HOARD_TEST_CRASH_AT=restart:restart:recorded",
	}
	first := startReplica(t, dsn, pool, nil, env...)
	keyPath := filepath.Join(first.dataDir, "secret.key")
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	replicas := []*hoard{first, startReplica(t, dsn, pool, key, env...), startReplica(t, dsn, pool, key, env...)}

	// The admin project owns the instance: its id ends the endpoint URL.
	sc := replicas[1].client(ctx)
	tenant := filepath.Base(strings.TrimSuffix(sc.Endpoint, "/"))
	inst, sp := seedK8sInstance(t, cl, dsn, keyPath, tenant)
	ns := kubernetes.Namespace(k8sPrefix, tenant)
	pods := watchPods(t, cl, ns, inst.ID)
	if uids, _ := pods.snapshot(); len(uids) != 1 {
		t.Fatalf("seeded instance has pods %v, want one", uids)
	}
	waitStatus(ctx, t, sc, inst.ID, "ACTIVE", activeTimeout)

	// Statuses through the restart: never SHUTDOWN (the replicas that did
	// not delete the pod must not take its going for an outage).
	var clients []*gophercloud.ServiceClient
	for _, r := range replicas {
		clients = append(clients, r.client(ctx))
	}
	statuses := watchStatuses(t, clients, inst.ID)
	if err := instances.Restart(ctx, sc, inst.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	var dead *hoard
	waitFor(t, activeTimeout, "a replica to crash in the restart", func() bool {
		for _, r := range replicas {
			if !r.running() {
				dead = r
				return true
			}
		}
		return false
	})
	var alive []*hoard
	for _, r := range replicas {
		if r != dead {
			alive = append(alive, r)
		}
	}
	// Until the lease of the dead replica expires, the restart stays
	// REBOOT: never ACTIVE, ERROR or SHUTDOWN in between (on a slow
	// machine the lease may already have expired and the restart be done
	// when the first GET comes: then ACTIVE is seen first, which is fine).
	waitFor(t, activeTimeout, "the restart to show REBOOT or ACTIVE", func() bool {
		got, err := instances.Get(ctx, alive[0].client(ctx), inst.ID).Extract()
		if err != nil {
			return false
		}
		switch got.Status {
		case "REBOOT", "ACTIVE":
			return true
		case "ERROR", "FAILED", "SHUTDOWN":
			t.Fatalf("instance %s is %s during the restart taken over", inst.ID, got.Status)
		}
		return false
	})
	// A surviving replica finishes the restart once the lease has expired.
	waitStatus(ctx, t, alive[0].client(ctx), inst.ID, "ACTIVE", activeTimeout)
	for _, r := range alive {
		if !r.running() {
			t.Fatalf("a second replica exited:\n%s", r.logs())
		}
	}
	waitStatus(ctx, t, alive[1].client(ctx), inst.ID, "ACTIVE", activeTimeout)
	// Keep watching for a while once ACTIVE: a replica's informer may
	// deliver the old pod's going late.
	n0, _ := statuses.samples()
	waitFor(t, time.Minute, "statuses after the restart", func() bool {
		n, _ := statuses.samples()
		return n >= n0+40
	})
	statuses.stop()
	if _, seen := statuses.samples(); slices.Contains(seen, "SHUTDOWN") || seen[len(seen)-1] != "ACTIVE" {
		t.Errorf("statuses through the restart %v: want no SHUTDOWN, ending ACTIVE", seen)
	}

	// The pod was replaced once: the seeded pod went, one replacement
	// came and is the pod now, never deleted.
	uids, deleted := pods.snapshot()
	cur, err := cl.Client.CoreV1().Pods(ns).Get(ctx, "hoard-"+inst.ID+"-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(uids) != 2 || deleted[uids[0]] != 1 || deleted[uids[1]] != 0 || cur.UID != uids[1] || cur.DeletionTimestamp != nil {
		t.Errorf("pods seen %v, deleted %v, current %s; want the seeded pod replaced exactly once", uids, deleted, cur.UID)
	}

	// The restart task was claimed twice (the crash, the takeover) and
	// finished once.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var (
		state    string
		attempts int
		tasks    int
	)
	if err := conn.QueryRow(ctx, `SELECT state, attempts, (SELECT COUNT(*) FROM tasks WHERE instance_id = $1 AND kind = 'restart')
		FROM tasks WHERE instance_id = $1 AND kind = 'restart'`, inst.ID).Scan(&state, &attempts, &tasks); err != nil {
		t.Fatal(err)
	}
	if state != "done" || attempts != 2 || tasks != 1 {
		t.Errorf("restart task: state %s, attempts %d, %d tasks; want done, 2, 1", state, attempts, tasks)
	}

	// Delete through a survivor: every labelled object goes.
	if n := cl.CountLabelled(t, kubernetes.LabelInstance+"="+sp.InstanceID); n == 0 {
		t.Fatal("no objects before the delete")
	}
	if err := instances.Delete(ctx, alive[1].client(ctx), inst.ID).ExtractErr(); err != nil {
		t.Fatal(err)
	}
	waitGone(ctx, t, alive[0].client(ctx), inst.ID, activeTimeout)
	if n := cl.CountLabelled(t, kubernetes.LabelInstance+"="+sp.InstanceID); n != 0 {
		t.Errorf("%d labelled objects left after the delete", n)
	}
}
