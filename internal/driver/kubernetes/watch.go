package kubernetes

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

// observer turns pod changes into driver events.
type observer struct {
	d *Driver

	mu     sync.Mutex
	pods   map[string]*podState // by instance id
	doomed map[types.UID]bool   // pods Restart deletes on purpose
	quiet  map[string]bool      // instances stopped or destroyed on purpose
	// waiters are woken (without blocking) when an instance's pod changes.
	waiters map[string]map[chan struct{}]bool
}

func newObserver(d *Driver) *observer {
	return &observer{d: d, pods: map[string]*podState{}, doomed: map[types.UID]bool{}, quiet: map[string]bool{},
		waiters: map[string]map[chan struct{}]bool{}}
}

// podState is what the observer last saw of an instance's pod.
type podState struct {
	uid    types.UID // of the pod seen last
	ready  bool
	exited bool // EventExited reported, EventRecovered not yet
	gone   bool // the pod seen last was deleted
}

// watch starts the informer on hoard's pods (once).
func (d *Driver) watch() error {
	d.watchOnce.Do(func() {
		d.mu.Lock()
		closed := d.closed
		d.mu.Unlock()
		if closed {
			d.watchErr = fault.New(fault.Unavailable, "driver.kubernetes.watch", "driver closed")
			return
		}
		d.factory = informers.NewSharedInformerFactoryWithOptions(d.c, 0,
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector("") }))
		inf := d.factory.Core().V1().Pods().Informer()
		_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { d.obs.changed(obj, false) },
			UpdateFunc: func(_, obj any) { d.obs.changed(obj, false) },
			DeleteFunc: func(obj any) { d.obs.changed(obj, true) },
		})
		if err != nil {
			d.watchErr = fmt.Errorf("kubernetes: watch pods: %w", err)
			return
		}
		d.factory.Start(d.stop)
	})
	return d.watchErr
}

// syncWatch waits until the informer has listed hoard's pods.
func (d *Driver) syncWatch(ctx context.Context) error {
	if d.factory == nil {
		return nil
	}
	// stop closes when ctx ends, the driver closes, or syncWatch returns.
	stop := make(chan struct{})
	var once sync.Once
	end := func() { once.Do(func() { close(stop) }) }
	defer end()
	go func() {
		select {
		case <-ctx.Done():
		case <-d.stop:
		case <-stop:
		}
		end()
	}()
	for typ, ok := range d.factory.WaitForCacheSync(stop) {
		if !ok {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("kubernetes: %v informer did not sync", typ)
		}
	}
	return nil
}

// changed handles an added, updated or deleted pod.
func (o *observer) changed(obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok || !o.d.ownNamespace(p.Namespace) {
		return
	}
	id := p.Labels[LabelInstance]
	if id == "" || p.Name != podName(id) {
		return
	}
	ready := !deleted && podReady(p)
	// A ready pod going away may be one the StatefulSet controller replaces
	// (see stale); only then is the cluster asked.
	stale := !ready && (deleted || p.DeletionTimestamp != nil) && o.wasReady(id) && o.stale(id, p)
	var ev *driver.Event
	o.mu.Lock()
	st := o.pods[id]
	if st == nil {
		// First sight (a new pod or the initial list): nothing to report.
		st = &podState{}
		o.pods[id] = st
	}
	if deleted && st.uid != "" && p.UID != st.uid {
		// A late deletion of a pod already replaced by the one seen last:
		// it says nothing of the instance's current pod.
		o.wake(id)
		o.mu.Unlock()
		return
	}
	st.uid, st.gone = p.UID, deleted
	// A pod this process removes on purpose (doomed), or one any hoard
	// replica marked in the cluster before removing it (replaced): whatever
	// it does now, it is gone, and no exit. Judging from the mark, every
	// replica reaches the same conclusion.
	doomed := o.doomed[p.UID] || replaced(p) || stale
	if doomed {
		ready = false
	}
	switch {
	case doomed || o.quiet[id]:
		// Going away on purpose.
		st.exited = false
	case st.ready && !ready:
		st.exited = true
		ev = &driver.Event{InstanceID: id, Kind: driver.EventExited, Detail: "pod " + p.Namespace + "/" + p.Name + " " + podDetail(p, deleted)}
	case !st.ready && ready && st.exited:
		st.exited = false
		ev = &driver.Event{InstanceID: id, Kind: driver.EventRecovered, Detail: "pod " + p.Namespace + "/" + p.Name + " ready"}
	}
	st.ready = ready
	if deleted {
		delete(o.doomed, p.UID)
	}
	o.wake(id)
	o.mu.Unlock()
	if ev != nil {
		o.d.log.Warn("pod state changed", "instance_id", id, "event", string(ev.Kind), "detail", ev.Detail)
		o.d.report(*ev)
	}
}

// stale reports whether p, a pod going away, runs an older template than
// instance id's StatefulSet: the StatefulSet controller replaces such a
// pod (it can even create one from a cache that has not seen a new template
// yet), so its end is no exit. It is asked only about a ready pod going
// away that nothing else explains, so the StatefulSet is read rarely, and
// every replica judges from the cluster, whoever applied the template. A
// StatefulSet that cannot be read (or is gone: deleted behind hoard's back)
// leaves the pod current, its end an exit. Called without o.mu.
func (o *observer) stale(id string, p *corev1.Pod) bool {
	have := p.Annotations[AnnotationSpecHash]
	if have == "" {
		return false
	}
	o.mu.Lock()
	explained := o.quiet[id] || o.doomed[p.UID] || replaced(p)
	o.mu.Unlock()
	if explained {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), staleCheckTimeout)
	defer cancel()
	go func() {
		select {
		case <-o.d.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	sts, err := o.d.c.AppsV1().StatefulSets(p.Namespace).Get(ctx, name(id), metav1.GetOptions{})
	if err != nil {
		return false
	}
	cur := sts.Spec.Template.Annotations[AnnotationSpecHash]
	return cur != "" && cur != have
}

// staleCheckTimeout bounds stale's read of a StatefulSet.
const staleCheckTimeout = 5 * time.Second

// wasReady reports whether the pod last seen of instance id was ready.
func (o *observer) wasReady(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.pods[id]
	return st != nil && st.ready
}

// wake wakes the waiters of instance id (without blocking); o.mu is held.
func (o *observer) wake(id string) {
	for w := range o.waiters[id] {
		select {
		case w <- struct{}{}:
		default: // already woken
		}
	}
}

// podDetail says why p is not ready.
func podDetail(p *corev1.Pod, deleted bool) string {
	switch {
	case deleted:
		return "deleted"
	case p.DeletionTimestamp != nil:
		return "terminating"
	case p.Status.Phase != corev1.PodRunning:
		return "phase " + string(p.Status.Phase)
	}
	return "not ready"
}

// expectGone marks pod uid of instance id as deleted on purpose. The
// instance is from then on seen as not ready, so that its replacement
// pod's first, not-yet-ready state is no exit, whatever order the informer
// delivers the two pods' events in. An empty uid (the pod is already gone
// from the API while the informer may still report it) only resets that.
func (o *observer) expectGone(id string, uid types.UID) {
	o.mu.Lock()
	if uid != "" {
		o.doomed[uid] = true
	}
	if st := o.pods[id]; st != nil {
		st.ready = false
		st.exited = false
	}
	o.mu.Unlock()
}

// setQuiet turns event reporting for instance id off (stopped on purpose)
// or on again.
func (o *observer) setQuiet(id string, q bool) {
	o.mu.Lock()
	if q {
		o.quiet[id] = true
	} else {
		delete(o.quiet, id)
	}
	o.mu.Unlock()
}

// forget drops what the observer knows of a destroyed instance. The
// instance stays quiet: the informer may still deliver late events of its
// pod, which must not be reported as an engine that died. Starting an
// instance with the same id again (Start) turns reporting back on.
func (o *observer) forget(id string) {
	o.mu.Lock()
	delete(o.pods, id)
	o.quiet[id] = true
	o.mu.Unlock()
}

// subscribe returns a channel that receives a value when instance id's
// pod changes (changes coalesce); unsubscribe releases it.
func (o *observer) subscribe(id string) chan struct{} {
	w := make(chan struct{}, 1)
	o.mu.Lock()
	if o.waiters[id] == nil {
		o.waiters[id] = map[chan struct{}]bool{}
	}
	o.waiters[id][w] = true
	o.mu.Unlock()
	return w
}

// unsubscribe releases a channel of subscribe.
func (o *observer) unsubscribe(id string, w chan struct{}) {
	o.mu.Lock()
	delete(o.waiters[id], w)
	if len(o.waiters[id]) == 0 {
		delete(o.waiters, id)
	}
	o.mu.Unlock()
}
