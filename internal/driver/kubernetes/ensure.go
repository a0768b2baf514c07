package kubernetes

import (
	"bytes"
	"context"
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// ensure creates or updates every object of o. A new StatefulSet gets
// replicas (0 or 1); an existing one keeps its replica count unless
// replicas is 1 (Start and Restart).
func (d *Driver) ensure(ctx context.Context, o *objects, replicas int32) error {
	if err := d.ensureNamespace(ctx, o.ns); err != nil {
		return err
	}
	// Before the pod can start: never a pod without its filter.
	if err := d.applyAccess(ctx, o); err != nil {
		return err
	}
	if err := d.ensureSecret(ctx, o.secret); err != nil {
		return err
	}
	if err := d.ensureConfigMap(ctx, o.config); err != nil {
		return err
	}
	if err := d.ensureService(ctx, o.svc); err != nil {
		return err
	}
	if err := d.ensureClaim(ctx, o.claim); err != nil {
		return err
	}
	return d.ensureStatefulSet(ctx, o, replicas)
}

func (d *Driver) ensureNamespace(ctx context.Context, want *corev1.Namespace) error {
	c := d.c.CoreV1().Namespaces()
	_, err := c.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = c.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("ensure namespace %s: %w", want.Name, err)
	}
	return nil
}

// hasLabels reports whether have carries every label of want.
func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func (d *Driver) ensureSecret(ctx context.Context, want *corev1.Secret) error {
	c := d.c.CoreV1().Secrets(want.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		have, err := c.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = c.Create(ctx, want, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		if hasLabels(have.Labels, want.Labels) && maps.EqualFunc(have.Data, want.Data, bytes.Equal) {
			return nil
		}
		have.Labels = want.Labels
		have.Data = want.Data
		_, err = c.Update(ctx, have, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("ensure secret %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}

func (d *Driver) ensureConfigMap(ctx context.Context, want *corev1.ConfigMap) error {
	c := d.c.CoreV1().ConfigMaps(want.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		have, err := c.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = c.Create(ctx, want, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		if hasLabels(have.Labels, want.Labels) && maps.Equal(have.Data, want.Data) {
			return nil
		}
		have.Labels = want.Labels
		have.Data = want.Data
		_, err = c.Update(ctx, have, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("ensure config map %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}

func (d *Driver) ensureService(ctx context.Context, want *corev1.Service) error {
	c := d.c.CoreV1().Services(want.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		have, err := c.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = c.Create(ctx, want, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		if hasLabels(have.Labels, want.Labels) && maps.Equal(have.Spec.Selector, want.Spec.Selector) &&
			samePorts(have.Spec.Ports, want.Spec.Ports) {
			return nil
		}
		// ClusterIP and the other allocated fields stay as they are.
		have.Labels = want.Labels
		have.Spec.Selector = want.Spec.Selector
		have.Spec.Ports = want.Spec.Ports
		_, err = c.Update(ctx, have, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("ensure service %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}

func samePorts(a, b []corev1.ServicePort) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Port != b[i].Port || a[i].TargetPort != b[i].TargetPort {
			return false
		}
	}
	return true
}

// ensureClaim creates the claim, or grows its request to the wanted size
// (a volume resize: the cluster's storage expands the volume). A claim is
// never shrunk.
func (d *Driver) ensureClaim(ctx context.Context, want *corev1.PersistentVolumeClaim) error {
	c := d.c.CoreV1().PersistentVolumeClaims(want.Namespace)
	have, err := c.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = c.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// The StatefulSet controller was faster; grow it below.
			have, err = c.Get(ctx, want.Name, metav1.GetOptions{})
		} else if err == nil {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("ensure claim %s/%s: %w", want.Namespace, want.Name, err)
	}
	wantSize := want.Spec.Resources.Requests[corev1.ResourceStorage]
	haveSize := have.Spec.Resources.Requests[corev1.ResourceStorage]
	switch haveSize.Cmp(wantSize) {
	case 0:
		return nil
	case 1:
		d.log.Warn("volume larger than its spec; claims are never shrunk", "instance_id", want.Labels[LabelInstance],
			"have", haveSize.String(), "want", wantSize.String())
		return nil
	}
	patch := fmt.Sprintf(`{"spec":{"resources":{"requests":{"storage":%q}}}}`, wantSize.String())
	if _, err := c.Patch(ctx, want.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("expand claim %s/%s to %s: %w", want.Namespace, want.Name, wantSize.String(), err)
	}
	d.log.Info("volume expansion requested", "instance_id", want.Labels[LabelInstance], "size", wantSize.String())
	return nil
}

// ensureStatefulSet creates the StatefulSet or updates its pod template
// when the spec hash differs. The fields the API server does not let change
// (selector, service name, claim templates) keep their stored values.
func (d *Driver) ensureStatefulSet(ctx context.Context, o *objects, replicas int32) error {
	want := o.sts
	c := d.c.AppsV1().StatefulSets(want.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		have, err := c.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			obj := want.DeepCopy()
			obj.Spec.Replicas = &replicas
			_, err = c.Create(ctx, obj, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		same := have.Annotations[AnnotationSpecHash] == o.hash && hasLabels(have.Labels, want.Labels)
		if same && (replicas == 0 || (have.Spec.Replicas != nil && *have.Spec.Replicas == replicas)) {
			return nil
		}
		if !same {
			// A new template makes the controller replace the pod: that
			// pod goes on purpose and its replacement's start is no exit.
			id := want.Labels[LabelInstance]
			if p, err := d.c.CoreV1().Pods(want.Namespace).Get(ctx, podName(id), metav1.GetOptions{}); err == nil {
				d.obs.expectGone(id, p.UID)
				if err := d.markPod(ctx, p, replacedByUpdate); err != nil {
					return err
				}
			}
			have.Labels = want.Labels
			if have.Annotations == nil {
				have.Annotations = map[string]string{}
			}
			have.Annotations[AnnotationSpecHash] = o.hash
			have.Spec.Template = want.Spec.Template
			have.Spec.UpdateStrategy = want.Spec.UpdateStrategy
		}
		if replicas > 0 {
			have.Spec.Replicas = &replicas
		}
		_, err = c.Update(ctx, have, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("ensure statefulset %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}

// scale sets the StatefulSet's replicas; false if it does not exist.
func (d *Driver) scale(ctx context.Context, ns, id string, n int32) (bool, error) {
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)
	_, err := d.c.AppsV1().StatefulSets(ns).Patch(ctx, name(id), types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("scale statefulset %s/%s to %d: %w", ns, name(id), n, err)
	}
	return true, nil
}

// findStatefulSet returns instance id's StatefulSet in any of hoard's
// namespaces; nil if there is none.
func (d *Driver) findStatefulSet(ctx context.Context, id string) (*appsv1.StatefulSet, error) {
	list, err := d.c.AppsV1().StatefulSets(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: selector(id)})
	if err != nil {
		return nil, fmt.Errorf("list statefulsets of %s: %w", id, err)
	}
	for i := range list.Items {
		if d.ownNamespace(list.Items[i].Namespace) && list.Items[i].Name == name(id) {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}
