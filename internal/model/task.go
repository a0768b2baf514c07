package model

import "time"

// TaskKind names a long-running operation carried out by the task runner.
type TaskKind string

// Task kinds.
const (
	TaskCreate  TaskKind = "create"
	TaskRestart TaskKind = "restart"
	TaskDelete  TaskKind = "delete"
	// TaskBackup makes a backup of an instance (the instance shows BACKUP).
	TaskBackup TaskKind = "backup"
	// TaskRestore creates an instance from a backup (as TaskCreate, with
	// the data directory restored instead of initialised).
	TaskRestore TaskKind = "restore"
	// TaskResizeFlavor restarts an instance's engine with a new flavor
	// (the instance shows RESIZE).
	TaskResizeFlavor TaskKind = "resize_flavor"
	// TaskResizeVolume grows an instance's volume (the instance shows
	// RESIZE).
	TaskResizeVolume TaskKind = "resize_volume"
	// TaskReplicaCreate creates a read replica of another instance (as
	// TaskCreate, with the data directory seeded from a copy of the
	// source's and the engine following the source).
	TaskReplicaCreate TaskKind = "replica_create"
	// TaskDetach makes a replica a standalone, writable instance (the
	// instance shows DETACH).
	TaskDetach TaskKind = "detach"
	// TaskPromote makes a replica the source of its set, with no lost
	// write (promote_to_replica_source).
	TaskPromote TaskKind = "promote"
	// TaskEject promotes the most advanced replica of a source that is
	// gone (eject_replica_source).
	TaskEject TaskKind = "eject"
)

// TaskState is where a task is in its life.
type TaskState string

// Task states.
const (
	TaskPending TaskState = "pending" // waiting for a runner (or its lease expired)
	TaskRunning TaskState = "running" // claimed by Owner until LeaseUntil
	TaskDone    TaskState = "done"
	TaskFailed  TaskState = "failed"
)

// Task is a durable record of an operation on an instance. Its steps are
// idempotent; StepName (and Step) say which step runs next, so a runner that
// takes over an expired lease resumes where the last one stopped.
type Task struct {
	ID         string
	InstanceID string
	Kind       TaskKind
	State      TaskState
	// Step is the index of the next step to run in the step list of the
	// hoard that recorded it.
	Step int
	// StepName is the name of the next step to run, which the runner
	// resumes at whatever the position of that step in its own step list
	// (see package task). It is empty for a task that has run no step yet
	// and for a task recorded before step names were: the runner then
	// resumes at Step.
	StepName   string
	Owner      string
	LeaseUntil time.Time
	Attempts   int
	// Payload is sealed (encrypted) JSON with what the steps need, such as
	// the users and databases to create; secrets never rest in clear.
	Payload []byte
	Error   string
	Created time.Time
	Updated time.Time
}
