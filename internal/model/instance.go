package model

import (
	"strings"
	"time"
)

// InstanceStatus is the status of an instance as the API shows it. The values
// are Trove's exact wire strings; new values are only ever appended.
type InstanceStatus string

// Instance statuses (API reference §8.1).
const (
	StatusBuild           InstanceStatus = "BUILD"
	StatusActive          InstanceStatus = "ACTIVE"
	StatusReboot          InstanceStatus = "REBOOT"
	StatusResize          InstanceStatus = "RESIZE"
	StatusBackup          InstanceStatus = "BACKUP"
	StatusRestartRequired InstanceStatus = "RESTART_REQUIRED"
	StatusShutdown        InstanceStatus = "SHUTDOWN"
	StatusBlocked         InstanceStatus = "BLOCKED"
	StatusFailed          InstanceStatus = "FAILED"
	StatusError           InstanceStatus = "ERROR"
	// StatusDetach: a replica is being made a standalone instance.
	StatusDetach InstanceStatus = "DETACH"
	// StatusPromote: every member of a replication set while a replica
	// becomes its source (promote_to_replica_source).
	StatusPromote InstanceStatus = "PROMOTE"
	// StatusEject: every member of a replication set while its source is
	// ejected (eject_replica_source).
	StatusEject InstanceStatus = "EJECT"
)

// ActionAllowed reports whether an instance action (restart, resize, ...) may
// start from status s: the state gate of API reference §9.2.
func (s InstanceStatus) ActionAllowed() bool {
	switch s {
	case StatusActive, StatusRestartRequired, StatusShutdown, StatusBlocked:
		return true
	}
	return false
}

// ActionAllowedStatuses lists the statuses for which ActionAllowed is true.
var ActionAllowedStatuses = []InstanceStatus{StatusActive, StatusRestartRequired, StatusShutdown, StatusBlocked}

// Instance is one database instance: its identity, what it runs, where it
// runs, and its current status. Deleted instances are removed from the store.
type Instance struct {
	ID       string
	TenantID string
	Name     string
	Status   InstanceStatus
	// Deleting is true once a delete was accepted; Status is then SHUTDOWN.
	Deleting bool

	FlavorID   int
	VolumeSize int // GB

	Datastore          string // datastore type name, e.g. "mysql"
	DatastoreVersion   string // datastore version name, e.g. "10.11"
	DatastoreVersionID string

	// Address is the address clients connect to (an IP on the local driver);
	// empty until assigned.
	Address string
	// Port is the engine's port at Address (3306 for MariaDB).
	Port int

	// AdminSecret is the sealed (encrypted) password of hoard's own
	// administrative account inside the engine; see package secret.
	AdminSecret []byte

	// Fault describes the last failure, shown in the detail view; nil if none.
	Fault *Fault

	// ConfigurationID is the attached configuration group; "" if none.
	ConfigurationID string

	// ReplicaOf is the id of the source instance this instance is a read
	// replica of; "" for a source or a standalone instance.
	ReplicaOf string
	// ReplicationSecret is the sealed password of the replication account
	// inside the engine of a source (set when its first replica is
	// created); nil otherwise.
	ReplicationSecret []byte

	// HAID is the HA instance group the instance is a member of; "" if
	// none.
	HAID string

	// Logs are the USER guest logs enabled on the instance, by name
	// (reference §16.1); the engine writes them from its next start on.
	Logs []string

	Created time.Time
	Updated time.Time
}

// Fault is a recorded failure of an instance (detail view field "fault").
type Fault struct {
	Message string
	Details string
	Created time.Time
}

// JoinLogs is the stored form of Instance.Logs: the names joined by
// commas (log names never contain one).
func JoinLogs(logs []string) string { return strings.Join(logs, ",") }

// SplitLogs is the inverse of JoinLogs; "" is no log (nil).
func SplitLogs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
