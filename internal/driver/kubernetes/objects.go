package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/fault"
)

// In-pod paths. The volume holds the data directory one level down, so
// that engines which refuse a non-empty data directory (lost+found) work.
const (
	volumeMount = "/var/lib/hoard"
	dataDir     = volumeMount + "/data"
	confDir     = "/etc/hoard"
	runDir      = "/run/hoard"
	logDir      = "/var/log/hoard"
	listenAll   = "0.0.0.0"
	portName    = "db"
	container   = "db"
)

// Keys of the instance Secret.
const (
	secretUser     = "username"
	secretPassword = "password"
)

// objects is everything one instance is made of.
type objects struct {
	id     string // the instance's
	ns     *corev1.Namespace
	secret *corev1.Secret
	config *corev1.ConfigMap
	svc    *corev1.Service
	claim  *corev1.PersistentVolumeClaim
	sts    *appsv1.StatefulSet
	policy *networkingv1.NetworkPolicy // nil: no network access limits (access.go)
	hash   string                      // AnnotationSpecHash of sts
}

// labels are the labels of instance s's objects.
func labels(s driver.Spec) map[string]string {
	return map[string]string{
		LabelManagedBy: ManagedBy,
		LabelInstance:  s.InstanceID,
		LabelTenant:    tenantLabel(s.TenantID),
		LabelEngine:    s.Engine,
	}
}

// podSelector selects instance id's pod.
func podSelector(id string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedBy, LabelInstance: id}
}

// dsSpec is the engine's view of s inside the pod.
func dsSpec(s driver.Spec, e datastore.Engine) datastore.Spec {
	return datastore.Spec{
		InstanceID: s.InstanceID,
		DataDir:    dataDir,
		RunDir:     runDir,
		LogDir:     logDir,
		ConfDir:    confDir,
		Address:    listenAll,
		Port:       e.DefaultPort(),
		RAMMB:      s.RAMMB,
		VolumeGB:   s.VolumeGB,
		Config:     s.Config,
	}
}

// engineContainer is what e's container needs (datastore.Containerized);
// the zero Container for an engine that does not say.
func engineContainer(e datastore.Engine, ds datastore.Spec) datastore.Container {
	if c, ok := e.(datastore.Containerized); ok {
		return c.Container(ds)
	}
	return datastore.Container{}
}

// build returns the objects instance s should have.
func (d *Driver) build(op string, s driver.Spec) (*objects, error) {
	e, err := d.engine(op, s)
	if err != nil {
		return nil, err
	}
	img := d.Image(s.Engine)
	if img == "" {
		return nil, fault.Errorf(fault.Invalid, op, "no container image for engine %q", s.Engine)
	}
	if s.VolumeGB < 1 {
		return nil, fault.Errorf(fault.Invalid, op, "volume size %d GB", s.VolumeGB)
	}
	user, pw := d.cfg.Credentials(s.InstanceID)
	if user == "" || pw == "" {
		return nil, fault.Errorf(fault.Invalid, op, "no admin credentials for instance %s", s.InstanceID)
	}
	ds := dsSpec(s, e)
	ec := engineContainer(e, ds)
	files, err := e.Process().Render(ds)
	if err != nil {
		return nil, fmt.Errorf("render %s config of %s: %w", s.Engine, s.InstanceID, err)
	}
	ns := d.namespace(s)
	nm := name(s.InstanceID)
	lb := labels(s)
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: nm, Namespace: ns, Labels: copyMap(lb)}
	}
	o := &objects{id: s.InstanceID, ns: d.namespaceObject(s)}

	o.secret = &corev1.Secret{ObjectMeta: meta(), Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{secretUser: []byte(user), secretPassword: []byte(pw)}}

	o.config = &corev1.ConfigMap{ObjectMeta: meta(), Data: map[string]string{}}
	for _, f := range files {
		o.config.Data[f.Name] = string(f.Content)
	}

	port := int32(e.DefaultPort())
	if o.policy, err = d.networkPolicy(op, s, port); err != nil {
		return nil, err
	}
	o.svc = &corev1.Service{ObjectMeta: meta(), Spec: corev1.ServiceSpec{
		ClusterIP:                corev1.ClusterIPNone,
		Selector:                 podSelector(s.InstanceID),
		PublishNotReadyAddresses: false,
		Ports: []corev1.ServicePort{{
			Name: portName, Port: port, TargetPort: intstr.FromString(portName), Protocol: corev1.ProtocolTCP,
		}},
	}}

	size := resource.MustParse(strconv.Itoa(s.VolumeGB) + "Gi")
	claimSpec := corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
	}
	if d.cfg.StorageClass != "" {
		sc := d.cfg.StorageClass
		claimSpec.StorageClassName = &sc
	}
	o.claim = &corev1.PersistentVolumeClaim{ObjectMeta: meta(), Spec: claimSpec}
	o.claim.Name = claimName(s.InstanceID)

	// The server's arguments, with the image's entrypoint in front: the
	// official images initialise an empty data directory when the first
	// argument is the server's bare name.
	args := e.Process().ServerArgs(ds)
	if len(args) > 0 {
		args[0] = filepath.Base(args[0])
	}
	sec := func(key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: nm}, Key: key}}
	}
	// The order of the variables is part of the pod template, and so of
	// its hash: changing it would roll every running instance.
	env := []corev1.EnvVar{
		{Name: datastore.EnvAdminUser, ValueFrom: sec(secretUser)},
		{Name: datastore.EnvAdminPassword, ValueFrom: sec(secretPassword)},
	}
	if ec.AdminUserEnv != "" {
		env = append(env, corev1.EnvVar{Name: ec.AdminUserEnv, ValueFrom: sec(secretUser)})
	}
	if ec.AdminPasswordEnv != "" {
		env = append(env, corev1.EnvVar{Name: ec.AdminPasswordEnv, ValueFrom: sec(secretPassword)})
	}
	for _, v := range ec.Env {
		env = append(env, corev1.EnvVar{Name: v.Name, Value: v.Value})
	}
	var res corev1.ResourceRequirements
	if s.RAMMB > 0 {
		mem := resource.MustParse(strconv.Itoa(s.RAMMB) + "Mi")
		res.Requests = corev1.ResourceList{corev1.ResourceMemory: mem}
		res.Limits = corev1.ResourceList{corev1.ResourceMemory: mem}
	}
	one := int32(1)
	noToken := false
	emptyDir := corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	// The engine's preparation of its data directory before each start
	// (datastore.Container.Prepare), where it has one.
	var initContainers []corev1.Container
	if len(ec.Prepare) > 0 {
		initContainers = []corev1.Container{{
			Name:         "prepare",
			Image:        img,
			Command:      ec.Prepare,
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: volumeMount}},
		}}
	}
	o.sts = &appsv1.StatefulSet{ObjectMeta: meta(), Spec: appsv1.StatefulSetSpec{
		Replicas:            &one,
		ServiceName:         nm,
		PodManagementPolicy: appsv1.OrderedReadyPodManagement,
		UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
		Selector:            &metav1.LabelSelector{MatchLabels: podSelector(s.InstanceID)},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: copyMap(lb), Annotations: map[string]string{}},
			Spec: corev1.PodSpec{
				// The engine has no business with the Kubernetes API.
				AutomountServiceAccountToken: &noToken,
				InitContainers:               initContainers,
				Containers: []corev1.Container{{
					Name:      container,
					Image:     img,
					Args:      args,
					Env:       env,
					Ports:     []corev1.ContainerPort{{Name: portName, ContainerPort: port, Protocol: corev1.ProtocolTCP}},
					Resources: res,
					VolumeMounts: []corev1.VolumeMount{
						{Name: "data", MountPath: volumeMount},
						{Name: "config", MountPath: confDir, ReadOnly: true},
						{Name: "run", MountPath: runDir},
						{Name: "log", MountPath: logDir},
					},
					// Readiness is the engine's own check (ready.go). No
					// liveness probe: the engine is the container's main
					// process, so the kubelet restarts it when it dies, and
					// killing an engine that answers slowly (crash
					// recovery, a long checkpoint) would only make it worse.
					ReadinessProbe: d.readinessProbe(s.Engine, ec.Readiness),
				}},
				Volumes: []corev1.Volume{
					{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: nm}}}},
					{Name: "run", VolumeSource: emptyDir},
					{Name: "log", VolumeSource: emptyDir},
				},
			},
		},
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: copyMap(lb)},
			Spec:       claimSpec,
		}},
	}}
	// The pod template depends on the config and the credentials through
	// mounts and variables, which do not roll the pod when they change: the
	// hash covers them too.
	h := sha256.New()
	for _, v := range []any{o.sts.Spec.Template, sortedData(o.config.Data), o.secret.Data} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("hash spec of %s: %w", s.InstanceID, err)
		}
		h.Write(b)
	}
	o.hash = hex.EncodeToString(h.Sum(nil))[:20]
	o.sts.Annotations = map[string]string{AnnotationSpecHash: o.hash}
	o.sts.Spec.Template.Annotations[AnnotationSpecHash] = o.hash
	return o, nil
}

// sortedData is m as a sorted list, for a stable hash.
func sortedData(m map[string]string) [][2]string {
	out := make([][2]string, 0, len(m))
	for k, v := range m {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
