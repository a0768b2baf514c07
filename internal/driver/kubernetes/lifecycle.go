package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

// Provision implements driver.Driver: it creates or updates the namespace,
// Secret, ConfigMap, Service, claim and StatefulSet of s. A new StatefulSet
// has no replica until Start. Called again with a larger VolumeGB, it
// expands the claim (a volume resize).
func (d *Driver) Provision(ctx context.Context, s driver.Spec) error {
	const op = "driver.kubernetes.provision"
	unlock, err := d.lock(op, s.InstanceID)
	if err != nil {
		return err
	}
	defer unlock()
	o, err := d.build(op, s)
	if err != nil {
		return err
	}
	return d.ensure(ctx, o, 0)
}

// Start implements driver.Driver: it applies s like Provision and scales
// the StatefulSet to one replica. It returns without waiting for the pod.
func (d *Driver) Start(ctx context.Context, s driver.Spec) error {
	const op = "driver.kubernetes.start"
	unlock, err := d.lock(op, s.InstanceID)
	if err != nil {
		return err
	}
	defer unlock()
	o, err := d.build(op, s)
	if err != nil {
		return err
	}
	if err := d.watch(); err != nil {
		return err
	}
	d.obs.setQuiet(s.InstanceID, false)
	// A mark an operation that failed left on a pod still running would
	// hide that pod's exits from every observer.
	if err := d.unmarkPod(ctx, o.sts.Namespace, s.InstanceID); err != nil {
		return err
	}
	return d.ensure(ctx, o, 1)
}

// Stop implements driver.Driver: it scales the StatefulSet to zero and
// waits until the pod is gone.
func (d *Driver) Stop(ctx context.Context, id string) error {
	const op = "driver.kubernetes.stop"
	unlock, err := d.lock(op, id)
	if err != nil {
		return err
	}
	defer unlock()
	sts, err := d.findStatefulSet(ctx, id)
	if err != nil || sts == nil {
		return err
	}
	d.obs.setQuiet(id, true)
	if p, err := d.c.CoreV1().Pods(sts.Namespace).Get(ctx, podName(id), metav1.GetOptions{}); err == nil {
		d.obs.expectGone(id, p.UID)
		if err := d.markPod(ctx, p, replacedByStop); err != nil {
			return err
		}
	}
	if _, err := d.scale(ctx, sts.Namespace, id, 0); err != nil {
		return err
	}
	return d.waitFor(ctx, d.cfg.StopTimeout, "pod of "+id+" to stop", func(ctx context.Context) (bool, error) {
		_, err := d.c.CoreV1().Pods(sts.Namespace).Get(ctx, podName(id), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// Restart implements driver.Driver: it applies s (new limits or config
// roll the pod by themselves), deletes the current pod, and returns once
// the StatefulSet controller has created a new pod running the current
// spec. Readiness is then observed (State, events).
func (d *Driver) Restart(ctx context.Context, s driver.Spec) error {
	const op = "driver.kubernetes.restart"
	unlock, err := d.lock(op, s.InstanceID)
	if err != nil {
		return err
	}
	defer unlock()
	o, err := d.build(op, s)
	if err != nil {
		return err
	}
	if err := d.watch(); err != nil {
		return err
	}
	ns, id := o.sts.Namespace, s.InstanceID
	pods := d.c.CoreV1().Pods(ns)
	var oldUID types.UID
	old, err := pods.Get(ctx, podName(id), metav1.GetOptions{})
	switch {
	case err == nil:
		oldUID = old.UID
		d.obs.expectGone(id, old.UID)
		// Marked before a new template (ensure) or the delete below can
		// remove it: every replica's observer sees it go on purpose.
		if err := d.markPod(ctx, old, replacedByRestart); err != nil {
			return err
		}
	case apierrors.IsNotFound(err):
		d.obs.expectGone(id, "")
	default:
		return fmt.Errorf("get pod %s/%s: %w", ns, podName(id), err)
	}
	d.obs.setQuiet(id, false)
	if err := d.ensure(ctx, o, 1); err != nil {
		return err
	}
	if old != nil {
		// The precondition makes sure only the old pod goes, never a
		// replacement the controller already made.
		err := pods.Delete(ctx, podName(id), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &oldUID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete pod %s/%s: %w", ns, podName(id), err)
		}
	}
	d.log.Info("restarting", "instance_id", id, "namespace", ns)
	return d.waitFor(ctx, d.cfg.RestartTimeout, "new pod of "+id, func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, podName(id), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return p.UID != oldUID && p.DeletionTimestamp == nil && p.Annotations[AnnotationSpecHash] == o.hash, nil
	})
}

// State implements driver.Driver: StateAbsent without a StatefulSet,
// StateRunning when its pod is Running and Ready, else StateStopped.
func (d *Driver) State(ctx context.Context, id string) (driver.State, error) {
	if err := checkID("driver.kubernetes.state", id); err != nil {
		return "", err
	}
	sts, err := d.findStatefulSet(ctx, id)
	if err != nil {
		return "", err
	}
	if sts == nil {
		return driver.StateAbsent, nil
	}
	if sts.Spec.Replicas != nil && *sts.Spec.Replicas == 0 {
		return driver.StateStopped, nil
	}
	p, err := d.c.CoreV1().Pods(sts.Namespace).Get(ctx, podName(id), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return driver.StateStopped, nil
	}
	if err != nil {
		return "", fmt.Errorf("get pod of %s: %w", id, err)
	}
	if podReady(p) {
		return driver.StateRunning, nil
	}
	return driver.StateStopped, nil
}

// podReady reports whether p runs and is ready, and is not going away.
func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Destroy implements driver.Driver: it deletes every object labelled with
// the instance (its claim too unless Config.KeepVolumes) and waits until
// they are gone. The tenant's namespace stays.
func (d *Driver) Destroy(ctx context.Context, id string) error {
	const op = "driver.kubernetes.destroy"
	unlock, err := d.lock(op, id)
	if err != nil {
		return err
	}
	defer unlock()
	d.obs.setQuiet(id, true)
	if err := d.markPods(ctx, id, replacedByDestroy); err != nil {
		return err
	}
	if err := d.deleteObjects(ctx, selector(id), nil); err != nil {
		return err
	}
	err = d.waitFor(ctx, d.cfg.StopTimeout, "objects of "+id+" to go", func(ctx context.Context) (bool, error) {
		n, err := d.countObjects(ctx, selector(id))
		if err == nil && n > 0 {
			// A pod the controller made while its StatefulSet went.
			err = d.deleteObjects(ctx, selector(id), nil)
		}
		return n == 0, err
	})
	if err != nil {
		return err
	}
	d.obs.forget(id)
	d.log.Info("destroyed", "instance_id", id)
	return nil
}

// Recover implements driver.Driver: it starts watching hoard's pods and
// removes the objects of instances not in specs (orphans), except young
// ones (Config.OrphanMinAge) and, with KeepVolumes, claims.
func (d *Driver) Recover(ctx context.Context, specs []driver.Spec) error {
	if err := d.watch(); err != nil {
		return err
	}
	known := make(map[string]bool, len(specs))
	for _, s := range specs {
		known[s.InstanceID] = true
	}
	now := d.cfg.Now()
	orphan := func(m metav1.Object) bool {
		id := m.GetLabels()[LabelInstance]
		if id == "" || known[id] {
			return false
		}
		return d.cfg.OrphanMinAge < 0 || now.Sub(m.GetCreationTimestamp().Time) >= d.cfg.OrphanMinAge
	}
	if err := d.deleteObjects(ctx, selector(""), orphan); err != nil {
		return fmt.Errorf("kubernetes: recover: %w", err)
	}
	return d.syncWatch(ctx)
}

// deleteObjects deletes hoard's objects matching sel in hoard's namespaces
// for which keep is nil or true, StatefulSets first so that no pod comes
// back. Claims stay with KeepVolumes.
func (d *Driver) deleteObjects(ctx context.Context, sel string, pick func(metav1.Object) bool) error {
	lo := metav1.ListOptions{LabelSelector: sel}
	all := metav1.NamespaceAll
	bg := metav1.DeletePropagationBackground
	del := metav1.DeleteOptions{PropagationPolicy: &bg}
	var deleted []string
	do := func(kind string, items []metav1.Object, remove func(ns, name string) error) error {
		for _, m := range items {
			if !d.ownNamespace(m.GetNamespace()) || m.GetDeletionTimestamp() != nil || (pick != nil && !pick(m)) {
				continue
			}
			if err := remove(m.GetNamespace(), m.GetName()); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete %s %s/%s: %w", kind, m.GetNamespace(), m.GetName(), err)
			}
			deleted = append(deleted, kind+" "+m.GetNamespace()+"/"+m.GetName())
		}
		return nil
	}
	sts, err := d.c.AppsV1().StatefulSets(all).List(ctx, lo)
	if err != nil {
		return fmt.Errorf("list statefulsets: %w", err)
	}
	if err := do("statefulset", metas(sts.Items), func(ns, n string) error {
		return d.c.AppsV1().StatefulSets(ns).Delete(ctx, n, del)
	}); err != nil {
		return err
	}
	pods, err := d.c.CoreV1().Pods(all).List(ctx, lo)
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	if err := do("pod", metas(pods.Items), func(ns, n string) error {
		if pick != nil {
			// An orphan's pod goes with its StatefulSet.
			return nil
		}
		return d.c.CoreV1().Pods(ns).Delete(ctx, n, del)
	}); err != nil {
		return err
	}
	svcs, err := d.c.CoreV1().Services(all).List(ctx, lo)
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	if err := do("service", metas(svcs.Items), func(ns, n string) error {
		return d.c.CoreV1().Services(ns).Delete(ctx, n, del)
	}); err != nil {
		return err
	}
	cms, err := d.c.CoreV1().ConfigMaps(all).List(ctx, lo)
	if err != nil {
		return fmt.Errorf("list config maps: %w", err)
	}
	if err := do("configmap", metas(cms.Items), func(ns, n string) error {
		return d.c.CoreV1().ConfigMaps(ns).Delete(ctx, n, del)
	}); err != nil {
		return err
	}
	secs, err := d.c.CoreV1().Secrets(all).List(ctx, lo)
	if err != nil {
		return fmt.Errorf("list secrets: %w", err)
	}
	if err := do("secret", metas(secs.Items), func(ns, n string) error {
		return d.c.CoreV1().Secrets(ns).Delete(ctx, n, del)
	}); err != nil {
		return err
	}
	nps, err := d.c.NetworkingV1().NetworkPolicies(all).List(ctx, lo)
	if err != nil {
		return fmt.Errorf("list network policies: %w", err)
	}
	if err := do("networkpolicy", metas(nps.Items), func(ns, n string) error {
		return d.c.NetworkingV1().NetworkPolicies(ns).Delete(ctx, n, del)
	}); err != nil {
		return err
	}
	if !d.cfg.KeepVolumes {
		pvcs, err := d.c.CoreV1().PersistentVolumeClaims(all).List(ctx, lo)
		if err != nil {
			return fmt.Errorf("list claims: %w", err)
		}
		if err := do("claim", metas(pvcs.Items), func(ns, n string) error {
			return d.c.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, n, del)
		}); err != nil {
			return err
		}
	}
	if len(deleted) > 0 {
		d.log.Info("deleted objects", "selector", sel, "objects", deleted)
	}
	return nil
}

// countObjects counts hoard's objects matching sel in hoard's namespaces
// (not claims with KeepVolumes).
func (d *Driver) countObjects(ctx context.Context, sel string) (int, error) {
	lo := metav1.ListOptions{LabelSelector: sel}
	all := metav1.NamespaceAll
	var ms []metav1.Object
	sts, err := d.c.AppsV1().StatefulSets(all).List(ctx, lo)
	if err != nil {
		return 0, err
	}
	ms = append(ms, metas(sts.Items)...)
	pods, err := d.c.CoreV1().Pods(all).List(ctx, lo)
	if err != nil {
		return 0, err
	}
	ms = append(ms, metas(pods.Items)...)
	svcs, err := d.c.CoreV1().Services(all).List(ctx, lo)
	if err != nil {
		return 0, err
	}
	ms = append(ms, metas(svcs.Items)...)
	cms, err := d.c.CoreV1().ConfigMaps(all).List(ctx, lo)
	if err != nil {
		return 0, err
	}
	ms = append(ms, metas(cms.Items)...)
	secs, err := d.c.CoreV1().Secrets(all).List(ctx, lo)
	if err != nil {
		return 0, err
	}
	ms = append(ms, metas(secs.Items)...)
	nps, err := d.c.NetworkingV1().NetworkPolicies(all).List(ctx, lo)
	if err != nil {
		return 0, err
	}
	ms = append(ms, metas(nps.Items)...)
	if !d.cfg.KeepVolumes {
		pvcs, err := d.c.CoreV1().PersistentVolumeClaims(all).List(ctx, lo)
		if err != nil {
			return 0, err
		}
		ms = append(ms, metas(pvcs.Items)...)
	}
	n := 0
	for _, m := range ms {
		if d.ownNamespace(m.GetNamespace()) {
			n++
		}
	}
	return n, nil
}

// metas returns the object metadata of items.
func metas[T any, PT interface {
	*T
	metav1.Object
}](items []T) []metav1.Object {
	out := make([]metav1.Object, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}

// errTimeout is wrapped by waits that ran out of time.
var errTimeout = errors.New("kubernetes: timed out")

// waitFor polls done every PollInterval until it reports true, fails, ctx
// ends or timeout passes (a fault.Unavailable wrapping errTimeout).
func (d *Driver) waitFor(parent context.Context, timeout time.Duration, what string, done func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		ok, err := done(ctx)
		if ok {
			return nil
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return err
			}
			return fault.Wrap(fault.Unavailable, "driver.kubernetes.wait", "Timed out waiting for "+what+".",
				fmt.Errorf("waiting %s for %s: %w", timeout, what, errTimeout))
		case <-t.C:
		}
	}
}

var _ driver.VolumeResizer = (*Driver)(nil)

// ResizeVolume implements driver.VolumeResizer: the claim's storage request
// is raised to the spec's size (the storage class must allow expansion);
// the cluster grows the volume, online where the provisioner can. Claims
// are never shrunk. As its contract says, the engine is then started: the
// spec is applied as Start applies it, so a stopped instance is scaled to
// one replica (a running one is left running).
func (d *Driver) ResizeVolume(ctx context.Context, s driver.Spec) error {
	return d.Start(ctx, s)
}
