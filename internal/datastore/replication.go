package datastore

import (
	"context"
	"errors"
)

// ReplicaSource is the source instance a replica follows, as the replica
// reaches it: the source's address and port, and the replication account
// (Replicator.ReplicationUser) with its password.
type ReplicaSource struct {
	Address string
	Port    int
	User    string
	// Password is the replication account's; it never reaches a command
	// line or a log. A driver's private record of a spec keeps it (an
	// engine it restarts on its own renders it again): the local driver's
	// handles are hoard's only.
	Password Secret
}

// ErrSourceNeedsRestart is returned by Replicator.PrepareSource of a
// running server that must be started again, rendered with
// Spec.Replicated, before it can be followed (MariaDB without its binary
// log).
var ErrSourceNeedsRestart = errors.New("datastore: the source must be restarted to be followed")

// ErrNotReplica is returned by ReplicaStatus for a server that follows no
// source.
var ErrNotReplica = errors.New("datastore: the server is not a replica")

// ReplicaState is how a replica follows its source.
type ReplicaState string

// Replica states.
const (
	// ReplicaRunning: connected to the source and applying its changes.
	ReplicaRunning ReplicaState = "running"
	// ReplicaConnecting: configured, not (yet or any more) connected; the
	// engine retries by itself (a source restarting, a network cut).
	ReplicaConnecting ReplicaState = "connecting"
	// ReplicaBroken: replication stopped on an error the engine does not
	// retry (a conflicting change, a source that lost what it needs).
	ReplicaBroken ReplicaState = "broken"
)

// ReplicaStatus is what a replica reports of its replication.
type ReplicaStatus struct {
	State ReplicaState
	// LagSeconds is how far behind the source the replica applies
	// changes, in seconds; -1 when the engine cannot tell (not connected).
	LagSeconds float64
	// Error is the engine's last replication error, for operators ("" if
	// none). It may name the source's address, never a password.
	Error string
}

// Replicator is an optional Engine capability: asynchronous replication of
// a whole server from a source to read-only replicas, with the engine's own
// mechanism (MariaDB GTID replication, PostgreSQL streaming replication
// with a hot standby, Redis REPLICAOF).
//
// A replica is made this way, by the service, with every step idempotent
// (a task may run one again after a crash):
//
//  1. PrepareSource on the running source creates the replication account.
//  2. A Backup of the running source (Backuper) is restored into the
//     replica's empty data directory; the backup's Meta is kept.
//  3. The replica's server is started with Spec.ReplicaOf set: Render
//     writes what makes it a read-only replica of that source where the
//     engine reads it from its configuration (PostgreSQL's primary_conninfo
//     and standby.signal, Redis's replicaof), and tenant users cannot
//     write (MariaDB's read_only).
//  4. StartReplica, once the replica answers, starts what the engine
//     starts by a statement (MariaDB's CHANGE MASTER ... START SLAVE from
//     the backup's GTID position), and checks the replica follows src.
//
// Promote turns a replica into a writable source; the service then renders
// it without ReplicaOf, so that a restart keeps it one.
type Replicator interface {
	// ReplicationUser is the name of the account replicas log in to a
	// source with. Like AdminUser it is reserved: never listed, shown,
	// changed or dropped through the API.
	ReplicationUser() string
	// PrepareSource makes the running source at c (hoard's admin account)
	// ready to be followed: it creates the replication account with
	// password, reachable from any address, or sets that password if the
	// account exists. Idempotent.
	PrepareSource(ctx context.Context, c Conn, password Secret) error
	// StartReplica makes the running replica at c, restored from a backup
	// whose Meta is meta and started with spec.ReplicaOf = src, follow
	// src. A replica that already follows src is left as it is.
	StartReplica(ctx context.Context, c Conn, meta map[string]string, src ReplicaSource) error
	// ReplicaStatus reports how the server at c follows its source;
	// ErrNotReplica if it follows none.
	ReplicaStatus(ctx context.Context, c Conn) (ReplicaStatus, error)
	// Promote makes the replica at c stop following its source and accept
	// writes at once, without a restart. A server that follows no source
	// is left as it is.
	Promote(ctx context.Context, c Conn) error
}

// AccountsNotReplicated is an optional Replicator capability of an engine
// whose replication does not carry its accounts (Redis: ACL users belong to
// each server). A replica then starts with the accounts of its seed, and
// the service applies the account changes made on a source (users, their
// passwords and access, root) to its replicas too.
type AccountsNotReplicated interface {
	AccountsNotReplicated()
}

// ErrStopToFence is returned by Switchover.Fence of an engine that cannot
// stop tenants' writes on a running server: the caller fences the source
// by stopping its server cleanly (which sends what it wrote to its
// replicas before it ends), then calls WaitCaughtUp with position "".
var ErrStopToFence = errors.New("datastore: the source is fenced by stopping it")

// Switchover is an optional Replicator capability: changing which server
// of a replication set is the source without losing a committed write
// (promote_to_replica_source), and choosing the replica to promote when the
// source is gone (eject_replica_source). Every method is idempotent.
//
// A planned switchover of source S to its replica R, with other replicas
// O, runs: Fence(S) (or stop S on ErrStopToFence); WaitCaughtUp(R,
// position); Promote(R); then S and every O are rendered with ReplicaOf R
// and Follow(R) (S started again if it was stopped).
type Switchover interface {
	// Fence makes the running source at c stop taking writes from tenant
	// users and root at once, lets the writes under way end, and returns
	// its position: everything it has written, in the form WaitCaughtUp
	// and ComparePositions read. A fenced source returns the same position
	// again. ErrStopToFence: see there.
	Fence(ctx context.Context, c Conn) (position string, err error)
	// Unfence undoes Fence on the source at c (a switchover that failed
	// before its replica was promoted gives the source its writes back).
	Unfence(ctx context.Context, c Conn) error
	// WaitCaughtUp waits, within ctx, until the replica at c has applied
	// everything up to position; position "" (ErrStopToFence) means
	// everything its source sent before it stopped.
	WaitCaughtUp(ctx context.Context, c Conn, position string) error
	// Follow makes the running server at c, rendered with ReplicaOf src,
	// a read-only replica of src that continues from what it has (no new
	// seed): a fenced former source, or a replica of another source. A
	// server that already follows src is left as it is.
	Follow(ctx context.Context, c Conn, src ReplicaSource) error
	// ReplicaPosition returns how far the replica at c has received its
	// source's writes, comparable with ComparePositions.
	ReplicaPosition(ctx context.Context, c Conn) (string, error)
	// ComparePositions orders two positions of one replication set: -1 if
	// a is behind b, 0 if equal, 1 if ahead; an error if they cannot be
	// compared.
	ComparePositions(a, b string) (int, error)
}

// SyncCommitter is an optional Replicator capability of an engine whose
// synchronous replication is switched on a running source rather than
// rendered: it may only be on while a replica follows, since a commit
// then waits for a replica's acknowledgement (forever on PostgreSQL, for
// a timeout on MariaDB). The service switches it on
// the source of an HA group while at least one replica follows it, and off
// otherwise.
type SyncCommitter interface {
	// SetSyncCommit makes the source at c acknowledge a commit only once
	// one replica has it (on), or at once (off). It is idempotent and
	// changes nothing when the source already is so.
	SetSyncCommit(ctx context.Context, c Conn, on bool) error
}
