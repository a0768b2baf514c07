package kubernetes

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

var _ driver.Readier = (*Driver)(nil)

// Readiness probe timing of the database container. The period is short
// because a restart's REBOOT → ACTIVE waits for the first successful probe;
// three failures in a row (about six seconds) take the pod out of its
// Service, so that a single slow answer under load does not.
const (
	probePeriodSeconds    = 2
	probeTimeoutSeconds   = 5
	probeFailureThreshold = 3
)

// readinessProbe is the readiness probe of engine's container: the
// configured command (Config.Readiness), else the engine's own (def, its
// datastore.Container.Readiness; each engine's Container method explains
// its command), else a TCP check of the port.
func (d *Driver) readinessProbe(engine string, def []string) *corev1.Probe {
	pr := &corev1.Probe{
		PeriodSeconds:    probePeriodSeconds,
		TimeoutSeconds:   probeTimeoutSeconds,
		FailureThreshold: probeFailureThreshold,
		SuccessThreshold: 1,
	}
	cmd := d.cfg.Readiness[engine]
	if len(cmd) == 0 {
		cmd = def
	}
	if len(cmd) == 0 {
		pr.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromString(portName)}
		return pr
	}
	pr.Exec = &corev1.ExecAction{Command: append([]string(nil), cmd...)}
	return pr
}

// WaitReady implements driver.Readier: it returns once the pod of instance
// s runs the pod template the StatefulSet has now (its spec hash) and is
// Running and Ready, the kubelet's verdict from the readiness probe.
//
// Changes of hoard's pods seen by the informer wake it at once; it also
// looks every few seconds in case an event is missed. Each look reads the
// StatefulSet and the pod from the API server, not from the informer's
// cache, which may still hold the pod a restart deleted a moment ago.
func (d *Driver) WaitReady(ctx context.Context, s driver.Spec) error {
	const op = "driver.kubernetes.wait_ready"
	if err := checkID(op, s.InstanceID); err != nil {
		return err
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return fault.New(fault.Unavailable, op, "driver closed")
	}
	if err := d.watch(); err != nil {
		return err
	}
	id, ns := s.InstanceID, d.namespace(s)
	wake := d.obs.subscribe(id)
	defer d.obs.unsubscribe(id, wake)
	fallback := max(d.cfg.PollInterval, 2*time.Second)
	t := time.NewTicker(fallback)
	defer t.Stop()
	for {
		ok, detail, err := d.readyNow(ctx, ns, id)
		if ok {
			return nil
		}
		if err != nil {
			detail = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kubernetes: pod %s/%s not ready (%s): %w", ns, podName(id), detail, ctx.Err())
		case <-d.stop:
			return fault.New(fault.Unavailable, op, "driver closed")
		case <-wake:
		case <-t.C:
		}
	}
}

// readyNow reports whether instance id's pod in ns runs the StatefulSet's
// current template and is ready, and else what it is instead.
func (d *Driver) readyNow(ctx context.Context, ns, id string) (bool, string, error) {
	sts, err := d.c.AppsV1().StatefulSets(ns).Get(ctx, name(id), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, "no statefulset", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("get statefulset %s/%s: %w", ns, name(id), err)
	}
	if sts.Spec.Replicas != nil && *sts.Spec.Replicas == 0 {
		return false, "stopped (0 replicas)", nil
	}
	p, err := d.c.CoreV1().Pods(ns).Get(ctx, podName(id), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, "no pod yet", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("get pod %s/%s: %w", ns, podName(id), err)
	}
	if want := sts.Spec.Template.Annotations[AnnotationSpecHash]; p.DeletionTimestamp == nil && p.Annotations[AnnotationSpecHash] != want {
		return false, "the pod runs an older spec", nil
	}
	if !podReady(p) {
		return false, podDetail(p, false), nil
	}
	return true, "", nil
}
