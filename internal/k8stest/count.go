package k8stest

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CountLabelled counts the objects matching the label selector sel, in
// every namespace, of each kind hoard's Kubernetes driver makes
// (StatefulSets, pods, Services, ConfigMaps, Secrets, claims). A list
// error fails t.
func (c *Cluster) CountLabelled(t testing.TB, sel string) int {
	t.Helper()
	ctx := context.Background()
	lo := metav1.ListOptions{LabelSelector: sel}
	cs := c.Client
	n := 0
	add := func(k int, err error) {
		if err != nil {
			t.Fatal(err)
		}
		n += k
	}
	sts, err := cs.AppsV1().StatefulSets("").List(ctx, lo)
	add(len(sts.Items), err)
	pods, err := cs.CoreV1().Pods("").List(ctx, lo)
	add(len(pods.Items), err)
	svcs, err := cs.CoreV1().Services("").List(ctx, lo)
	add(len(svcs.Items), err)
	cms, err := cs.CoreV1().ConfigMaps("").List(ctx, lo)
	add(len(cms.Items), err)
	secs, err := cs.CoreV1().Secrets("").List(ctx, lo)
	add(len(secs.Items), err)
	pvcs, err := cs.CoreV1().PersistentVolumeClaims("").List(ctx, lo)
	add(len(pvcs.Items), err)
	return n
}
