package service

import (
	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/model"
)

// CreateInstanceRequest is a decoded, shape-checked instance create request.
// The service checks everything that needs the catalogue or the engine.
type CreateInstanceRequest struct {
	Name string
	// FlavorRef is the flavor id as given (id or href, already reduced to
	// its last path segment by the decoder).
	FlavorRef  string
	VolumeSize int
	// DatastoreType and DatastoreVersion are names or ids; empty selects
	// the default.
	DatastoreType    string
	DatastoreVersion string
	Databases        []datastore.Database
	Users            []datastore.User
	// RestoreBackupID is the backup to restore (restorePoint.backupRef);
	// "" for an empty instance.
	RestoreBackupID string
	// Configuration is the id of a configuration group to attach; "" none.
	Configuration string
	// ReplicaOf is the instance to make read replicas of ("" for a source
	// or a standalone instance); ReplicaCount how many (0 means 1).
	// FlavorRef, VolumeSize and the datastore may then be left out: they
	// are the source's.
	ReplicaOf    string
	ReplicaCount int
	// Access is true when the body gave "access"; AllowedCIDRs are then
	// its networks (canonical prefixes, none meaning every network). A
	// replica without Access inherits its source's networks.
	Access       bool
	AllowedCIDRs []string

	// ha is the HA group the instance is made for (by HA, never by the
	// API): a source is recorded with its group (store.CreateHAGroup), a
	// replica as its member.
	ha *model.HAGroup
}

// InstanceDetail is an instance with what the detail view adds to it.
type InstanceDetail struct {
	*model.Instance
	// VolumeUsedGB is the used volume space in GB, nil when unknown (for
	// example while the instance is not ACTIVE).
	VolumeUsedGB *float64
	// ConfigurationName is the name of the attached group ("" if none).
	ConfigurationName string
	// Replicas are the replicas of a source (nil for others).
	Replicas []*model.Instance
	// Replication is how a replica follows its source; nil for others, and
	// when it could not be asked (the engine not ready).
	Replication *datastore.ReplicaStatus
}
