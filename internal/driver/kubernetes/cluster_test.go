package kubernetes

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/k8stest"
)

func TestMain(m *testing.M) { k8stest.Main(m) }

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// TestCluster drives the whole life of an instance against a real API
// server, controller-manager and scheduler, with kwok as the kubelet: no
// container runs, so "running" means the pod is Running and Ready.
func TestCluster(t *testing.T) {
	cl := k8stest.Require(t)
	ctx := context.Background()
	d, ev := newTestDriver(t, cl.Client, func(c *Config) {
		c.StorageClass = k8stest.StorageClass
		c.NamespacePrefix = "hoard-it-"
		c.PollInterval = 100 * time.Millisecond
		c.StopTimeout = 2 * time.Minute
		c.RestartTimeout = 3 * time.Minute
		c.OrphanMinAge = -1
	})
	cs := cl.Client
	s := testSpec()
	ns := d.namespace(s)
	state := func() driver.State {
		st, err := d.State(ctx, s.InstanceID)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	pod := func() *corev1.Pod {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, podName(s.InstanceID), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	claim := func() *corev1.PersistentVolumeClaim {
		p, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName(s.InstanceID), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Create: Provision + Start → Running and Ready through kwok (ACTIVE).
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d.Provision(ctx, s); err != nil {
		t.Fatalf("repeated Provision: %v", err)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d.Recover(ctx, []driver.Spec{s}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 3*time.Minute, "instance running", func() bool { return state() == driver.StateRunning })
	p := pod()
	if p.Spec.NodeName != k8stest.NodeName {
		t.Errorf("pod on node %q", p.Spec.NodeName)
	}
	if lim := p.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]; lim.Cmp(resource.MustParse("512Mi")) != 0 {
		t.Errorf("memory limit %s, want 512Mi", lim.String())
	}
	waitUntil(t, time.Minute, "claim bound", func() bool { return claim().Status.Phase == corev1.ClaimBound })
	if c := d.Conn(s); c.Address != "hoard-"+s.InstanceID+"."+ns+".svc" || c.Port != 3306 {
		t.Errorf("Conn = %+v", c)
	}

	// Restart: the pod is replaced (new UID) and becomes ready again.
	uid := p.UID
	if err := d.Restart(ctx, s); err != nil {
		t.Fatal(err)
	}
	if p := pod(); p.UID == uid {
		t.Fatal("Restart returned with the old pod")
	}
	waitUntil(t, 3*time.Minute, "running after restart", func() bool { return state() == driver.StateRunning })

	// Resize flavor: new limits, on a new pod.
	uid = pod().UID
	s.RAMMB = 1024
	if err := d.Restart(ctx, s); err != nil {
		t.Fatal(err)
	}
	p = pod()
	if p.UID == uid {
		t.Fatal("resize kept the old pod")
	}
	if lim := p.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]; lim.Cmp(resource.MustParse("1Gi")) != 0 {
		t.Errorf("memory limit after resize %s, want 1Gi", lim.String())
	}
	waitUntil(t, 3*time.Minute, "running after resize", func() bool { return state() == driver.StateRunning })

	// Resize volume: the claim's request grows (the storage class allows
	// expansion; the API server validated the change).
	s.VolumeGB = 3
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if q := claim().Spec.Resources.Requests[corev1.ResourceStorage]; q.Cmp(resource.MustParse("3Gi")) != 0 {
		t.Errorf("claim request after volume resize %s, want 3Gi", q.String())
	}
	if k := ev.kinds(); len(k) != 0 {
		t.Errorf("explicit operations reported events %v", k)
	}

	// Stop and Start: the pod goes, and comes back.
	if err := d.Stop(ctx, s.InstanceID); err != nil {
		t.Fatal(err)
	}
	if st := state(); st != driver.StateStopped {
		t.Errorf("State after Stop = %s", st)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 3*time.Minute, "running after Start", func() bool { return state() == driver.StateRunning })
	if k := ev.kinds(); len(k) != 0 {
		t.Errorf("Stop and Start reported events %v", k)
	}

	// A pod that stops being ready behind hoard's back is an exit; ready
	// again, a recovery.
	waitUntil(t, time.Minute, "observer sees the ready pod", func() bool {
		d.obs.mu.Lock()
		defer d.obs.mu.Unlock()
		st := d.obs.pods[s.InstanceID]
		return st != nil && st.ready
	})
	setPodReady(t, cl, ns, podName(s.InstanceID), corev1.ConditionFalse)
	waitUntil(t, time.Minute, "exited event", func() bool { return len(ev.kinds()) >= 1 })
	if k := ev.kinds(); k[0] != driver.EventExited {
		t.Fatalf("events = %v", k)
	}
	setPodReady(t, cl, ns, podName(s.InstanceID), corev1.ConditionTrue)
	waitUntil(t, time.Minute, "recovered event", func() bool { return len(ev.kinds()) >= 2 })
	if k := ev.kinds(); k[1] != driver.EventRecovered {
		t.Fatalf("events = %v", k)
	}

	// Recover removes the objects of an instance hoard does not know.
	orphan := testSpec()
	orphan.InstanceID = "orphan-" + s.InstanceID[:8]
	if err := d.Provision(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	if err := d.Recover(ctx, []driver.Spec{s}); err != nil {
		t.Fatal(err)
	}
	if n := cl.CountLabelled(t, LabelInstance+"="+orphan.InstanceID); n != 0 {
		waitUntil(t, time.Minute, "orphan objects gone", func() bool { return cl.CountLabelled(t, LabelInstance+"="+orphan.InstanceID) == 0 })
	}
	if st := state(); st != driver.StateRunning {
		t.Errorf("known instance after Recover: %s", st)
	}

	// Destroy: every object of the instance is gone.
	if err := d.Destroy(ctx, s.InstanceID); err != nil {
		t.Fatal(err)
	}
	if n := cl.CountLabelled(t, LabelInstance+"="+s.InstanceID); n != 0 {
		t.Errorf("%d objects left after Destroy", n)
	}
	if st := state(); st != driver.StateAbsent {
		t.Errorf("State after Destroy = %s", st)
	}
}

// setPodReady sets a pod's Ready condition, as a kubelet would.
func setPodReady(t *testing.T, cl *k8stest.Cluster, ns, name string, st corev1.ConditionStatus) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := cl.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == corev1.PodReady {
				p.Status.Conditions[i].Status = st
			}
		}
		_, err = cl.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
