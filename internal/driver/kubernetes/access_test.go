package kubernetes

import (
	"context"
	"maps"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/k8stest"
)

// TestAccessNetworkPolicy drives an instance's network access against the
// real API server tier (which validates every policy it stores). kwok
// enforces no policy: the test asserts the objects, and that the policy
// selects the instance's actual pod.
func TestAccessNetworkPolicy(t *testing.T) {
	cl := k8stest.Require(t)
	cs := cl.Client
	ctx := context.Background()
	cfg := func(c *Config) {
		c.StorageClass = k8stest.StorageClass
		c.NamespacePrefix = "hoard-acc-"
		c.PollInterval = 100 * time.Millisecond
		c.StopTimeout = 2 * time.Minute
		c.RestartTimeout = 2 * time.Minute
	}
	s := testSpec()
	s.InstanceID = "acc-1"
	s.TenantID = "access"
	s.VolumeGB = 1
	s.Access = driver.Access{Allowed: []string{"10.0.0.0/8", "2001:db8::/32"}, Peers: []string{"acc-2"}}

	// A driver that does not know hoard's namespace refuses limits (hoard
	// would be cut off from its instance), but runs open instances.
	blind, _ := newTestDriver(t, cs, cfg)
	if err := blind.AccessAvailable(); err == nil {
		t.Error("AccessAvailable without HoardNamespace = nil")
	}
	if err := blind.Provision(ctx, s); !fault.Is(err, fault.NotImplemented) {
		t.Errorf("Provision with networks and no hoard namespace = %v, want NotImplemented", err)
	}

	d, _ := newTestDriver(t, cs, func(c *Config) {
		cfg(c)
		c.HoardNamespace = "hoard-system"
		c.HoardPodLabels = map[string]string{"app": "hoard"}
	})
	if err := d.AccessAvailable(); err != nil {
		t.Fatalf("AccessAvailable = %v", err)
	}
	ns := d.namespace(s)
	nps := cs.NetworkingV1().NetworkPolicies(ns)
	policy := func() *networkingv1.NetworkPolicy {
		t.Helper()
		np, err := nps.Get(ctx, name(s.InstanceID), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return np
	}
	tcp := corev1.ProtocolTCP
	port := intstr.FromInt32(3306)
	hoardPods := networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "hoard-system"}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "hoard"}},
	}
	wantSpec := func(from ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicySpec {
		return networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{LabelManagedBy: ManagedBy, LabelInstance: s.InstanceID}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}},
				From:  append(from, hoardPods),
			}},
		}
	}
	ipBlock := func(c string) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}}
	}
	check := func(step string, want *networkingv1.NetworkPolicySpec) {
		t.Helper()
		np := policy()
		switch {
		case want == nil && np != nil:
			t.Errorf("%s: policy %+v, want none", step, np.Spec)
		case want != nil && np == nil:
			t.Errorf("%s: no policy", step)
		case want != nil && !equality.Semantic.DeepEqual(np.Spec, *want):
			t.Errorf("%s: policy spec\n%+v\nwant\n%+v", step, np.Spec, *want)
		case want != nil && (np.Labels[LabelInstance] != s.InstanceID || np.Labels[LabelManagedBy] != ManagedBy):
			t.Errorf("%s: policy labels %v", step, np.Labels)
		}
	}

	// Created with networks: the policy exists before the pod can start.
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	first := wantSpec(ipBlock("10.0.0.0/8"), ipBlock("2001:db8::/32"), networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{},
		PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{LabelManagedBy: ManagedBy, LabelInstance: "acc-2"}},
	})
	check("provisioned", &first)
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	check("started", &first)
	waitUntil(t, 3*time.Minute, "instance running", func() bool {
		st, err := d.State(ctx, s.InstanceID)
		return err == nil && st == driver.StateRunning
	})
	pod, err := cs.CoreV1().Pods(ns).Get(ctx, podName(s.InstanceID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sel, err := metav1.LabelSelectorAsSelector(&policy().Spec.PodSelector)
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(k8slabels.Set(pod.Labels)) {
		t.Errorf("the policy's pod selector %s does not select the instance's pod (labels %v)", sel, pod.Labels)
	}

	for _, st := range []struct {
		step      string
		allowed   []string
		want      *networkingv1.NetworkPolicySpec
		unchanged bool // no write: the stored policy keeps its version
	}{
		{"another network", []string{"192.168.1.0/24"}, new(wantSpec(ipBlock("192.168.1.0/24"))), false},
		{"again", []string{"192.168.1.0/24"}, new(wantSpec(ipBlock("192.168.1.0/24"))), true},
		{"every network", nil, nil, false},
		{"every network again", nil, nil, false},
		{"limited again", []string{"127.0.0.2/32"}, new(wantSpec(ipBlock("127.0.0.2/32"))), false},
	} {
		var before string
		if np := policy(); np != nil {
			before = np.ResourceVersion
		}
		s.Access = driver.Access{Allowed: st.allowed}
		if err := d.SetAccess(ctx, s); err != nil {
			t.Fatalf("%s: SetAccess: %v", st.step, err)
		}
		check(st.step, st.want)
		if np := policy(); st.unchanged && (np == nil || np.ResourceVersion != before) {
			t.Errorf("%s: the policy was written again", st.step)
		}
	}

	// A restart keeps the policy; Destroy removes it with the rest.
	if err := d.Restart(ctx, s); err != nil {
		t.Fatal(err)
	}
	check("restarted", new(wantSpec(ipBlock("127.0.0.2/32"))))
	if err := d.Destroy(ctx, s.InstanceID); err != nil {
		t.Fatal(err)
	}
	check("destroyed", nil)
}

func TestParseLabels(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
		ok   bool
	}{
		{"", map[string]string{}, true},
		{"app=hoard", map[string]string{"app": "hoard"}, true},
		{" app = hoard , app.kubernetes.io/part-of=db", map[string]string{"app": "hoard", "app.kubernetes.io/part-of": "db"}, true},
		{"app=", map[string]string{"app": ""}, true},
		{"app", nil, false},
		{"=hoard", nil, false},
		{"app=a b", nil, false},
		{"a=1,a=2", nil, false},
		{"Bad Key=x", nil, false},
	} {
		got, err := ParseLabels(tc.in)
		if (err == nil) != tc.ok || (tc.ok && !maps.Equal(got, tc.want)) {
			t.Errorf("ParseLabels(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
