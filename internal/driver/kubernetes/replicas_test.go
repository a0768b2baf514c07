package kubernetes

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/k8stest"
)

// seen returns what d's observer last saw of instance id's pod.
func seen(d *Driver, id string) podState {
	d.obs.mu.Lock()
	defer d.obs.mu.Unlock()
	if st := d.obs.pods[id]; st != nil {
		return *st
	}
	return podState{}
}

// TestClusterTwoReplicas runs two Drivers on one real API server, as two
// hoard replicas do: driver A restarts, resizes, stops, starts and destroys
// the instance; driver B, which did none of it, must not take the pods A
// replaced for engine exits (it would flip the instance to SHUTDOWN once
// A's task has finished). A pod that goes away or stops being ready behind
// hoard's back is still an exit for both.
func TestClusterTwoReplicas(t *testing.T) {
	cl := k8stest.Require(t)
	ctx := context.Background()
	mod := func(c *Config) {
		c.StorageClass = k8stest.StorageClass
		c.NamespacePrefix = "hoard-two-"
		c.PollInterval = 100 * time.Millisecond
		c.StopTimeout = 2 * time.Minute
		c.RestartTimeout = 3 * time.Minute
	}
	a, evA := newTestDriver(t, cl.Client, mod)
	b, evB := newTestDriver(t, cl.Client, mod)
	s := testSpec()
	s.InstanceID = "two-" + s.InstanceID[:8]
	id, ns := s.InstanceID, a.namespace(s)
	t.Cleanup(func() { _ = a.Destroy(context.Background(), id) })
	pod := func() *corev1.Pod {
		t.Helper()
		p, err := cl.Client.CoreV1().Pods(ns).Get(ctx, podName(id), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// bothSeeReady waits until both observers saw a ready pod other than
	// old: by then they handled every change of the pods before it.
	bothSeeReady := func(what string, old types.UID) types.UID {
		t.Helper()
		var uid types.UID
		waitUntil(t, 3*time.Minute, what, func() bool {
			st, err := a.State(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if st != driver.StateRunning {
				return false
			}
			uid = pod().UID
			sa, sb := seen(a, id), seen(b, id)
			return uid != old && sa.uid == uid && sa.ready && sb.uid == uid && sb.ready
		})
		return uid
	}
	noEvents := func(step string) {
		t.Helper()
		if len(evA.kinds()) != 0 || len(evB.kinds()) != 0 {
			t.Fatalf("after %s, driver A reported %v; driver B (another replica) reported %v", step, evA, evB)
		}
	}

	if err := a.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*Driver{a, b} {
		if err := d.Recover(ctx, []driver.Spec{s}); err != nil {
			t.Fatal(err)
		}
	}
	uid := bothSeeReady("first pod ready", "")

	// Restart through A: the old pod carries the mark when it goes.
	var marked bool
	stopWatch := watchMarks(t, cl, ns, id, uid, &marked)
	if err := a.Restart(ctx, s); err != nil {
		t.Fatal(err)
	}
	uid = bothSeeReady("ready after restart", uid)
	stopWatch()
	if !marked {
		t.Errorf("the restarted pod went without %s", AnnotationReplacedBy)
	}
	noEvents("a restart")

	// A new spec through A (the controller rolls the pod).
	s.RAMMB = 1024
	if err := a.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	uid = bothSeeReady("ready after a new template", uid)
	noEvents("a template change")

	// Stop and Start through A.
	if err := a.Stop(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "B sees the pod gone", func() bool { return seen(b, id).gone })
	noEvents("a stop")
	if err := a.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	uid = bothSeeReady("ready after start", uid)
	noEvents("a start")

	// Someone else deletes the pod: an exit for both, then a recovery.
	if err := cl.Client.CoreV1().Pods(ns).Delete(ctx, podName(id), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	bothSeeReady("ready after the foreign delete", uid)
	want := []driver.EventKind{driver.EventExited, driver.EventRecovered}
	waitUntil(t, time.Minute, "both report the foreign delete", func() bool {
		return len(evA.kinds()) >= 2 && len(evB.kinds()) >= 2
	})
	if ka, kb := evA.kinds(), evB.kinds(); !slices.Equal(ka, want) || !slices.Equal(kb, want) {
		t.Fatalf("after a foreign delete: A reported %v, B %v; want %v each", ka, kb, want)
	}

	// The pod stops being ready behind hoard's back: both report it.
	setPodReady(t, cl, ns, podName(id), corev1.ConditionFalse)
	want = append(want, driver.EventExited)
	waitUntil(t, time.Minute, "both report the unready pod", func() bool {
		return len(evA.kinds()) >= 3 && len(evB.kinds()) >= 3
	})
	if ka, kb := evA.kinds(), evB.kinds(); !slices.Equal(ka, want) || !slices.Equal(kb, want) {
		t.Fatalf("after the pod went unready: A reported %v, B %v; want %v each", ka, kb, want)
	}
	setPodReady(t, cl, ns, podName(id), corev1.ConditionTrue)
	want = append(want, driver.EventRecovered)
	waitUntil(t, time.Minute, "both report the ready pod", func() bool {
		return len(evA.kinds()) >= 4 && len(evB.kinds()) >= 4
	})
	if ka, kb := evA.kinds(), evB.kinds(); !slices.Equal(ka, want) || !slices.Equal(kb, want) {
		t.Fatalf("after the pod was ready again: A reported %v, B %v; want %v each", ka, kb, want)
	}

	// Destroy through A: nothing more for B.
	if err := a.Destroy(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "B sees the pod gone", func() bool { return seen(b, id).gone })
	if ka, kb := evA.kinds(), evB.kinds(); !slices.Equal(ka, want) || !slices.Equal(kb, want) {
		t.Fatalf("after a destroy: A reported %v, B %v; want %v each", ka, kb, want)
	}
}

// watchMarks sets *marked once pod uid of instance id in ns is seen with
// AnnotationReplacedBy; the returned func stops watching.
func watchMarks(t *testing.T, cl *k8stest.Cluster, ns, id string, uid types.UID, marked *bool) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := cl.Client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: LabelInstance + "=" + id})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && p.UID == uid && replaced(p) {
				*marked = true
			}
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); w.Stop(); <-done }) }
	t.Cleanup(stop)
	return stop
}
