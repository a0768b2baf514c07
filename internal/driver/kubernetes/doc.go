// Package kubernetes is the driver that runs instances on a Kubernetes
// cluster, through client-go.
//
// # Objects
//
// Each instance lives in the namespace of its tenant (Config.NamespacePrefix
// plus the tenant id) as:
//
//   - a Secret with hoard's admin account of the engine (Config.Credentials),
//     given to the container as environment variables;
//   - a ConfigMap with the engine configuration rendered by the engine's
//     datastore.Process with in-pod paths, mounted at /etc/hoard;
//   - a headless Service, whose DNS name `<name>.<namespace>.svc` is what
//     [Driver.Conn] returns: hoard reaches the engine over the network;
//   - a PersistentVolumeClaim `data-<name>-0` of the API's volume size,
//     created by the driver itself (so that it can be grown) and adopted by
//     the StatefulSet's volumeClaimTemplate;
//   - a StatefulSet with one replica, whose pod runs the engine image
//     (Config.Images) with the flavor's RAM as memory request and limit.
//   - only for an instance with allowed networks (Spec.Access), a
//     NetworkPolicy that lets in, on the engine's port, those networks,
//     the pods of its peers and hoard's own pods (access.go); the driver
//     implements [driver.AccessEnforcer] with it.
//
// Every object is labelled app.kubernetes.io/managed-by=hoard and
// hoard.dev/instance=<instance id>. Object names are "hoard-" plus the
// instance id.
//
// # Operations
//
// Every operation is level-triggered: Provision creates or updates each
// object until it matches the spec, so a task resumed after a crash simply
// repeats it. Provision leaves a new StatefulSet at zero replicas; Start
// scales it to one, Stop to zero. Restart applies the spec (a changed flavor
// gives new limits, which also rolls the pod) and deletes the pod; it
// returns once the StatefulSet controller has created the replacement pod.
// Growing Spec.VolumeGB and calling Provision expands the claim. Destroy
// removes every object of the instance (the claim too, unless
// Config.KeepVolumes) and waits until they are gone.
//
// # Observation
//
// State is read from the StatefulSet and its pod: a pod that is Running and
// Ready is [driver.StateRunning]. An informer on hoard's pods reports
// [driver.EventExited] when a pod that was ready stops being ready (other
// than through Restart, Stop or Destroy) and [driver.EventRecovered] when the
// instance is ready again; the pod itself (the kubelet) restarts the engine.
// Before the driver removes a pod on purpose (Restart, a new template,
// Stop, Destroy) it marks it with AnnotationReplacedBy, and a marked pod is
// never an exit: the judgement is made from the cluster, so every hoard
// replica's observer reaches the same one, not only the replica that ran the
// operation.
//
// # Readiness
//
// The database container's readiness probe runs the engine's own check
// inside the container (Config.Readiness, else mariadb-admin ping,
// pg_isready or redis-cli ping); there is no liveness probe. The driver
// implements [driver.Readier]: WaitReady returns once the pod of the
// StatefulSet's current template is Running and Ready, woken by the pod
// informer and confirmed by a read from the API server.
//
// The used volume space is not observable without exec into the pod:
// UsedBytes fails with an error wrapping [errors.ErrUnsupported].
package kubernetes
