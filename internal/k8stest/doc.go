// Package k8stest runs a real Kubernetes control plane for tests, without
// a container runtime: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok (which plays the kubelet of one fake node) on
// 127.0.0.1 ports, built by scripts/k8s-bins. StatefulSets then get pods
// that are scheduled and turn Running and Ready, and claims of
// [StorageClass] are bound to volumes made by a small provisioner in the
// helper. No container ever runs: pods are API objects only.
//
// One control plane serves a whole test binary: call [Main] from TestMain
// and [Require] from each test.
package k8stest
