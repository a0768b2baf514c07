package service

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/mariadb"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/driver/kubernetes"
	"github.com/hoard-db/hoard/internal/k8stest"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/secret"
	"github.com/hoard-db/hoard/internal/store"
	"github.com/hoard-db/hoard/internal/task"
)

// k8sEnv is a service with the Kubernetes driver on a real API server
// (kwok plays the kubelet: pods become Running and Ready, no container
// runs) and an SQLite store.
type k8sEnv struct {
	svc *Service
	st  store.Store
	drv *kubernetes.Driver
	cl  *k8stest.Cluster
}

func newK8sEnv(t *testing.T, cl *k8stest.Cluster, readyTimeout time.Duration) *k8sEnv {
	t.Helper()
	ctx := context.Background()
	st, sealer := tempStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	maria := mariadb.New(mariadb.Config{Logger: log})
	engines := map[string]datastore.Engine{maria.Name(): maria}
	var svc *Service
	drv, err := kubernetes.New(kubernetes.Config{
		Client:          cl.Client,
		NamespacePrefix: "hoard-svc-",
		StorageClass:    k8stest.StorageClass,
		Engines:         engines,
		Credentials:     func(id string) (string, datastore.Secret) { return svc.Credentials(id) },
		Observer:        func(ev driver.Event) { svc.Observe(ev) },
		Logger:          log,
		PollInterval:    50 * time.Millisecond,
		RestartTimeout:  2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { drv.Close() })
	runner := task.New(st, task.Config{
		Workers: 2, PollInterval: 10 * time.Millisecond, MaxAttempts: 2, Logger: log,
		Backoff: func(int) time.Duration { return time.Millisecond },
	})
	svc = New(Config{
		DefaultDatastore: "mysql",
		Store:            st, Driver: drv, Engines: engines, Sealer: sealer, Notify: runner.Notify,
		Versions: func(context.Context, datastore.Engine) ([]datastore.Version, error) {
			return []datastore.Version{{Name: "10.11", Version: "10.11"}}, nil
		},
		MaxVolumeGB: 10, ReadyTimeout: readyTimeout, Logger: log,
	})
	if err := svc.SeedCatalog(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range svc.Definitions() {
		runner.Register(d)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- runner.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &k8sEnv{svc: svc, st: st, drv: drv, cl: cl}
}

// seedActive makes an ACTIVE MariaDB instance of tenant without the create
// task. A create cannot run here: no database runs in kwok's pods, so its
// bootstrap step (SQL over the network) could never succeed. The instance
// is seeded honestly instead: the row the create would have written
// (status ACTIVE, the driver's address, a sealed admin password), and the
// driver's own Provision and Start with the service's spec of it, until the
// pod is Ready.
func (e *k8sEnv) seedActive(t *testing.T, tenant string) *model.Instance {
	t.Helper()
	ctx := context.Background()
	ds, dv, err := e.svc.resolveDatastore(ctx, "mysql", "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.svc.resolveFlavor(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}
	pw, err := e.svc.cfg.Sealer.Seal([]byte(secret.Password(24)))
	if err != nil {
		t.Fatal(err)
	}
	inst := &model.Instance{
		ID: uuid.NewString(), TenantID: tenant, Name: "seeded", Status: model.StatusActive,
		FlavorID: f.ID, VolumeSize: 1, Datastore: ds.Name, DatastoreVersion: dv.Name, DatastoreVersionID: dv.ID,
		Port: 3306, AdminSecret: pw,
	}
	sp, err := e.svc.spec(ctx, inst)
	if err != nil {
		t.Fatal(err)
	}
	inst.Address = e.drv.Address(sp)
	if err := e.st.CreateInstance(ctx, inst, nil, nil); err != nil {
		t.Fatal(err)
	}
	sp.Address = inst.Address
	if err := e.drv.Provision(ctx, sp); err != nil {
		t.Fatal(err)
	}
	if err := e.drv.Start(ctx, sp); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := e.drv.WaitReady(wctx, sp); err != nil {
		t.Fatal(err)
	}
	return inst
}

// pod returns the instance's pod (nil if it has none).
func (e *k8sEnv) pod(t *testing.T, inst *model.Instance) *corev1.Pod {
	t.Helper()
	ns := kubernetes.Namespace("hoard-svc-", inst.TenantID)
	p, err := e.cl.Client.CoreV1().Pods(ns).Get(context.Background(), "hoard-"+inst.ID+"-0", metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return p
}

// status returns the instance's status.
func (e *k8sEnv) status(t *testing.T, id string) model.InstanceStatus {
	t.Helper()
	inst, err := e.st.GetInstance(context.Background(), "", id)
	if err != nil {
		t.Fatal(err)
	}
	return inst.Status
}

// cordon makes the cluster's only node (un)schedulable: a replacement pod
// then stays Pending, never Ready, until it is uncordoned.
func cordon(t *testing.T, cl *k8stest.Cluster, on bool) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := cl.Client.CoreV1().Nodes().Get(ctx, k8stest.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Spec.Unschedulable = on
		_, err = cl.Client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitK8s polls cond every 50 ms until it holds or d passes.
func waitK8s(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		<-tick.C
	}
}

// TestRestartReadyFromPod restarts an instance through the service with
// the Kubernetes driver: the restart step deletes the pod, and REBOOT turns
// ACTIVE only once the replacement pod is Ready; nothing connects to the
// engine (there is none). A pod that never gets Ready fails the restart
// after ReadyTimeout, once.
func TestRestartReadyFromPod(t *testing.T) {
	cl := k8stest.Own(t)
	ctx := context.Background()

	t.Run("ready", func(t *testing.T) {
		e := newK8sEnv(t, cl, 2*time.Minute)
		inst := e.seedActive(t, "tenant-a")
		old := e.pod(t, inst)
		if old == nil {
			t.Fatal("seeded instance has no pod")
		}
		// The replacement pod cannot be scheduled: it stays Pending.
		cordon(t, cl, true)
		t.Cleanup(func() { cordon(t, cl, false) })
		if err := e.svc.RestartInstance(ctx, inst.TenantID, inst.ID); err != nil {
			t.Fatal(err)
		}
		if st := e.status(t, inst.ID); st != model.StatusReboot {
			t.Fatalf("status after restart accepted = %s, want REBOOT", st)
		}
		var taskID string
		waitK8s(t, 2*time.Minute, "the restart step done, the new pod Pending", func() bool {
			tk, err := e.st.ActiveTask(ctx, inst.ID)
			if err != nil {
				return false
			}
			taskID = tk.ID
			p := e.pod(t, inst)
			return tk.Step >= 1 && p != nil && p.UID != old.UID && p.Status.Phase == corev1.PodPending
		})
		// wait_ready runs on a pod that is not ready: still REBOOT.
		if st := e.status(t, inst.ID); st != model.StatusReboot {
			t.Fatalf("status while the new pod is Pending = %s, want REBOOT", st)
		}
		newUID := e.pod(t, inst).UID
		cordon(t, cl, false)
		waitK8s(t, 2*time.Minute, "ACTIVE after the pod is Ready", func() bool { return e.status(t, inst.ID) == model.StatusActive })
		p := e.pod(t, inst)
		if p == nil || p.UID != newUID || !podIsReady(p) {
			t.Errorf("ACTIVE with pod %v, want the replacement %s Ready", p, newUID)
		}
		// The last step makes the instance ACTIVE; the runner records the
		// task done just after.
		var tk *model.Task
		waitK8s(t, 30*time.Second, "the restart task recorded done", func() bool {
			var err error
			tk, err = e.st.GetTask(ctx, taskID)
			return err == nil && tk.State != model.TaskRunning && tk.State != model.TaskPending
		})
		if tk.State != model.TaskDone || tk.Attempts != 1 {
			t.Errorf("restart task: state %s, attempts %d; want done, 1", tk.State, tk.Attempts)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		e := newK8sEnv(t, cl, 3*time.Second)
		inst := e.seedActive(t, "tenant-b")
		old := e.pod(t, inst).UID
		cordon(t, cl, true)
		t.Cleanup(func() { cordon(t, cl, false) })
		if err := e.svc.RestartInstance(ctx, inst.TenantID, inst.ID); err != nil {
			t.Fatal(err)
		}
		var taskID string
		waitK8s(t, 2*time.Minute, "the restart task", func() bool {
			tk, err := e.st.ActiveTask(ctx, inst.ID)
			if err == nil {
				taskID = tk.ID
			}
			return taskID != ""
		})
		waitK8s(t, 2*time.Minute, "the restart to fail", func() bool {
			tk, err := e.st.GetTask(ctx, taskID)
			return err == nil && tk.State == model.TaskFailed
		})
		tk, err := e.st.GetTask(ctx, taskID)
		if err != nil {
			t.Fatal(err)
		}
		// Permanent: not retried although MaxAttempts allows a second.
		if tk.Attempts != 1 || !strings.Contains(tk.Error, "not ready within 3s") || !strings.Contains(tk.Error, "Pending") {
			t.Errorf("failed task: attempts %d, error %q; want 1 attempt and the pod's phase", tk.Attempts, tk.Error)
		}
		got, err := e.st.GetInstance(ctx, "", inst.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != model.StatusShutdown || got.Fault == nil {
			t.Errorf("after the failed restart: status %s, fault %v; want SHUTDOWN with a fault", got.Status, got.Fault)
		}
		if p := e.pod(t, inst); p == nil || p.UID == old {
			t.Errorf("the pod was not replaced")
		}
	})
}

// podIsReady reports whether p is Running and Ready.
func podIsReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
