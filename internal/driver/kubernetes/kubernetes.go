package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

// Labels and annotations put on every object the driver makes.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "hoard"
	LabelInstance  = "hoard.dev/instance"
	LabelTenant    = "hoard.dev/tenant"
	LabelEngine    = "hoard.dev/engine"
	// AnnotationSpecHash on a StatefulSet and its pod template is the hash
	// of the spec hoard wants; a pod carrying the current value runs it.
	AnnotationSpecHash = "hoard.dev/spec-hash"
	// AnnotationReplacedBy on a pod names the hoard operation ("restart",
	// "update", "stop", "destroy") that is about to remove it. hoard sets
	// it before the pod is deleted, so that every hoard replica's observer,
	// not only the one that runs the operation, sees the pod going away on
	// purpose rather than as an engine exit.
	AnnotationReplacedBy = "hoard.dev/replaced-by"
)

// Defaults for Config fields left zero.
const (
	DefaultNamespacePrefix = "hoard-"
	DefaultStopTimeout     = 2 * time.Minute
	DefaultRestartTimeout  = 5 * time.Minute
	DefaultPollInterval    = 250 * time.Millisecond
	DefaultOrphanMinAge    = 5 * time.Minute
)

// Config configures a Driver.
type Config struct {
	// Client talks to the API server; see NewClient.
	Client kubernetes.Interface
	// NamespacePrefix is prepended to the tenant id to name the tenant's
	// namespace; DefaultNamespacePrefix if empty. Recover only removes
	// objects in namespaces with this prefix.
	NamespacePrefix string
	// StorageClass of the instances' volumes; "" uses the cluster default.
	// It must allow volume expansion for volume resizes.
	StorageClass string
	// Images maps an engine name to its container image; engines missing
	// here use their own default (datastore.Containerized), and an engine
	// without one cannot run.
	Images map[string]string
	// Engines are the engines this driver runs, by Engine.Name(). Those
	// that implement datastore.Containerized say what their container
	// needs (image, variables, readiness command); the others run only
	// with an image from Images, and a readiness probe that opens the port
	// unless Readiness has a command for them.
	Engines map[string]datastore.Engine
	// Readiness maps an engine name to the command the readiness probe of
	// its database container runs (exec, without a shell unless the
	// command starts one); the pod is Ready, and the instance's engine
	// ready for hoard (driver.Readier), while it exits 0. Engines missing
	// here use the engine's own check (datastore.Container.Readiness, see
	// docs/kubernetes.md): set it for images without the engine's tools.
	Readiness map[string][]string
	// KeepVolumes keeps an instance's claim (and so its data) when the
	// instance is destroyed.
	KeepVolumes bool
	// Credentials returns hoard's admin account of an instance's engine;
	// it goes into the instance's Secret. Required.
	Credentials func(instanceID string) (user string, password datastore.Secret)
	// Observer receives events; may be nil.
	Observer driver.Observer
	// Logger receives the driver's logs; slog.Default() if nil.
	Logger *slog.Logger
	// StopTimeout bounds how long Stop and Destroy wait for the pod and
	// the objects to go; DefaultStopTimeout if zero.
	StopTimeout time.Duration
	// RestartTimeout bounds how long Restart waits for the new pod;
	// DefaultRestartTimeout if zero.
	RestartTimeout time.Duration
	// PollInterval is how often waits look at the cluster;
	// DefaultPollInterval if zero.
	PollInterval time.Duration
	// OrphanMinAge protects young objects from Recover: objects of unknown
	// instances created less than this long ago are kept (another hoard
	// replica may be creating them). DefaultOrphanMinAge if zero; a
	// negative value removes orphans of any age.
	OrphanMinAge time.Duration
	// HoardNamespace is the namespace hoard's own pods run in, and
	// HoardPodLabels the labels that select them there (all its pods when
	// empty): an instance's NetworkPolicy (access.go) lets them in. Without
	// a namespace, network access limits are refused (AccessAvailable).
	HoardNamespace string
	HoardPodLabels map[string]string
	// Now is the clock; time.Now if nil.
	Now func() time.Time
}

// Driver runs instances on Kubernetes. It implements driver.Driver.
type Driver struct {
	cfg Config
	c   kubernetes.Interface
	log *slog.Logger

	mu     sync.Mutex
	closed bool
	insts  map[string]*sync.Mutex

	watchOnce sync.Once
	watchErr  error
	factory   informers.SharedInformerFactory
	stop      chan struct{}
	obs       *observer
}

var (
	_ driver.Driver    = (*Driver)(nil)
	_ driver.Addresser = (*Driver)(nil)
)

// NewClient returns a clientset for the kubeconfig file at path; with an
// empty path, the in-cluster configuration (the pod's service account), or
// outside a cluster the usual KUBECONFIG / ~/.kube/config.
func NewClient(path string) (kubernetes.Interface, error) {
	var (
		rc  *rest.Config
		err error
	)
	if path != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", path)
	} else {
		rc, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes: client configuration: %w", err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: client: %w", err)
	}
	return cs, nil
}

// New returns a Driver for cfg. It does not talk to the cluster yet.
func New(cfg Config) (*Driver, error) {
	const op = "driver.kubernetes.new"
	if cfg.Client == nil {
		return nil, fault.New(fault.Invalid, op, "no Kubernetes client")
	}
	if cfg.Credentials == nil {
		return nil, fault.New(fault.Invalid, op, "no credentials source")
	}
	if cfg.NamespacePrefix == "" {
		cfg.NamespacePrefix = DefaultNamespacePrefix
	}
	if !validPrefix(cfg.NamespacePrefix) {
		return nil, fault.Errorf(fault.Invalid, op, "namespace prefix %q: want lower-case letters, digits and '-', starting with a letter, at most 30 characters", cfg.NamespacePrefix)
	}
	for name, e := range cfg.Engines {
		if e == nil || e.Name() != name {
			return nil, fault.Errorf(fault.Invalid, op, "engine registered as %q has another name", name)
		}
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	if cfg.RestartTimeout <= 0 {
		cfg.RestartTimeout = DefaultRestartTimeout
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.OrphanMinAge == 0 {
		cfg.OrphanMinAge = DefaultOrphanMinAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	d := &Driver{
		cfg:   cfg,
		c:     cfg.Client,
		log:   log.With("driver", "kubernetes"),
		insts: map[string]*sync.Mutex{},
		stop:  make(chan struct{}),
	}
	d.obs = newObserver(d)
	return d, nil
}

// Close stops watching; instances keep running. Later calls fail.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	close(d.stop)
	d.watchOnce.Do(func() {}) // no watch may start after Close
	if d.factory != nil {
		d.factory.Shutdown()
	}
	return nil
}

// lock serialises operations on instance id; it returns the unlock.
func (d *Driver) lock(op, id string) (func(), error) {
	if err := checkID(op, id); err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, fault.New(fault.Unavailable, op, "driver closed")
	}
	m := d.insts[id]
	if m == nil {
		m = &sync.Mutex{}
		d.insts[id] = m
	}
	d.mu.Unlock()
	m.Lock()
	return m.Unlock, nil
}

// validPrefix reports whether p can start a namespace name.
func validPrefix(p string) bool {
	if len(p) == 0 || len(p) > 30 || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	for _, c := range p {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// maxIDLen keeps every derived name within Kubernetes' limits: the
// StatefulSet's revision label "hoard-<id>-<10 chars>" must fit in 63.
const maxIDLen = 46

// validID reports whether id can be part of object names and a label value.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(id)-1:
		default:
			return false
		}
	}
	return true
}

func checkID(op, id string) error {
	if !validID(id) {
		return fault.Errorf(fault.Invalid, op, "invalid instance id %q: want lower-case letters, digits and inner '-', at most %d characters", id, maxIDLen)
	}
	return nil
}

// Namespace returns the namespace of a tenant's instances: the prefix
// plus the tenant id, reduced to what a namespace name allows (lower-case
// letters, digits, '-', at most 63 characters); "default" stands for an
// empty tenant id.
func Namespace(prefix, tenantID string) string {
	return prefix + sanitize(tenantID, 63-len(prefix))
}

// sanitize maps s to a DNS label part of at most n characters.
func sanitize(s string, n int) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	out := b.String()
	if len(out) > n {
		out = out[:n]
	}
	out = strings.Trim(out, "-")
	if out == "" {
		return "default"
	}
	return out
}

// tenantLabel is the tenant id as a label value.
func tenantLabel(tenantID string) string { return sanitize(tenantID, 63) }

// name is the name of instance id's objects.
func name(id string) string { return "hoard-" + id }

// podName is the name of the StatefulSet's only pod.
func podName(id string) string { return name(id) + "-0" }

// claimName is the name of the claim the StatefulSet's
// volumeClaimTemplate "data" gives its pod.
func claimName(id string) string { return "data-" + name(id) + "-0" }

func (d *Driver) namespace(s driver.Spec) string {
	return Namespace(d.cfg.NamespacePrefix, s.TenantID)
}

func (d *Driver) ownNamespace(ns string) bool {
	return strings.HasPrefix(ns, d.cfg.NamespacePrefix)
}

// engine validates s and returns its engine.
func (d *Driver) engine(op string, s driver.Spec) (datastore.Engine, error) {
	if err := checkID(op, s.InstanceID); err != nil {
		return nil, err
	}
	e, ok := d.cfg.Engines[s.Engine]
	if !ok {
		return nil, fault.Errorf(fault.Invalid, op, "unknown engine %q", s.Engine)
	}
	return e, nil
}

// Image returns the container image instances of engine run: the one
// configured in Config.Images, else the engine's default
// (datastore.Containerized); "" for an engine it knows no image of.
func (d *Driver) Image(engine string) string {
	if img := d.cfg.Images[engine]; img != "" {
		return img
	}
	if c, ok := d.cfg.Engines[engine].(datastore.Containerized); ok {
		return c.Container(datastore.Spec{}).Image
	}
	return ""
}

// Address implements driver.Addresser: the DNS name of the instance's
// headless Service, "hoard-<id>.<namespace>.svc", which resolves to its pod
// inside the cluster (through the resolver's cluster-domain search path).
func (d *Driver) Address(s driver.Spec) string {
	return name(s.InstanceID) + "." + d.namespace(s) + ".svc"
}

// Conn implements driver.Driver: the instance's Service DNS name (Address)
// and the engine's port.
func (d *Driver) Conn(s driver.Spec) datastore.Conn {
	c := datastore.Conn{Address: d.Address(s), Port: s.Port}
	if e, ok := d.cfg.Engines[s.Engine]; ok {
		c.Port = e.DefaultPort()
	}
	return c
}

// UsedBytes implements driver.Driver. The space used inside a volume is not
// observable through the Kubernetes API: it fails with an error wrapping
// errors.ErrUnsupported.
func (d *Driver) UsedBytes(context.Context, string) (int64, error) {
	return 0, fmt.Errorf("kubernetes: volume usage: %w", errors.ErrUnsupported)
}

// selector is the label selector of instance id's objects ("" for all of
// hoard's objects).
func selector(id string) string {
	s := LabelManagedBy + "=" + ManagedBy
	if id != "" {
		s += "," + LabelInstance + "=" + id
	}
	return s
}

// report passes an event to the Observer.
func (d *Driver) report(ev driver.Event) {
	if d.cfg.Observer != nil {
		d.cfg.Observer(ev)
	}
}
