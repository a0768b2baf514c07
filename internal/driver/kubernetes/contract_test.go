package kubernetes

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/driver/drivertest"
	"github.com/hoard-db/hoard/internal/k8stest"
)

// TestContract runs the driver contract suite against the Kubernetes
// driver on the real API server tier (k8stest). kwok plays the kubelet:
// pods turn Running and Ready, but no container runs, so the cases that
// need an engine to answer do not apply. A crash is the pod deleted
// behind the driver's back; the engine that runs is the pod, by its UID.
func TestContract(t *testing.T) {
	cl := k8stest.Require(t)
	cs := cl.Client
	var last *Driver // the Driver made last: the one the suite works with
	n := 0
	pod := func(ctx context.Context, s driver.Spec) (*corev1.Pod, error) {
		p, err := cs.CoreV1().Pods(Namespace("hoard-ct-", s.TenantID)).Get(ctx, podName(s.InstanceID), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return p, err
	}
	drivertest.Run(t, drivertest.Harness{
		New: func(t *testing.T, obs driver.Observer) driver.Driver {
			d, _ := newTestDriver(t, cs, func(c *Config) {
				c.StorageClass = k8stest.StorageClass
				c.NamespacePrefix = "hoard-ct-"
				c.Observer = obs
				c.PollInterval = 100 * time.Millisecond
				c.StopTimeout = 2 * time.Minute
				c.RestartTimeout = 2 * time.Minute
				c.OrphanMinAge = -1
			})
			last = d
			return d
		},
		Spec: func(*testing.T) driver.Spec {
			n++
			s := testSpec()
			s.InstanceID = fmt.Sprintf("contract-%d", n)
			s.TenantID = "contract"
			s.VolumeGB = 1
			return s
		},
		NoEngine: "kwok runs no containers: no engine answers at the instance's Service",
		Incarnation: func(ctx context.Context, s driver.Spec) (string, error) {
			p, err := pod(ctx, s)
			if err != nil || p == nil || p.DeletionTimestamp != nil {
				return "", err
			}
			return "pod " + string(p.UID), nil
		},
		// The pod deleted at once, as a node that lost it would.
		Crash: func(ctx context.Context, s driver.Spec) error {
			// The observer reports an exit only of a pod it saw ready.
			seen := func() bool {
				last.obs.mu.Lock()
				defer last.obs.mu.Unlock()
				st := last.obs.pods[s.InstanceID]
				return st != nil && st.ready
			}
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for deadline := time.Now().Add(time.Minute); !seen(); <-tick.C {
				if time.Now().After(deadline) {
					return fmt.Errorf("the observer has not seen pod %s ready", podName(s.InstanceID))
				}
			}
			zero := int64(0)
			return cs.CoreV1().Pods(Namespace("hoard-ct-", s.TenantID)).Delete(ctx, podName(s.InstanceID),
				metav1.DeleteOptions{GracePeriodSeconds: &zero})
		},
		VolumeBytes: func(ctx context.Context, s driver.Spec) (int64, error) {
			c, err := cs.CoreV1().PersistentVolumeClaims(Namespace("hoard-ct-", s.TenantID)).Get(ctx, claimName(s.InstanceID), metav1.GetOptions{})
			if err != nil {
				return 0, err
			}
			q := c.Spec.Resources.Requests[corev1.ResourceStorage]
			return q.Value(), nil
		},
		Timeout: 2 * time.Minute,
	})
}
