package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/mariadb"
	"github.com/hoard-db/hoard/internal/datastore/postgresql"
	"github.com/hoard-db/hoard/internal/datastore/redis"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

const (
	testID     = "0b7c3a52-9f0e-4b8e-a1de-5c0b1f6a2d11"
	testTenant = "7f3e5b0c1d2a4e6f8a9b0c1d2e3f4a5b"
	testPass   = "s3cret-Pa55word"
)

// events records what a driver reports.
type events struct {
	mu  sync.Mutex
	evs []driver.Event
}

func (e *events) observe(ev driver.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

// String lists the events with their details, for failure messages.
func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.evs {
		fmt.Fprintf(&b, "[%s: %s] ", ev.Kind, ev.Detail)
	}
	return b.String()
}

func (e *events) kinds() []driver.EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []driver.EventKind
	for _, ev := range e.evs {
		out = append(out, ev.Kind)
	}
	return out
}

func testEngines() map[string]datastore.Engine {
	m := mariadb.New(mariadb.Config{})
	p := postgresql.New(postgresql.Config{})
	r := redis.New(redis.Config{})
	return map[string]datastore.Engine{m.Name(): m, p.Name(): p, r.Name(): r}
}

// newTestDriver returns a driver on client with short waits.
func newTestDriver(t *testing.T, client k8s.Interface, mod func(*Config)) (*Driver, *events) {
	t.Helper()
	ev := &events{}
	cfg := Config{
		Client:       client,
		StorageClass: "fast",
		Engines:      testEngines(),
		Credentials: func(string) (string, datastore.Secret) {
			return "os_admin", testPass
		},
		Observer:       ev.observe,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		PollInterval:   5 * time.Millisecond,
		StopTimeout:    20 * time.Second,
		RestartTimeout: 20 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, ev
}

func testSpec() driver.Spec {
	return driver.Spec{InstanceID: testID, TenantID: testTenant, Engine: "mariadb", RAMMB: 512, VolumeGB: 2, Port: 3306}
}

// poll calls cond until it is true or the deadline passes.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func mutations(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete":
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

func TestProvisionCreatesObjects(t *testing.T) {
	cs := fake.NewClientset()
	d, _ := newTestDriver(t, cs, func(c *Config) { c.Images = map[string]string{"mariadb": "registry.example/mariadb:10.11.9"} })
	ctx := context.Background()
	s := testSpec()
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	ns := Namespace(DefaultNamespacePrefix, testTenant)
	if ns != "hoard-"+testTenant {
		t.Fatalf("Namespace = %q", ns)
	}
	want := []string{"create namespaces", "create secrets", "create configmaps", "create services",
		"create persistentvolumeclaims", "create statefulsets"}
	if got := mutations(cs); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("first Provision: mutations %v, want %v", got, want)
	}

	nsObj, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil || nsObj.Labels[LabelManagedBy] != ManagedBy {
		t.Fatalf("namespace %v, %v", nsObj, err)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "hoard-"+testID, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["password"]) != testPass || string(sec.Data["username"]) != "os_admin" {
		t.Errorf("secret data = %q", sec.Data)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "hoard-"+testID, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cnf := cm.Data["my.cnf"]
	for _, w := range []string{"datadir=/var/lib/hoard/data", "bind-address=0.0.0.0", "port=3306"} {
		if !strings.Contains(cnf, w) {
			t.Errorf("my.cnf lacks %q:\n%s", w, cnf)
		}
	}
	if strings.Contains(cnf, testPass) {
		t.Error("config map holds the password")
	}
	svc, err := cs.CoreV1().Services(ns).Get(ctx, "hoard-"+testID, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || svc.Spec.Ports[0].Port != 3306 || svc.Spec.Selector[LabelInstance] != testID {
		t.Errorf("service spec = %+v", svc.Spec)
	}
	pvc, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data-hoard-"+testID+"-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.Cmp(resource.MustParse("2Gi")) != 0 {
		t.Errorf("claim size = %s, want 2Gi", q.String())
	}
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "fast" {
		t.Errorf("claim storage class = %v", pvc.Spec.StorageClassName)
	}
	sts, err := cs.AppsV1().StatefulSets(ns).Get(ctx, "hoard-"+testID, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *sts.Spec.Replicas != 0 {
		t.Errorf("new statefulset has %d replicas, want 0 until Start", *sts.Spec.Replicas)
	}
	c := sts.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example/mariadb:10.11.9" {
		t.Errorf("image = %q", c.Image)
	}
	if len(c.Args) < 2 || c.Args[0] != "mariadbd" || c.Args[1] != "--defaults-file=/etc/hoard/my.cnf" {
		t.Errorf("args = %q", c.Args)
	}
	if lim := c.Resources.Limits[corev1.ResourceMemory]; lim.Cmp(resource.MustParse("512Mi")) != 0 {
		t.Errorf("memory limit = %s", lim.String())
	}
	if req := c.Resources.Requests[corev1.ResourceMemory]; req.Cmp(resource.MustParse("512Mi")) != 0 {
		t.Errorf("memory request = %s", req.String())
	}
	var pwEnv bool
	for _, e := range c.Env {
		if e.Value == testPass {
			t.Errorf("env %s holds the password in clear", e.Name)
		}
		if e.Name == "MARIADB_ROOT_PASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef.Key == "password" {
			pwEnv = true
		}
	}
	if !pwEnv {
		t.Errorf("no MARIADB_ROOT_PASSWORD from the secret: %+v", c.Env)
	}
	if sts.Spec.VolumeClaimTemplates[0].Name != "data" || sts.Spec.ServiceName != "hoard-"+testID {
		t.Errorf("statefulset volume template / service name = %q / %q", sts.Spec.VolumeClaimTemplates[0].Name, sts.Spec.ServiceName)
	}
	for _, m := range []metav1.Object{sec, cm, svc, pvc, sts} {
		if m.GetLabels()[LabelInstance] != testID || m.GetLabels()[LabelManagedBy] != ManagedBy {
			t.Errorf("%s labels = %v", m.GetName(), m.GetLabels())
		}
	}

	// Level-triggered: a repeated Provision changes nothing.
	cs.ClearActions()
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := mutations(cs); len(got) != 0 {
		t.Errorf("second Provision: mutations %v, want none", got)
	}
}

func TestProvisionExpandsClaim(t *testing.T) {
	cs := fake.NewClientset()
	d, _ := newTestDriver(t, cs, nil)
	ctx := context.Background()
	s := testSpec()
	ns := Namespace(DefaultNamespacePrefix, testTenant)
	size := func() string {
		pvc, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName(testID), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
		return q.String()
	}
	for _, tc := range []struct {
		gb   int
		want string
	}{{2, "2Gi"}, {5, "5Gi"}, {3, "5Gi"}, {5, "5Gi"}} {
		s.VolumeGB = tc.gb
		if err := d.Provision(ctx, s); err != nil {
			t.Fatal(err)
		}
		if got := size(); got != tc.want {
			t.Errorf("after Provision with %d GB: claim %s, want %s", tc.gb, got, tc.want)
		}
	}
}

func TestLifecycle(t *testing.T) {
	cs := fake.NewClientset()
	fc := startFakeController(t, cs)
	d, ev := newTestDriver(t, cs, nil)
	ctx := context.Background()
	s := testSpec()
	ns := Namespace(DefaultNamespacePrefix, testTenant)
	state := func() driver.State {
		st, err := d.State(ctx, testID)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := state(); st != driver.StateAbsent {
		t.Fatalf("State before Provision = %s", st)
	}
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if st := state(); st != driver.StateStopped {
		t.Fatalf("State after Provision = %s", st)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	poll(t, "running", func() bool { return state() == driver.StateRunning })
	pod := func() *corev1.Pod {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, podName(testID), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	uid := pod().UID

	// Restart: a new pod (new UID), the same spec.
	if err := d.Restart(ctx, s); err != nil {
		t.Fatal(err)
	}
	p := pod()
	if p.UID == uid {
		t.Fatalf("Restart returned with the old pod %s", uid)
	}
	uid = p.UID
	poll(t, "running after restart", func() bool { return state() == driver.StateRunning })

	// Resize flavor: new limits on a new pod.
	s.RAMMB = 1024
	if err := d.Restart(ctx, s); err != nil {
		t.Fatal(err)
	}
	p = pod()
	if p.UID == uid {
		t.Fatal("resize kept the old pod")
	}
	if lim := p.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]; lim.Cmp(resource.MustParse("1Gi")) != 0 {
		t.Errorf("limit after resize = %s, want 1Gi", lim.String())
	}

	// Restart waits for the new pod even when it is slow to come.
	fc.hold.Store(true)
	if err := d.Restart(ctx, s); err != nil {
		t.Fatal(err)
	}
	if st := state(); st != driver.StateStopped {
		t.Errorf("State of a new, not yet ready pod = %s, want stopped", st)
	}
	fc.hold.Store(false)
	setReady(t, cs, ns, testID, true)
	poll(t, "running after slow restart", func() bool { return state() == driver.StateRunning })

	if err := d.Stop(ctx, testID); err != nil {
		t.Fatal(err)
	}
	if st := state(); st != driver.StateStopped {
		t.Errorf("State after Stop = %s", st)
	}
	if err := d.Stop(ctx, testID); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if k := ev.kinds(); len(k) != 0 {
		t.Errorf("explicit operations reported events %v", k)
	}
}

func TestEvents(t *testing.T) {
	cs := fake.NewClientset()
	startFakeController(t, cs)
	d, ev := newTestDriver(t, cs, nil)
	ctx := context.Background()
	s := testSpec()
	ns := Namespace(DefaultNamespacePrefix, testTenant)
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d.Recover(ctx, []driver.Spec{s}); err != nil {
		t.Fatal(err)
	}
	poll(t, "observer sees the ready pod", func() bool {
		d.obs.mu.Lock()
		defer d.obs.mu.Unlock()
		st := d.obs.pods[testID]
		return st != nil && st.ready
	})
	setReady(t, cs, ns, testID, false)
	poll(t, "exited", func() bool { return len(ev.kinds()) == 1 })
	setReady(t, cs, ns, testID, true)
	poll(t, "recovered", func() bool { return len(ev.kinds()) == 2 })
	if k := ev.kinds(); k[0] != driver.EventExited || k[1] != driver.EventRecovered {
		t.Fatalf("events = %v", k)
	}
	if ev.evs[0].InstanceID != testID {
		t.Errorf("event instance = %q", ev.evs[0].InstanceID)
	}
	// A pod deleted behind hoard's back (node lost, eviction) is an exit.
	if err := cs.CoreV1().Pods(ns).Delete(ctx, podName(testID), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "exit and recovery after pod loss", func() bool { return len(ev.kinds()) == 4 })
	if k := ev.kinds(); k[2] != driver.EventExited || k[3] != driver.EventRecovered {
		t.Fatalf("events = %v", k)
	}
}

func TestDestroy(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "all", true: "keep-volumes"}[keep], func(t *testing.T) {
			cs := fake.NewClientset()
			startFakeController(t, cs)
			d, ev := newTestDriver(t, cs, func(c *Config) { c.KeepVolumes = keep })
			ctx := context.Background()
			s := testSpec()
			ns := Namespace(DefaultNamespacePrefix, testTenant)
			if err := d.Provision(ctx, s); err != nil {
				t.Fatal(err)
			}
			if err := d.Start(ctx, s); err != nil {
				t.Fatal(err)
			}
			poll(t, "pod", func() bool {
				_, err := cs.CoreV1().Pods(ns).Get(ctx, podName(testID), metav1.GetOptions{})
				return err == nil
			})
			if err := d.Destroy(ctx, testID); err != nil {
				t.Fatal(err)
			}
			sel := metav1.ListOptions{LabelSelector: LabelInstance + "=" + testID}
			n := 0
			if l, _ := cs.AppsV1().StatefulSets("").List(ctx, sel); l != nil {
				n += len(l.Items)
			}
			if l, _ := cs.CoreV1().Pods("").List(ctx, sel); l != nil {
				n += len(l.Items)
			}
			if l, _ := cs.CoreV1().Services("").List(ctx, sel); l != nil {
				n += len(l.Items)
			}
			if l, _ := cs.CoreV1().Secrets("").List(ctx, sel); l != nil {
				n += len(l.Items)
			}
			if l, _ := cs.CoreV1().ConfigMaps("").List(ctx, sel); l != nil {
				n += len(l.Items)
			}
			if n != 0 {
				t.Errorf("%d objects left after Destroy", n)
			}
			_, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName(testID), metav1.GetOptions{})
			if keep && err != nil {
				t.Errorf("claim gone with KeepVolumes: %v", err)
			}
			if !keep && !isNotFound(err) {
				t.Errorf("claim after Destroy: %v", err)
			}
			if st, err := d.State(ctx, testID); err != nil || st != driver.StateAbsent {
				t.Errorf("State after Destroy = %s, %v", st, err)
			}
			if err := d.Destroy(ctx, testID); err != nil {
				t.Errorf("second Destroy: %v", err)
			}
			if k := ev.kinds(); len(k) != 0 {
				t.Errorf("Destroy reported events %v", k)
			}
		})
	}
}

func TestRecoverRemovesOrphans(t *testing.T) {
	cs := fake.NewClientset()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	d, _ := newTestDriver(t, cs, func(c *Config) { c.Now = func() time.Time { return now } })
	ctx := context.Background()
	keep := testSpec()
	orphan := testSpec()
	orphan.InstanceID = "orphan-1"
	young := testSpec()
	young.InstanceID = "young-1"
	for _, s := range []driver.Spec{keep, orphan, young} {
		if err := d.Provision(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	// The fake server sets no creation time; make young's objects young.
	ns := Namespace(DefaultNamespacePrefix, testTenant)
	sts, err := cs.AppsV1().StatefulSets(ns).Get(ctx, name(young.InstanceID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sts.CreationTimestamp = metav1.NewTime(now.Add(-time.Minute))
	if _, err := cs.AppsV1().StatefulSets(ns).Update(ctx, sts, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Objects outside hoard's namespaces are not hoard's to remove.
	foreign := sts.DeepCopy()
	foreign.Namespace, foreign.Name = "other", name("foreign-1")
	foreign.ResourceVersion = ""
	foreign.Labels = map[string]string{LabelManagedBy: ManagedBy, LabelInstance: "foreign-1"}
	if _, err := cs.AppsV1().StatefulSets("other").Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := d.Recover(ctx, []driver.Spec{keep}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ns, id string
		want   bool
	}{{ns, keep.InstanceID, true}, {ns, orphan.InstanceID, false}, {ns, young.InstanceID, true}, {"other", "foreign-1", true}} {
		_, err := cs.AppsV1().StatefulSets(tc.ns).Get(ctx, name(tc.id), metav1.GetOptions{})
		if got := err == nil; got != tc.want {
			t.Errorf("statefulset %s exists = %v, want %v (%v)", tc.id, got, tc.want, err)
		}
	}
	for _, get := range []func() error{
		func() error {
			_, err := cs.CoreV1().Secrets(ns).Get(ctx, name(orphan.InstanceID), metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name(orphan.InstanceID), metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().Services(ns).Get(ctx, name(orphan.InstanceID), metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName(orphan.InstanceID), metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); !isNotFound(err) {
			t.Errorf("orphan object left: %v", err)
		}
	}
}

func TestInvalid(t *testing.T) {
	cs := fake.NewClientset()
	d, _ := newTestDriver(t, cs, nil)
	noCreds, _ := newTestDriver(t, cs, func(c *Config) {
		c.Credentials = func(string) (string, datastore.Secret) { return "", "" }
	})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		d    *Driver
		mod  func(*driver.Spec)
	}{
		{"upper-case id", d, func(s *driver.Spec) { s.InstanceID = "ABC" }},
		{"empty id", d, func(s *driver.Spec) { s.InstanceID = "" }},
		{"long id", d, func(s *driver.Spec) { s.InstanceID = strings.Repeat("a", 47) }},
		{"dash id", d, func(s *driver.Spec) { s.InstanceID = "-a" }},
		{"unknown engine", d, func(s *driver.Spec) { s.Engine = "oracle" }},
		{"no volume", d, func(s *driver.Spec) { s.VolumeGB = 0 }},
		{"no credentials", noCreds, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSpec()
			if tc.mod != nil {
				tc.mod(&s)
			}
			err := tc.d.Provision(ctx, s)
			if !fault.Is(err, fault.Invalid) {
				t.Fatalf("Provision = %v, want an Invalid fault", err)
			}
			if err != nil && strings.Contains(err.Error(), testPass) {
				t.Error("error holds the password")
			}
		})
	}
	if len(mutations(cs)) != 0 {
		t.Errorf("invalid specs changed the cluster: %v", mutations(cs))
	}
	if _, err := New(Config{Credentials: func(string) (string, datastore.Secret) { return "", "" }}); err == nil {
		t.Error("New without a client succeeded")
	}
	if _, err := New(Config{Client: cs}); err == nil {
		t.Error("New without credentials succeeded")
	}
	if _, err := New(Config{Client: cs, NamespacePrefix: "Bad_", Credentials: func(string) (string, datastore.Secret) { return "", "" }}); err == nil {
		t.Error("New with a bad prefix succeeded")
	}
}

func TestConnAndUsedBytes(t *testing.T) {
	d, _ := newTestDriver(t, fake.NewClientset(), func(c *Config) { c.NamespacePrefix = "db-" })
	for _, tc := range []struct {
		engine string
		port   int
	}{{"mariadb", 3306}, {"postgresql", 5432}, {"redis", 6379}} {
		s := testSpec()
		s.Engine = tc.engine
		c := d.Conn(s)
		want := "hoard-" + testID + ".db-" + testTenant + ".svc"
		if c.Address != want || c.Port != tc.port || c.Socket != "" {
			t.Errorf("Conn(%s) = %+v, want %s:%d", tc.engine, c, want, tc.port)
		}
		if got := d.Address(s); got != want {
			t.Errorf("Address(%s) = %q, want %q", tc.engine, got, want)
		}
	}
	if _, err := d.UsedBytes(context.Background(), testID); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("UsedBytes = %v, want ErrUnsupported", err)
	}
}

func TestEngines(t *testing.T) {
	cs := fake.NewClientset()
	d, _ := newTestDriver(t, cs, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		engine, image, arg0, env string
	}{
		{"postgresql", "docker.io/library/postgres:15", "postgres", "POSTGRES_PASSWORD"},
		{"redis", "docker.io/library/redis:7.0", "redis-server", "HOARD_ADMIN_PASSWORD"},
	} {
		s := testSpec()
		s.Engine = tc.engine
		s.InstanceID = "i-" + tc.engine
		if err := d.Provision(ctx, s); err != nil {
			t.Fatal(err)
		}
		sts, err := cs.AppsV1().StatefulSets(d.namespace(s)).Get(ctx, name(s.InstanceID), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := sts.Spec.Template.Spec.Containers[0]
		if c.Image != tc.image || c.Args[0] != tc.arg0 {
			t.Errorf("%s: image %q args %q", tc.engine, c.Image, c.Args)
		}
		// Redis prepares its data directory (the append-only file) in an
		// init container of its image; PostgreSQL has nothing to prepare.
		inits := sts.Spec.Template.Spec.InitContainers
		if wantInit := tc.engine == "redis"; (len(inits) == 1) != wantInit ||
			wantInit && (inits[0].Image != tc.image || len(inits[0].Command) == 0 || inits[0].VolumeMounts[0].MountPath != volumeMount) {
			t.Errorf("%s: init containers %+v", tc.engine, inits)
		}
		var found bool
		for _, e := range c.Env {
			found = found || e.Name == tc.env
		}
		if !found {
			t.Errorf("%s: no %s in %+v", tc.engine, tc.env, c.Env)
		}
		for _, a := range c.Args {
			if strings.Contains(a, "/var/lib/hoard/instances") {
				t.Errorf("%s: host path in args %q", tc.engine, c.Args)
			}
		}
	}
}

func TestAPIErrorsPropagate(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("apiserver says no")
	})
	d, _ := newTestDriver(t, cs, nil)
	err := d.Provision(context.Background(), testSpec())
	if err == nil || !strings.Contains(err.Error(), "apiserver says no") {
		t.Fatalf("Provision = %v", err)
	}
}

func TestNamespace(t *testing.T) {
	for _, tc := range []struct{ prefix, tenant, want string }{
		{"hoard-", "abc", "hoard-abc"},
		{"hoard-", "ABC_def", "hoard-abc-def"},
		{"hoard-", "", "hoard-default"},
		{"hoard-", "---", "hoard-default"},
		{"x-", strings.Repeat("a", 80), "x-" + strings.Repeat("a", 61)},
	} {
		if got := Namespace(tc.prefix, tc.tenant); got != tc.want {
			t.Errorf("Namespace(%q, %q) = %q, want %q", tc.prefix, tc.tenant, got, tc.want)
		}
	}
}

func FuzzNamespace(f *testing.F) {
	for _, s := range []string{"", "abc", "ABC_def", "-x-", "ü", strings.Repeat("z", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tenant string) {
		ns := Namespace(DefaultNamespacePrefix, tenant)
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			t.Errorf("Namespace(%q) = %q: %v", tenant, ns, errs)
		}
		if errs := validation.IsValidLabelValue(tenantLabel(tenant)); len(errs) > 0 {
			t.Errorf("tenantLabel(%q) = %q: %v", tenant, tenantLabel(tenant), errs)
		}
	})
}

func FuzzValidID(f *testing.F) {
	for _, s := range []string{"", testID, "a", "a-", "-a", "A", strings.Repeat("a", 46), strings.Repeat("a", 47)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !validID(id) {
			return
		}
		for _, n := range []string{name(id), podName(id), claimName(id)} {
			if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
				t.Errorf("name %q of id %q: %v", n, id, errs)
			}
		}
		if errs := validation.IsDNS1035Label(name(id)); len(errs) > 0 {
			t.Errorf("service name %q: %v", name(id), errs)
		}
		if errs := validation.IsValidLabelValue(name(id) + "-0123456789"); len(errs) > 0 {
			t.Errorf("revision label of %q: %v", id, errs)
		}
	})
}
