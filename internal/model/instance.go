package model

import (
	"encoding/json"
	"fmt"
	"net/netip"
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

	// AllowedCIDRs are the networks (CIDR prefixes, canonical: see
	// ParseAllowedCIDRs) whose clients may connect to the instance; nil or
	// empty means every network (Trove's access.allowed_cidrs). The driver
	// enforces them (driver.AccessEnforcer).
	AllowedCIDRs []string

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

// MaxAllowedCIDRs is how many networks an instance's AllowedCIDRs may list.
const MaxAllowedCIDRs = 32

// ParseAllowedCIDR parses one entry of an access list: a CIDR prefix (IPv4
// or IPv6) or a bare address (a /32 or /128). It returns the canonical
// prefix (host bits cleared, an IPv4-mapped IPv6 address unmapped), as
// stored and shown back.
func ParseAllowedCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q has a zone", s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q has a zone", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// JoinCIDRs is the stored form of Instance.AllowedCIDRs: a JSON list
// ("[]" for none).
func JoinCIDRs(cidrs []string) string {
	if len(cidrs) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(cidrs) // a []string always marshals
	return string(b)
}

// SplitCIDRs is the inverse of JoinCIDRs: "" and "[]" are none (nil).
// Anything else that is not a JSON list of strings is an error, never
// none: an unreadable list must not open an instance to every network.
func SplitCIDRs(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("model: stored allowed_cidrs %.40q: %w", s, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// SplitLogs is the inverse of JoinLogs; "" is no log (nil).
func SplitLogs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
