package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/retry"

	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

// Network access (driver.AccessEnforcer) is a NetworkPolicy per instance
// with allowed networks, named like the instance's other objects and
// labelled like them (so Destroy and Recover remove it with them). It
// selects the instance's pod and lets in, on the engine's port only:
//
//   - clients whose address is in an allowed network (ipBlock);
//   - the pods of the instance's peers (its source, replicas and HA group
//     members, by their hoard.dev/instance label, in any namespace):
//     replication connects engine to engine;
//   - hoard's own pods: those labelled Config.HoardPodLabels (all pods when
//     empty) in the namespace Config.HoardNamespace (matched by its
//     kubernetes.io/metadata.name label, which the API server sets on
//     every namespace).
//
// Everything else is dropped by the cluster's network plugin, which must
// implement NetworkPolicy (Calico, Cilium, ...: with one that does not,
// such as plain flannel, the policy is stored and has no effect). An
// instance without networks has no policy. The policy is applied before
// the StatefulSet on every Provision, Start and Restart, so a pod never
// starts without the filter its spec asks for.

// labelNamespaceName is the label the API server puts on every namespace,
// whose value is the namespace's name.
const labelNamespaceName = "kubernetes.io/metadata.name"

var _ driver.AccessEnforcer = (*Driver)(nil)

// errNoHoardNamespace is why access cannot be enforced when the driver does
// not know where hoard's own pods run: a policy would cut hoard off from
// the instance (admin connections, health checks, backups).
var errNoHoardNamespace = errors.New("hoard's own namespace is unknown (--k8s-hoard-namespace): a network policy would keep hoard itself out of the instance")

// AccessAvailable implements driver.AccessEnforcer: it can enforce access
// when it knows hoard's own namespace (Config.HoardNamespace). Whether the
// cluster's network plugin enforces NetworkPolicies is not observable
// through the API: that is the operator's part (docs/kubernetes.md).
func (d *Driver) AccessAvailable() error {
	if d.cfg.HoardNamespace == "" {
		return errNoHoardNamespace
	}
	return nil
}

// SetAccess implements driver.AccessEnforcer: it creates or replaces
// instance s's NetworkPolicy, or deletes it when s.Access.Allowed is empty.
func (d *Driver) SetAccess(ctx context.Context, s driver.Spec) error {
	const op = "driver.kubernetes.access"
	unlock, err := d.lock(op, s.InstanceID)
	if err != nil {
		return err
	}
	defer unlock()
	e, err := d.engine(op, s)
	if err != nil {
		return err
	}
	np, err := d.networkPolicy(op, s, int32(e.DefaultPort()))
	if err != nil {
		return err
	}
	if np == nil {
		return d.removeNetworkPolicy(ctx, d.namespace(s), s.InstanceID)
	}
	if err := d.ensureNamespace(ctx, d.namespaceObject(s)); err != nil {
		return err
	}
	return d.ensureNetworkPolicy(ctx, np)
}

// namespaceObject is the tenant namespace of instance s.
func (d *Driver) namespaceObject(s driver.Spec) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: d.namespace(s), Labels: map[string]string{
		LabelManagedBy: ManagedBy, LabelTenant: tenantLabel(s.TenantID),
	}}}
}

// networkPolicy returns the NetworkPolicy of instance s, whose engine
// listens on port; nil when s has no networks (no policy).
func (d *Driver) networkPolicy(op string, s driver.Spec, port int32) (*networkingv1.NetworkPolicy, error) {
	if len(s.Access.Allowed) == 0 {
		return nil, nil
	}
	if err := d.AccessAvailable(); err != nil {
		return nil, fault.Wrap(fault.NotImplemented, op, "network access cannot be enforced: "+err.Error(), err)
	}
	var from []networkingv1.NetworkPolicyPeer
	for _, c := range s.Access.Allowed {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fault.Errorf(fault.Invalid, op, "instance %s: allowed network %q: %v", s.InstanceID, c, err)
		}
		from = append(from, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: p.Masked().String()}})
	}
	for _, id := range s.Access.Peers {
		if !validID(id) {
			continue
		}
		from = append(from, networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{},
			PodSelector:       &metav1.LabelSelector{MatchLabels: podSelector(id)},
		})
	}
	from = append(from, networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labelNamespaceName: d.cfg.HoardNamespace}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: copyMap(d.cfg.HoardPodLabels)},
	})
	tcp := corev1.ProtocolTCP
	dbPort := intstr.FromInt32(port)
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name(s.InstanceID), Namespace: d.namespace(s), Labels: labels(s)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: podSelector(s.InstanceID)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &dbPort}},
				From:  from,
			}},
		},
	}, nil
}

// ensureNetworkPolicy creates want or updates the stored policy to it.
func (d *Driver) ensureNetworkPolicy(ctx context.Context, want *networkingv1.NetworkPolicy) error {
	c := d.c.NetworkingV1().NetworkPolicies(want.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		have, err := c.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = c.Create(ctx, want, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		if hasLabels(have.Labels, want.Labels) && equality.Semantic.DeepEqual(have.Spec, want.Spec) {
			return nil
		}
		have.Labels = want.Labels
		have.Spec = want.Spec
		_, err = c.Update(ctx, have, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("ensure network policy %s/%s: %w", want.Namespace, want.Name, err)
	}
	return nil
}

// removeNetworkPolicy deletes instance id's policy in ns, if it has one
// (a read first: an instance without networks costs no write).
func (d *Driver) removeNetworkPolicy(ctx context.Context, ns, id string) error {
	c := d.c.NetworkingV1().NetworkPolicies(ns)
	_, err := c.Get(ctx, name(id), metav1.GetOptions{})
	if err == nil {
		err = c.Delete(ctx, name(id), metav1.DeleteOptions{})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete network policy %s/%s: %w", ns, name(id), err)
	}
	return nil
}

// applyAccess makes the instance's policy what build made of its spec
// (ensure, before the StatefulSet).
func (d *Driver) applyAccess(ctx context.Context, o *objects) error {
	if o.policy == nil {
		return d.removeNetworkPolicy(ctx, o.ns.Name, o.id)
	}
	return d.ensureNetworkPolicy(ctx, o.policy)
}

// serviceAccountNamespace is where a pod finds its own namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// InClusterNamespace returns the namespace of the pod hoard runs in, read
// from its service account; "" outside a cluster.
func InClusterNamespace() string {
	b, err := os.ReadFile(serviceAccountNamespace)
	if err != nil {
		return ""
	}
	if ns := strings.TrimSpace(string(b)); ValidNamespace(ns) {
		return ns
	}
	return ""
}

// ValidNamespace reports whether ns is a namespace name (a DNS label).
func ValidNamespace(ns string) bool {
	return len(validation.IsDNS1123Label(ns)) == 0
}

// ParseLabels parses "key=value,key=value" (hoard's own pod labels) into
// a map; "" is none. Keys and values must be valid label keys and values.
func ParseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok {
			return nil, fmt.Errorf("want key=value, got %q", part)
		}
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return nil, fmt.Errorf("label key %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return nil, fmt.Errorf("label %s value %q: %s", k, v, strings.Join(errs, "; "))
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("label %q given twice", k)
		}
		out[k] = v
	}
	return out, nil
}
