package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fakeController plays the StatefulSet controller and the kubelet against
// a fake clientset: a StatefulSet with one replica gets a Running, Ready pod
// built from its template (with a fresh UID), a pod whose spec hash is
// stale is replaced, and a StatefulSet at zero replicas loses its pod.
type fakeController struct {
	cs   *fake.Clientset
	uids atomic.Int64
	// hold, when set, keeps new pods not ready.
	hold atomic.Bool
}

func startFakeController(t *testing.T, cs *fake.Clientset) *fakeController {
	t.Helper()
	fc := &fakeController{cs: cs}
	// The fake server ignores delete preconditions; the real one does not.
	cs.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteAction)
		pre := da.GetDeleteOptions().Preconditions
		if pre == nil || pre.UID == nil {
			return false, nil, nil
		}
		obj, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), da.GetNamespace(), da.GetName())
		if err != nil {
			return true, nil, err
		}
		if obj.(*corev1.Pod).UID != *pre.UID {
			return true, nil, apierrors.NewConflict(corev1.Resource("pods"), da.GetName(), errors.New("uid precondition failed"))
		}
		return false, nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	sw, err := cs.AppsV1().StatefulSets("").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pw, err := cs.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-sw.ResultChan():
				if !ok {
					return
				}
			case _, ok := <-pw.ResultChan():
				if !ok {
					return
				}
			}
			fc.reconcile(ctx)
		}
	}()
	t.Cleanup(func() {
		cancel()
		sw.Stop()
		pw.Stop()
		wg.Wait()
	})
	return fc
}

func (fc *fakeController) reconcile(ctx context.Context) {
	list, err := fc.cs.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for i := range list.Items {
		sts := &list.Items[i]
		pods := fc.cs.CoreV1().Pods(sts.Namespace)
		pn := sts.Name + "-0"
		p, err := pods.Get(ctx, pn, metav1.GetOptions{})
		exists := err == nil
		want := sts.Spec.Replicas == nil || *sts.Spec.Replicas > 0
		switch {
		case exists && (!want || p.Annotations[AnnotationSpecHash] != sts.Spec.Template.Annotations[AnnotationSpecHash]):
			_ = pods.Delete(ctx, pn, metav1.DeleteOptions{})
		case !exists && want:
			_, _ = pods.Create(ctx, fc.pod(sts), metav1.CreateOptions{})
			// The garbage collector removes the pods of a StatefulSet
			// deleted meanwhile.
			if _, err := fc.cs.AppsV1().StatefulSets(sts.Namespace).Get(ctx, sts.Name, metav1.GetOptions{}); isNotFound(err) {
				_ = pods.Delete(ctx, pn, metav1.DeleteOptions{})
			}
		}
	}
}

func (fc *fakeController) pod(sts *appsv1.StatefulSet) *corev1.Pod {
	tpl := sts.Spec.Template.DeepCopy()
	ready := corev1.ConditionTrue
	if fc.hold.Load() {
		ready = corev1.ConditionFalse
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: sts.Name + "-0", Namespace: sts.Namespace,
			UID:    types.UID(fmt.Sprintf("uid-%d", fc.uids.Add(1))),
			Labels: tpl.Labels, Annotations: tpl.Annotations,
		},
		Spec: tpl.Spec,
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}},
		},
	}
}

// setReady sets the Ready condition of instance id's pod.
func setReady(t *testing.T, cs *fake.Clientset, ns, id string, ready bool) {
	t.Helper()
	ctx := context.Background()
	p, err := cs.CoreV1().Pods(ns).Get(ctx, podName(id), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// isNotFound is apierrors.IsNotFound, for brevity in tests.
func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
