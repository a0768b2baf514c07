package kubernetes

import (
	"errors"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/hoard-db/hoard/internal/driver"
)

// TestObserverJudgesPods feeds the observer pod changes in the orders an
// informer can deliver them and checks which become events.
func TestObserverJudgesPods(t *testing.T) {
	ns := Namespace(DefaultNamespacePrefix, testTenant)
	pod := func(uid, hash string, ready bool, mark string) *corev1.Pod {
		st := corev1.ConditionFalse
		if ready {
			st = corev1.ConditionTrue
		}
		ann := map[string]string{AnnotationSpecHash: hash}
		if mark != "" {
			ann[AnnotationReplacedBy] = mark
		}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: podName(testID), Namespace: ns, UID: types.UID(uid),
				Labels: map[string]string{LabelInstance: testID}, Annotations: ann},
			Status: corev1.PodStatus{Phase: corev1.PodRunning,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
		}
	}
	terminating := func(p *corev1.Pod) *corev1.Pod {
		now := metav1.Now()
		p.DeletionTimestamp = &now
		return p
	}
	type change struct {
		p       *corev1.Pod
		deleted bool
	}
	tests := []struct {
		name    string
		cluster string // the StatefulSet's template hash; "" no StatefulSet, "error" unreadable
		changes []change
		want    []driver.EventKind
	}{
		{"crash and recovery", "h1", []change{
			{pod("a", "h1", true, ""), false},
			{pod("a", "h1", false, ""), false},
			{pod("a", "h1", true, ""), false},
		}, []driver.EventKind{driver.EventExited, driver.EventRecovered}},
		{"pod deleted by someone else", "h1", []change{
			{pod("a", "h1", true, ""), false},
			{pod("a", "h1", true, ""), true},
			{pod("b", "h1", true, ""), false},
		}, []driver.EventKind{driver.EventExited, driver.EventRecovered}},
		{"marked pod replaced", "h1", []change{
			{pod("a", "h1", true, ""), false},
			{pod("a", "h1", true, replacedByRestart), false},
			{pod("a", "h1", true, replacedByRestart), true},
			{pod("b", "h1", false, ""), false},
			{pod("b", "h1", true, ""), false},
		}, nil},
		{"pod of an older template replaced by the controller", "h2", []change{
			{pod("a", "h1", true, ""), false},
			{pod("a", "h1", true, ""), true},
			{pod("b", "h2", false, ""), false},
			{pod("b", "h2", true, ""), false},
		}, nil},
		{"pod made from a stale template, then replaced", "h2", []change{
			{pod("a", "h2", false, ""), false},
			{pod("b", "h1", true, ""), false},
			{pod("b", "h1", true, ""), true},
			{pod("c", "h2", true, ""), false},
		}, nil},
		{"current template's pod still reports its crash", "h2", []change{
			{pod("b", "h1", true, ""), true},
			{pod("c", "h2", true, ""), false},
			{pod("c", "h2", false, ""), false},
		}, []driver.EventKind{driver.EventExited}},
		{"crash of a pod of a template another replica applied", "h3", []change{
			{pod("c", "h3", true, ""), false},
			{pod("c", "h3", false, ""), false},
		}, []driver.EventKind{driver.EventExited}},
		{"StatefulSet deleted behind hoard's back", "", []change{
			{pod("b", "h1", true, ""), false},
			{pod("b", "h1", true, ""), true},
		}, []driver.EventKind{driver.EventExited}},
		{"StatefulSet unreadable", "error", []change{
			{pod("b", "h1", true, ""), false},
			{pod("b", "h1", true, ""), true},
		}, []driver.EventKind{driver.EventExited}},
		{"stale pod terminating, then deleted", "h2", []change{
			{pod("b", "h1", true, ""), false},
			{terminating(pod("b", "h1", true, "")), false},
			{pod("b", "h1", true, ""), true},
			{pod("c", "h2", false, ""), false},
			{pod("c", "h2", true, ""), false},
		}, nil},
		{"old-template pod crashes while still running", "h2", []change{
			{pod("b", "h1", true, ""), false},
			{pod("b", "h1", false, ""), false},
		}, []driver.EventKind{driver.EventExited}},
		{"late deletion of a replaced pod", "h1", []change{
			{pod("b", "h1", true, ""), false},
			{pod("a", "h1", false, ""), true},
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			if tc.cluster == "error" {
				cs.PrependReactor("get", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, errors.New("connection refused")
				})
			} else if tc.cluster != "" {
				sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name(testID), Namespace: ns}}
				sts.Spec.Template.Annotations = map[string]string{AnnotationSpecHash: tc.cluster}
				if _, err := cs.AppsV1().StatefulSets(ns).Create(t.Context(), sts, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			d, ev := newTestDriver(t, cs, nil)
			for _, c := range tc.changes {
				d.obs.changed(c.p, c.deleted)
			}
			if got := ev.kinds(); !slices.Equal(got, tc.want) {
				t.Errorf("events = %v, want %v", got, tc.want)
			}
		})
	}
}
