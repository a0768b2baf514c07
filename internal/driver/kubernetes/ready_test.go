package kubernetes

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/datastore/mariadb"
	"github.com/hoard-db/hoard/internal/fault"
)

func TestReadinessProbe(t *testing.T) {
	tests := []struct {
		engine string
		custom []string
		want   string // the probe command, joined by spaces
	}{
		{"mariadb", nil, "mariadb-admin --no-defaults --protocol=tcp --host=127.0.0.1 --port=3306 --connect-timeout=2 ping"},
		{"postgresql", nil, "pg_isready --host=127.0.0.1 --port=5432 --timeout=2"},
		{"redis", nil, `sh -c REDISCLI_AUTH="$HOARD_ADMIN_PASSWORD" redis-cli --user "$HOARD_ADMIN_USER" -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -qx PONG`},
		{"mariadb", []string{"healthcheck.sh", "--connect"}, "healthcheck.sh --connect"},
	}
	for _, tt := range tests {
		t.Run(tt.engine+"/"+strings.Join(tt.custom, " "), func(t *testing.T) {
			cs := fake.NewClientset()
			d, _ := newTestDriver(t, cs, func(c *Config) {
				if tt.custom != nil {
					c.Readiness = map[string][]string{tt.engine: tt.custom}
				}
			})
			s := testSpec()
			s.Engine = tt.engine
			if err := d.Provision(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			sts, err := cs.AppsV1().StatefulSets(d.namespace(s)).Get(context.Background(), name(s.InstanceID), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c := sts.Spec.Template.Spec.Containers[0]
			if c.LivenessProbe != nil {
				t.Errorf("liveness probe %+v, want none", c.LivenessProbe)
			}
			pr := c.ReadinessProbe
			if pr == nil || pr.Exec == nil {
				t.Fatalf("readiness probe %+v, want an exec probe", pr)
			}
			if got := strings.Join(pr.Exec.Command, " "); got != tt.want {
				t.Errorf("probe command = %q, want %q", got, tt.want)
			}
			if strings.Contains(strings.Join(pr.Exec.Command, " "), testPass) {
				t.Error("the probe command holds the password")
			}
		})
	}
}

// plainEngine is an engine that does not implement datastore.Containerized.
type plainEngine struct{ datastore.Engine }

func (plainEngine) Name() string { return "plain" }

// TestEngineWithoutContainer: an engine that does not say what its
// container needs runs only with a configured image, gets hoard's own
// variables only, and a readiness probe that opens the port.
func TestEngineWithoutContainer(t *testing.T) {
	ctx := context.Background()
	if _, ok := any(plainEngine{}).(datastore.Containerized); ok {
		t.Fatal("plainEngine implements datastore.Containerized")
	}
	engines := func(c *Config) {
		c.Engines = map[string]datastore.Engine{"plain": plainEngine{mariadb.New(mariadb.Config{})}}
	}
	s := testSpec()
	s.Engine = "plain"

	d, _ := newTestDriver(t, fake.NewClientset(), engines)
	if img := d.Image("plain"); img != "" {
		t.Errorf("Image(plain) = %q, want none", img)
	}
	if err := d.Provision(ctx, s); fault.KindOf(err) != fault.Invalid {
		t.Errorf("Provision without an image = %v, want Invalid", err)
	}

	cs := fake.NewClientset()
	d, _ = newTestDriver(t, cs, func(c *Config) {
		engines(c)
		c.Images = map[string]string{"plain": "registry.example/plain:1.0"}
	})
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}
	sts, err := cs.AppsV1().StatefulSets(d.namespace(s)).Get(ctx, name(s.InstanceID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := sts.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.example/plain:1.0" {
		t.Errorf("image = %q", c.Image)
	}
	var env []string
	for _, e := range c.Env {
		env = append(env, e.Name)
	}
	if want := []string{datastore.EnvAdminUser, datastore.EnvAdminPassword}; !slices.Equal(env, want) {
		t.Errorf("env = %q, want %q", env, want)
	}
	if pr := c.ReadinessProbe; pr == nil || pr.Exec != nil || pr.TCPSocket == nil || pr.TCPSocket.Port.String() != portName {
		t.Errorf("readiness probe %+v, want a TCP check of port %q", pr, portName)
	}
}

// TestReadyNow covers every state WaitReady looks at.
func TestReadyNow(t *testing.T) {
	const hash = "h-current"
	sts := func(replicas int32) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: name(testID), Namespace: "ns"},
			Spec: appsv1.StatefulSetSpec{Replicas: &replicas, Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnotationSpecHash: hash}},
			}},
		}
	}
	pod := func(h string, phase corev1.PodPhase, ready corev1.ConditionStatus, deleting bool) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: podName(testID), Namespace: "ns", Annotations: map[string]string{AnnotationSpecHash: h}},
			Status:     corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}},
		}
		if deleting {
			now := metav1.Now()
			p.DeletionTimestamp = &now
		}
		return p
	}
	tests := []struct {
		name   string
		objs   []any
		ready  bool
		detail string
	}{
		{"nothing", nil, false, "no statefulset"},
		{"stopped", []any{sts(0)}, false, "stopped (0 replicas)"},
		{"no pod", []any{sts(1)}, false, "no pod yet"},
		{"pending", []any{sts(1), pod(hash, corev1.PodPending, corev1.ConditionFalse, false)}, false, "phase Pending"},
		{"running, not ready", []any{sts(1), pod(hash, corev1.PodRunning, corev1.ConditionFalse, false)}, false, "not ready"},
		{"older spec, ready", []any{sts(1), pod("h-old", corev1.PodRunning, corev1.ConditionTrue, false)}, false, "the pod runs an older spec"},
		{"terminating", []any{sts(1), pod(hash, corev1.PodRunning, corev1.ConditionTrue, true)}, false, "terminating"},
		{"ready", []any{sts(1), pod(hash, corev1.PodRunning, corev1.ConditionTrue, false)}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset()
			for _, o := range tt.objs {
				var err error
				switch o := o.(type) {
				case *appsv1.StatefulSet:
					_, err = cs.AppsV1().StatefulSets("ns").Create(context.Background(), o, metav1.CreateOptions{})
				case *corev1.Pod:
					_, err = cs.CoreV1().Pods("ns").Create(context.Background(), o, metav1.CreateOptions{})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			d, _ := newTestDriver(t, cs, nil)
			ok, detail, err := d.readyNow(context.Background(), "ns", testID)
			if err != nil || ok != tt.ready || detail != tt.detail {
				t.Errorf("readyNow = %v, %q, %v; want %v, %q", ok, detail, err, tt.ready, tt.detail)
			}
		})
	}
}

func TestWaitReady(t *testing.T) {
	cs := fake.NewClientset()
	fc := startFakeController(t, cs)
	d, _ := newTestDriver(t, cs, nil)
	ctx := context.Background()
	s := testSpec()
	ns := d.namespace(s)
	if err := d.Provision(ctx, s); err != nil {
		t.Fatal(err)
	}

	// Provisioned, not started: not ready until the deadline.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err := d.WaitReady(short, s)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("WaitReady on a stopped instance = %v, want a deadline error saying it is stopped", err)
	}

	// Started with a pod that is not ready: WaitReady returns when the
	// kubelet (here the test) marks it ready, woken by the informer.
	fc.hold.Store(true)
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	poll(t, "the pod", func() bool {
		_, err := cs.CoreV1().Pods(ns).Get(ctx, podName(testID), metav1.GetOptions{})
		return err == nil
	})
	done := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		done <- d.WaitReady(wctx, s)
	}()
	select {
	case err := <-done:
		t.Fatalf("WaitReady returned %v before the pod was ready", err)
	case <-time.After(100 * time.Millisecond):
	}
	start := time.Now()
	setReady(t, cs, ns, testID, true)
	if err := <-done; err != nil {
		t.Fatalf("WaitReady = %v", err)
	}
	// Woken by the watch, not by the fallback look every 2 s.
	if el := time.Since(start); el > time.Second {
		t.Errorf("WaitReady returned %s after the pod became ready", el)
	}
	if err := d.WaitReady(ctx, s); err != nil {
		t.Errorf("WaitReady on a ready instance = %v", err)
	}

	// Errors that waiting cannot cure come at once.
	bad := s
	bad.InstanceID = "Not_An_ID"
	if err := d.WaitReady(ctx, bad); fault.KindOf(err) != fault.Invalid {
		t.Errorf("WaitReady(invalid id) = %v, want an Invalid fault", err)
	}
	d.Close()
	if err := d.WaitReady(ctx, s); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReady on a closed driver = %v, want an error at once", err)
	}
}
