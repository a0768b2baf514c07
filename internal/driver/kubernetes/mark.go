package kubernetes

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// Operations named by AnnotationReplacedBy.
const (
	replacedByRestart = "restart"
	replacedByUpdate  = "update"
	replacedByStop    = "stop"
	replacedByDestroy = "destroy"
)

// replaced reports whether a hoard operation marked p as going away on
// purpose (AnnotationReplacedBy).
func replaced(p *corev1.Pod) bool {
	return p.Annotations[AnnotationReplacedBy] != ""
}

// markPod records in the cluster that hoard operation op is about to
// remove pod p (AnnotationReplacedBy), so that the observers of every hoard
// replica see the pod going away on purpose. A pod already gone, replaced
// by another (another UID), going away or marked is left alone. The mark
// is written before anything deletes the pod: an informer delivers a pod's
// changes in order, so every observer sees the mark no later than the
// pod's deletion.
func (d *Driver) markPod(ctx context.Context, p *corev1.Pod, op string) error {
	pods := d.c.CoreV1().Pods(p.Namespace)
	uid := p.UID
	cur := p.DeepCopy()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if cur == nil {
			var err error
			if cur, err = pods.Get(ctx, p.Name, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		if cur.UID != uid || cur.DeletionTimestamp != nil || replaced(cur) {
			return nil
		}
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations[AnnotationReplacedBy] = op
		_, err := pods.Update(ctx, cur, metav1.UpdateOptions{})
		cur = nil // a conflict reads the pod again
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("mark pod %s/%s as replaced: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// unmarkPod removes a stale AnnotationReplacedBy from instance id's pod in
// ns: one an operation that then failed left on a pod that still runs and
// is not going away (observers ignore a marked pod).
func (d *Driver) unmarkPod(ctx context.Context, ns, id string) error {
	pods := d.c.CoreV1().Pods(ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := pods.Get(ctx, podName(id), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.DeletionTimestamp != nil || !replaced(p) {
			return nil
		}
		delete(p.Annotations, AnnotationReplacedBy)
		_, err = pods.Update(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unmark pod %s/%s: %w", ns, podName(id), err)
	}
	return nil
}

// markPods marks every pod of instance id (in hoard's namespaces) as
// removed by op.
func (d *Driver) markPods(ctx context.Context, id, op string) error {
	list, err := d.c.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: selector(id)})
	if err != nil {
		return fmt.Errorf("list pods of %s: %w", id, err)
	}
	for i := range list.Items {
		p := &list.Items[i]
		if !d.ownNamespace(p.Namespace) || p.Name != podName(id) {
			continue
		}
		if err := d.markPod(ctx, p, op); err != nil {
			return err
		}
	}
	return nil
}
