package model

import "time"

// HAState is the state of an HA instance group as the API shows it
// (Rackspace's values, API reference §17.1).
type HAState string

// HA group states. Most are derived from the members' statuses (see
// service.HA); BUILD and DELETING are the group's own.
const (
	HABuild            HAState = "BUILD"
	HAActive           HAState = "ACTIVE"
	HABackup           HAState = "BACKUP"
	HAAddingReplica    HAState = "ADDING_REPLICA"
	HARemovingReplica  HAState = "REMOVING_REPLICA"
	HARestartRequired  HAState = "RESTART_REQUIRED"
	HAReboot           HAState = "REBOOT"
	HADeleting         HAState = "DELETING"
	HAResizingVolume   HAState = "RESIZING_VOLUME"
	HAResizingFlavor   HAState = "RESIZING_FLAVOR"
	HAForcingFailover  HAState = "FORCING_FAILOVER"
	HAFailover         HAState = "HA_FAILOVER"
	HAError            HAState = "ERROR"
	HAReplicationError HAState = "REPLICATION_ERROR"
)

// HAReplicaSpec is how a replica of an HA group is made.
type HAReplicaSpec struct {
	Name       string `json:"name"`
	FlavorID   int    `json:"flavor_id"`
	VolumeSize int    `json:"volume_size"`
}

// HAGroup is a Rackspace HA instance group: one source and its replicas,
// kept at Members instances, reached at one stable Address (the write
// port always reaches the current source, the read port the replicas).
type HAGroup struct {
	ID       string
	TenantID string
	Name     string
	// Built is set once the group was ACTIVE for the first time: until
	// then it shows BUILD, and a failed member makes it ERROR.
	Built bool
	// Deleting is set once a delete was accepted.
	Deleting bool

	Datastore          string
	DatastoreVersion   string
	DatastoreVersionID string
	FlavorID           int
	VolumeSize         int
	ConfigurationID    string

	// Address is the group's own address (from the HA address pool); the
	// write and read ports are the engine's port and the next one.
	Address   string
	WritePort int
	ReadPort  int

	// SourceID is the member that is the group's source (its engine takes
	// the writes); it changes with a failover.
	SourceID string
	// Networks are the networks the group was asked to be reached on
	// (Rackspace's "servicenet", "public"); the group's one address serves
	// them all.
	Networks []string
	// Op is the group action under way that member statuses alone do not
	// tell ("resize_volumes"); "" when none.
	Op string

	// ACLs are the CIDRs allowed to connect to the group's address; none
	// means every address may.
	ACLs []string
	// Pending are the replicas still to be made (created in order by the
	// group's reconciler; a failed-over source is replaced by one).
	Pending []HAReplicaSpec
	// ReplicaCount is how many replicas the group keeps.
	ReplicaCount int
	// Events is the group's history of failovers and failures, newest
	// last, at most a few.
	Events []HAEvent

	Created time.Time
	Updated time.Time
}

// HAEvent is one thing that happened to a group.
type HAEvent struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}
