// Package postgresql implements [datastore.Engine], [datastore.Process],
// [datastore.Preparer], [datastore.Validator], [datastore.DatabaseAdmin],
// [datastore.UserAdmin], [datastore.RootAdmin], [datastore.Replicator] and
// [datastore.Switchover] and [datastore.AccessReloader] for PostgreSQL (tested with 15), offered through the API under the
// datastore type "postgresql".
//
// # Sections
//
//   - engine.go: [Engine], [New], [Config], Discover and the version parser.
//   - process.go: the local process recipe: postgresql.conf, pg_hba.conf and
//     pg_ident.conf rendering (memory sizing from the flavor RAM; the WAL
//     settings of a replication source, wal_keep_size from the volume), the
//     initdb and postgres command lines, and Prepare (postgresql.auto.conf;
//     a replica's standby.signal and password file).
//   - access.go: [datastore.AccessReloader]: pg_hba.conf (rendered in
//     process.go) admits tenants only from Spec.AllowedSources when it has
//     some (see First access below); ReloadAccess applies a new list to a
//     running server with pg_reload_conf().
//   - sql.go: Ping, Bootstrap, CreateDatabases and CreateUsers.
//   - admin.go: listing and dropping databases; listing, showing, renaming,
//     re-passwording and dropping users (REASSIGN OWNED and DROP OWNED in
//     every database first, so DROP ROLE succeeds and tables outlive their
//     user); granting and revoking access (CONNECT, TEMPORARY, CREATE and
//     schema public; a revoke also ends the user's sessions there); root.
//   - config.go: [datastore.Configurable]: the parameter catalogue from
//     `postgres --describe-config` (the server's own settings table, the
//     source of pg_settings: vartype, min_val, max_val; restart_required
//     is context = postmaster; integers in the setting's unit), group values
//     rendered into postgresql.conf, ApplyDynamic as pg_reload_conf().
//   - backup.go: [datastore.Backuper]: pg_basebackup -Ft -Xf to a stream
//     over the local replication line (password in a private PGPASSFILE),
//     restore by unpacking the tar into the new data directory before its
//     first start. Full backups only ([datastore.FullBackupsOnly]).
//   - scram.go: SCRAM-SHA-256 verifiers. Passwords never reach the server as
//     text: hoard computes the verifier PostgreSQL would store and sends that
//     (CREATE ROLE ... PASSWORD 'SCRAM-SHA-256$...'), because a parameter
//     marker is not allowed in CREATE/ALTER ROLE.
//   - replication.go: [datastore.Replicator]: streaming replication to a
//     hot standby (see Replication below): the replication role, a
//     replica's primary_conninfo, standby.signal and password file, the
//     WAL receiver's status and lag, pg_promote.
//   - switchover.go: [datastore.Switchover]: a fence by a clean stop,
//     waiting for a standby's replay, following a new source across its
//     timeline switch (see Switchover below), LSN positions.
//   - validate.go: the name rules for databases (identifiers of at most 63
//     bytes, not postgres/template0/template1) and roles (not postgres,
//     os_admin, root, os_replicator, public, pg_*), encodings, collations
//     and passwords.
//
// # First access
//
// initdb creates the bootstrap superuser "postgres" without a password. The
// rendered pg_hba.conf (in ConfDir, which the server cannot write) has
//
//	local all         postgres      trust
//	local all         all           scram-sha-256
//	local replication all           scram-sha-256
//	host  all         all           0.0.0.0/0 scram-sha-256
//	host  all         all           ::/0      scram-sha-256
//	host  replication os_replicator all       scram-sha-256
//
// (the last line lets replicas stream from any address, as the
// replication role only; see Replication). An instance with an access list
// (Spec.AllowedSources) has, instead of the two "all addresses" lines, one
// line per allowed network and one for each address hoard connects from on
// its own host (127.0.0.1, ::1 and the instance's address): the packet
// filter of the local driver is the first line of defence, pg_hba.conf the
// second. So before Bootstrap only the local socket (in RunDir, reachable by root
// and the instance user only) lets "postgres" in without a password.
// Bootstrap connects that way, creates os_admin (SUPERUSER, LOGIN, with the
// SCRAM verifier of the admin password) and then makes "postgres" NOLOGIN:
// from then on the trust line matches a role that cannot log in, and every
// way in needs a password. This keeps Render and InitArgs pure (no secret
// in a file or on a command line) and needs no second configuration state.
// A repeated Bootstrap finds "postgres" refused and connects as os_admin.
//
// # Restart semantics
//
// PostgreSQL has no server-wide setting that lasts only until a restart:
// SET lasts for a session, and ALTER SYSTEM (superusers only; tenants get
// no superuser) writes data/postgresql.auto.conf, which would survive. To
// give the Trove meaning of restart ("dynamic settings are erased"):
//   - every managed setting (listen address, port, socket directory, files,
//     memory and connection limits, WAL for replication) is rendered into
//     postgresql.conf AND passed as -c options on the command line, which
//     win over both configuration files; ALTER SYSTEM on one of them never
//     takes effect;
//   - Prepare removes data/postgresql.auto.conf before every start, so any
//     other ALTER SYSTEM value (e.g. work_mem) is gone after a restart;
//   - pg_reload_conf() only re-reads hoard's files, which the server cannot
//     change.
//   - configuration group values are written into postgresql.conf after
//     the managed settings; a managed setting the group sets is then not
//     passed with -c, so the group wins and a reload applies dynamic
//     changes. They survive restarts; nothing else does.
//
// # Users, hosts and root
//
// Roles are not per host in PostgreSQL (pg_hba.conf decides where from),
// so a user's host is always "%": "" means "%", any other host is refused
// with fault.Invalid, and users are listed with host "%". Root enable
// creates the role "root" (LOGIN, a SCRAM verifier of the generated
// password), not Trove's "postgres": that is initdb's bootstrap superuser,
// trusted on the local socket, which Bootstrap keeps NOLOGIN. Root is the
// master user of a managed PostgreSQL, not a superuser: CREATEDB,
// CREATEROLE, pg_monitor, pg_signal_backend, pg_read_all_data,
// pg_write_all_data and pg_checkpoint, and all privileges on every database
// (also those created later). It can create databases and roles, read and
// write every table, watch and cancel sessions; it cannot run programs
// (COPY ... PROGRAM), read or write server files, ALTER SYSTEM, load
// untrusted languages or change hoard's superuser os_admin.
// Root disable drops "root" the way a user is dropped (what it owns goes
// to the admin). "root" is a reserved name, never listed.
//
// # Replication
//
// Replicas are hot standbys fed by physical streaming replication. Every
// server is rendered able to be a source: wal_level replica,
// max_wal_senders 10 and wal_keep_size 10% of the volume (64MB to 16GB),
// managed settings like the others (in the file and with -c). The WAL a
// replica needs after its seed is kept by wal_keep_size rather than by a
// replication slot per replica: PrepareSource does not know the replica,
// and a slot left by a replica that is gone keeps WAL until the volume is
// full; a replica that falls further behind than wal_keep_size must be
// seeded again.
//
//  1. PrepareSource creates (or re-passwords) os_replicator: REPLICATION
//     LOGIN with a SCRAM verifier, nothing else. The pg_hba.conf line above
//     admits it for replication from anywhere; it reaches no database.
//  2. The seed is a Backup (pg_basebackup -Ft -Xf) of the source, restored
//     into the replica's data directory.
//  3. Rendered with Spec.ReplicaOf, postgresql.conf gets primary_conninfo
//     (host, port, user, application_name = the instance id, and passfile):
//     in the file only, not with -c. The password is not in it: Prepare,
//     which runs as hoard before every start, writes it to
//     RunDir/replication.pgpass (0600, the instance user's; libpq reads no
//     other), because a standby shows primary_conninfo to members of
//     pg_read_all_settings, root among them. Prepare also creates
//     standby.signal in the data directory, so the server starts as a
//     standby, replays the backup's WAL and streams from the source. It
//     never removes standby.signal (promotion does): without ReplicaOf it
//     only removes the password file.
//  4. StartReplica starts nothing: it waits until pg_stat_wal_receiver
//     streams from the source.
//
// A replica has the source's roles and passwords (its data directory is
// the source's, and a standby cannot change them): hoard reaches it with
// the source's administrative account, and Bootstrap, which writes, is
// not run on it. A standby refuses every write with SQLSTATE 25006
// ("cannot execute ... in a read-only transaction"), root's and tenants'
// alike. When the source restarts, the WAL receiver reconnects by itself
// (every wal_retrieve_retry_interval, 5 s). ReplicaStatus reads
// pg_is_in_recovery() and pg_stat_wal_receiver: running while it streams,
// connecting while it does not, and broken once it has not streamed for
// Config.ReplicaBrokenAfter (30 s by default), counted by the engine from
// its first look that found no stream (PostgreSQL keeps no such time, and
// the cause, such as WAL the source has removed, is only in the server
// log); a broken standby runs again by itself if its source comes back
// with what it needs. Promote is pg_promote(),
// after which the server writes at once and the service renders it
// without ReplicaOf. A standby needs max_connections (and the other
// limits of hot standby) at least as large as its source's.
//
// # Switchover
//
// A planned switchover of source S to its replica R1 (other replicas R2):
//
//  1. Fence(S) is [datastore.ErrStopToFence]: every session may turn
//     default_transaction_read_only off, so the only sure fence is a clean
//     stop (SIGINT, the fast shutdown). Its WAL senders send everything up
//     to the shutdown checkpoint to the connected standbys, and wait until
//     they have flushed it, before the server exits: asynchronous commits
//     are not lost either. A stopped server takes no write; Unfence has
//     nothing to undo (S started again as it was takes writes).
//  2. WaitCaughtUp(R1, "") waits until R1's WAL receiver no longer streams
//     and pg_last_wal_replay_lsn() has reached pg_last_wal_receive_lsn();
//     with an LSN, until the replay reaches it.
//  3. Promote(R1): R1 starts timeline 2 where its replay ended, which is
//     where S's WAL ends.
//  4. S, rendered with ReplicaOf R1, starts as a standby (standby.signal by
//     Prepare); R2, rendered with ReplicaOf R1, is restarted or just
//     reloaded (primary_conninfo is reloadable). Follow reloads a running
//     standby whose primary_conninfo is not the file's, and waits until it
//     streams from R1 on R1's timeline: with recovery_target_timeline
//     'latest' (the default, checked) the WAL receiver fetches R1's timeline
//     history, streams timeline 1 up to the fork and continues on 2. S
//     needs no pg_rewind, as its WAL ends at the fork. A standby whose WAL
//     goes past the fork (it received what R1 did not; possible when the
//     source was lost rather than stopped) has diverged: Follow refuses it
//     at once (fault.Conflict), as it could only follow after a new seed.
//
// Positions are LSNs ("16/B374D848"): ReplicaPosition is what a standby
// received (pg_last_wal_receive_lsn(), or its replay if further),
// ComparePositions orders them as 64-bit numbers. They carry no timeline:
// they compare the replicas of one source.
//
// Passwords are carried as [datastore.Secret] and never appear in errors or
// logs.
package postgresql
