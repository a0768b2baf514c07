package k8stest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Versions of the control plane scripts/k8s-bins builds.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.6.16"
	KwokVersion       = "v0.8.0"
)

// Environment variables read by the package.
const (
	// EnvBins names the directory with the binaries (scripts/k8s-bins
	// prints it).
	EnvBins = "HOARD_K8S_BINS"
	// EnvRequire, set to 1, turns a missing bin directory into a test
	// failure instead of a skip (CI sets it).
	EnvRequire = "HOARD_REQUIRE_K8S"
)

// StorageClass is the storage class the helper's provisioner serves; it
// allows volume expansion.
const StorageClass = "hoard-test"

// NodeName is the fake node kwok manages.
const NodeName = "kwok-node-0"

// binaries the control plane needs in the bin directory.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml"}

// DefaultBinDir is where scripts/k8s-bins puts the binaries by default.
func DefaultBinDir() string {
	return "/var/cache/hoard-ci/k8s-" + KubernetesVersion + "-etcd-" + EtcdVersion + "-kwok-" + KwokVersion + "/bin"
}

// BinDir returns the bin directory: $HOARD_K8S_BINS, else DefaultBinDir
// when it holds every binary; "" when there is none.
func BinDir() string {
	if d := os.Getenv(EnvBins); d != "" {
		return d
	}
	d := DefaultBinDir()
	if missing(d) == "" {
		return d
	}
	return ""
}

// missing names the first binary absent from dir ("" if none).
func missing(dir string) string {
	for _, b := range binaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return b
		}
	}
	return ""
}

// Cluster is a running control plane: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok on 127.0.0.1, with one
// fake node and a provisioner for StorageClass.
type Cluster struct {
	// Dir holds the cluster's files (etcd data, certificates, logs).
	Dir string
	// Kubeconfig is the path of an admin kubeconfig file.
	Kubeconfig string
	// Config and Client reach the API server as an admin.
	Config *rest.Config
	Client kubernetes.Interface

	procs  []*proc
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// Start starts a control plane from the binaries in bins, with its files
// in a new directory under dir (os.TempDir() if ""). Stop stops it and
// removes the directory.
func Start(bins, dir string) (c *Cluster, err error) {
	if m := missing(bins); m != "" {
		return nil, fmt.Errorf("k8stest: %s missing from %s (run scripts/k8s-bins)", m, bins)
	}
	work, err := os.MkdirTemp(dir, "k8stest-")
	if err != nil {
		return nil, err
	}
	c = &Cluster{Dir: work}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w%s", err, c.logTails())
			c.Stop()
		}
	}()
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, apiPort, cmPort, schedPort, kwokPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	if err := c.writeFiles(token, apiPort); err != nil {
		return nil, err
	}
	bin := func(n string) string { return filepath.Join(bins, n) }
	at := func(n string) string { return filepath.Join(work, n) }
	local := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }

	if err := c.run("etcd", bin("etcd"), "--name=k", "--data-dir="+at("etcd"),
		"--listen-client-urls=http://"+local(etcdClient), "--advertise-client-urls=http://"+local(etcdClient),
		"--listen-peer-urls=http://"+local(etcdPeer), "--initial-advertise-peer-urls=http://"+local(etcdPeer),
		"--initial-cluster=k=http://"+local(etcdPeer), "--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return nil, err
	}
	if err := c.waitHTTP("etcd", "http://"+local(etcdClient)+"/health", "", 60*time.Second); err != nil {
		return nil, err
	}
	if err := c.run("kube-apiserver", bin("kube-apiserver"),
		"--etcd-servers=http://"+local(etcdClient), "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		// Required with a loopback advertise address (engines.md §6).
		"--endpoint-reconciler-type=none",
		"--secure-port="+strconv.Itoa(apiPort), "--cert-dir="+at("certs"),
		"--service-cluster-ip-range=10.0.0.0/24", "--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+at("sa.pub"), "--service-account-signing-key-file="+at("sa.key"),
		"--token-auth-file="+at("tokens.csv"), "--authorization-mode=RBAC", "--allow-privileged=true",
		"--enable-priority-and-fairness=false"); err != nil {
		return nil, err
	}
	if err := c.waitHTTP("kube-apiserver", "https://"+local(apiPort)+"/readyz", token, 120*time.Second); err != nil {
		return nil, err
	}
	c.Config = &rest.Config{
		Host:            "https://" + local(apiPort),
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             100,
		Burst:           200,
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return nil, err
	}
	if err := c.run("kube-controller-manager", bin("kube-controller-manager"), "--kubeconfig="+c.Kubeconfig,
		"--controllers=*", "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(cmPort),
		"--service-account-private-key-file="+at("sa.key"), "--use-service-account-credentials=false"); err != nil {
		return nil, err
	}
	if err := c.run("kube-scheduler", bin("kube-scheduler"), "--kubeconfig="+c.Kubeconfig,
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort)); err != nil {
		return nil, err
	}
	// kwok keeps its default pod CIDR: loopback addresses are not valid
	// endpoint addresses (engines.md §6).
	if err := c.run("kwok", bin("kwok"), "--kubeconfig="+c.Kubeconfig, "--config="+bin("kwok-stages.yaml"),
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--server-address="+local(kwokPort), "--node-ip=127.0.0.1"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.setup(ctx); err != nil {
		return nil, err
	}
	pctx, pcancel := context.WithCancel(context.Background())
	c.cancel = pcancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.provision(pctx)
	}()
	return c, nil
}

// Stop stops every process (SIGTERM, then SIGKILL) and removes Dir.
func (c *Cluster) Stop() {
	if c.cancel != nil {
		c.cancel()
		c.wg.Wait()
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	c.procs = nil
	if c.Dir != "" {
		_ = os.RemoveAll(c.Dir)
	}
}

// run starts one process in its own process group, logging to a file.
func (c *Cluster) run(name, bin string, args ...string) error {
	logPath := filepath.Join(c.Dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = c.Dir
	// Pdeathsig: a test binary that dies leaves no control plane behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("k8stest: start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
	return nil
}

// exited returns an error if a process has ended.
func (c *Cluster) exited() error {
	for _, p := range c.procs {
		select {
		case <-p.done:
			return fmt.Errorf("k8stest: %s exited: %v", p.name, p.err)
		default:
		}
	}
	return nil
}

// logTails returns the end of every process log, for error messages.
func (c *Cluster) logTails() string {
	var b strings.Builder
	for _, p := range c.procs {
		data, err := os.ReadFile(p.log)
		if err != nil {
			continue
		}
		if len(data) > 1500 {
			data = data[len(data)-1500:]
		}
		fmt.Fprintf(&b, "\n--- %s log (end):\n%s", p.name, data)
	}
	return b.String()
}

// waitHTTP polls url until it answers 200.
func (c *Cluster) waitHTTP(name, url, token string, timeout time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the apiserver's self-signed test certificate
	}}
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for time.Now().Before(deadline) {
		if err := c.exited(); err != nil {
			return err
		}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		<-tick.C
	}
	return fmt.Errorf("k8stest: %s not ready within %s: %v", name, timeout, last)
}

// writeFiles writes the service account keys, the token file and the
// admin kubeconfig.
func (c *Cluster) writeFiles(token string, apiPort int) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"tokens.csv": []byte(token + ",admin,admin-uid,\"system:masters\"\n"),
		"kubeconfig": []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: k8stest
  cluster:
    server: https://127.0.0.1:%d
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: %s
contexts:
- name: k8stest
  context:
    cluster: k8stest
    user: admin
current-context: k8stest
`, apiPort, token)),
	}
	for n, data := range files {
		if err := os.WriteFile(filepath.Join(c.Dir, n), data, 0o600); err != nil {
			return err
		}
	}
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	return nil
}

// setup creates the storage class and the fake node, and waits until kwok
// has made the node Ready.
func (c *Cluster) setup(ctx context.Context) error {
	expand := true
	bind := storagev1.VolumeBindingImmediate
	reclaim := corev1.PersistentVolumeReclaimRetain
	_, err := c.Client.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
		ObjectMeta:           metav1.ObjectMeta{Name: StorageClass},
		Provisioner:          "k8stest.hoard.dev/fake",
		AllowVolumeExpansion: &expand,
		VolumeBindingMode:    &bind,
		ReclaimPolicy:        &reclaim,
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("k8stest: storage class: %w", err)
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	_, err = c.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        NodeName,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": NodeName, "kubernetes.io/os": "linux"},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("k8stest: node: %w", err)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := c.exited(); err != nil {
			return err
		}
		n, err := c.Client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err == nil {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("k8stest: node %s not ready: %w", NodeName, ctx.Err())
		case <-tick.C:
		}
	}
}

// provision plays an external provisioner for StorageClass until ctx
// ends: every pending claim of the class gets a hostPath volume of its
// size, pre-bound to it; volumes whose claim is gone are deleted. No pod
// ever writes to them: kwok runs no containers.
func (c *Cluster) provision(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		c.provisionOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *Cluster) provisionOnce(ctx context.Context) {
	pvcs, err := c.Client.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, pvc := range pvcs.Items {
		if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != StorageClass ||
			pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending || pvc.DeletionTimestamp != nil {
			continue
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{
				Name:        "pv-" + string(pvc.UID),
				Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": "k8stest.hoard.dev/fake"},
			},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
				AccessModes:                   pvc.Spec.AccessModes,
				StorageClassName:              StorageClass,
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: "/nonexistent/k8stest/" + string(pvc.UID)},
				},
				ClaimRef: &corev1.ObjectReference{
					Kind: "PersistentVolumeClaim", APIVersion: "v1",
					Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
				},
			},
		}
		if _, err := c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			continue
		}
	}
	pvs, err := c.Client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, pv := range pvs.Items {
		if pv.Spec.StorageClassName == StorageClass && pv.Status.Phase == corev1.VolumeReleased {
			_ = c.Client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
		}
	}
}

// freePorts returns n distinct ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// errNoBins is returned by the shared cluster when no bin dir is set.
var errNoBins = errors.New("k8stest: no Kubernetes binaries: set " + EnvBins + " to the directory scripts/k8s-bins prints")
