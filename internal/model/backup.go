package model

import "time"

// BackupStatus is the status of a backup as the API shows it (reference
// §13.1). The values are Trove's exact wire strings; new values are only
// ever appended.
type BackupStatus string

// Backup statuses.
const (
	BackupNew          BackupStatus = "NEW"      // accepted, not started
	BackupBuilding     BackupStatus = "BUILDING" // running
	BackupCompleted    BackupStatus = "COMPLETED"
	BackupFailed       BackupStatus = "FAILED"
	BackupDeleteFailed BackupStatus = "DELETE_FAILED"
)

// Running reports whether a backup in status s is still being made (it
// blocks its deletion and shows its instance as BACKUP).
func (s BackupStatus) Running() bool { return s == BackupNew || s == BackupBuilding }

// Backup is one backup of an instance. It outlives its instance.
type Backup struct {
	ID          string
	TenantID    string
	Name        string
	Description string
	InstanceID  string
	// ParentID is the backup an incremental backup builds on; "" for a
	// full backup.
	ParentID string
	Status   BackupStatus
	// Automated is true for backups made by a schedule.
	Automated bool

	Datastore          string // datastore type name of the instance
	DatastoreVersion   string
	DatastoreVersionID string
	// VolumeSize is the source instance's volume in GB.
	VolumeSize int
	FlavorID   int

	// Size is the stored artifact's size in bytes (0 until COMPLETED).
	Size int64
	// Location is where the artifact is stored ("" until COMPLETED).
	Location string
	// Checksum is the hex SHA-256 of the stored artifact.
	Checksum string
	// Meta is what the engine recorded about the backup (for MariaDB the
	// LSNs an incremental child needs).
	Meta map[string]string
	// AdminSecret is the sealed password of hoard's admin account inside
	// the engine when the backup was taken: a restored instance inherits
	// the account with its data.
	AdminSecret []byte
	// Fault says why a backup FAILED ("" otherwise).
	Fault string
	// Type labels the artifact's format, the API's "type": its engine's
	// datastore.ArtifactFormat label ("InnoBackupEx",
	// "InnoBackupExIncremental", "PgBaseBackup"), set at creation. Backups
	// recorded before it was stored have ""; the service fills in their
	// engine's label when it reads them.
	Type string

	Created time.Time
	Updated time.Time
}

// Schedule is an automated backup schedule of one instance (Rackspace
// §17.2): every day at Hour:Minute UTC, a full backup on DayOfWeek (0 =
// Sunday; 7 = every day) and incremental backups on the other days, keeping
// the newest Retention full backups (with their incrementals).
type Schedule struct {
	ID         string
	TenantID   string
	InstanceID string
	DayOfWeek  int
	Hour       int
	Minute     int
	Retention  int
	// NextRun is when the schedule runs next.
	NextRun time.Time
	// LastScheduled is when it last started a backup (zero if never).
	LastScheduled time.Time
	Created       time.Time
	Updated       time.Time
}
