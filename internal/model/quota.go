package model

// QuotaResource names what a project's quota limits (reference §3.3, §3.4).
// The values are Trove's resource names (plus "replicas", hoard's); the
// absolute limits of GET /limits are "max_" + the name.
type QuotaResource string

// Quota resources.
const (
	// QuotaInstances counts a project's instances, read replicas included
	// (as Trove counts them), until their delete ends.
	QuotaInstances QuotaResource = "instances"
	// QuotaVolumes counts the GB of a project's instance volumes.
	QuotaVolumes QuotaResource = "volumes"
	// QuotaBackups counts a project's backups, whatever their status.
	QuotaBackups QuotaResource = "backups"
	// QuotaReplicas counts a project's read replicas (instances with a
	// replica source); they count as instances too.
	QuotaReplicas QuotaResource = "replicas"
)

// QuotaResources lists every quota resource in the order they are shown.
var QuotaResources = []QuotaResource{QuotaInstances, QuotaVolumes, QuotaBackups, QuotaReplicas}

// Known reports whether r is a quota resource.
func (r QuotaResource) Known() bool {
	for _, k := range QuotaResources {
		if r == k {
			return true
		}
	}
	return false
}

// Unlimited is the limit of a resource without a quota (Trove's -1).
const Unlimited = -1

// QuotaLimits maps resources to their limits: at most that many (GB for
// volumes); a negative limit is Unlimited. A resource that is absent has no
// limit of this set (see Limit).
type QuotaLimits map[QuotaResource]int

// Limit returns the limit of r: l's own if it has one, else def's, else
// Unlimited. Negative limits are returned as Unlimited.
func (l QuotaLimits) Limit(r QuotaResource, def QuotaLimits) int {
	v, ok := l[r]
	if !ok {
		v, ok = def[r]
	}
	if !ok || v < 0 {
		return Unlimited
	}
	return v
}

// QuotaUsage maps resources to what a project uses of them.
type QuotaUsage map[QuotaResource]int

// Usage returns what the quota counts of instance inst: one instance, its
// volume's GB, and one replica if it is a read replica.
func Usage(inst *Instance) QuotaUsage {
	u := QuotaUsage{QuotaInstances: 1, QuotaVolumes: inst.VolumeSize}
	if inst.ReplicaOf != "" {
		u[QuotaReplicas] = 1
	}
	return u
}
