// Package mariadb implements [datastore.Engine], [datastore.Process] and
// the optional capabilities [datastore.Validator],
// [datastore.AdminChecker], [datastore.DatabaseAdmin],
// [datastore.UserAdmin], [datastore.RootAdmin], [datastore.Configurable],
// [datastore.MemorySizer], [datastore.Backuper] (with incrementals),
// [datastore.Replicator] and [datastore.Switchover] for MariaDB (tested
// with 10.11), offered through the API under the datastore types "mysql"
// (primary) and "mariadb".
//
// # Sections
//
//   - engine.go: [Engine], [New], [Config], Discover and the version parser.
//   - process.go: the local process recipe: my.cnf rendering (with memory
//     sizing from the flavor RAM, root's server files kept inside the
//     instance with secure_file_priv, the binary log settings of
//     replication.go), the init-file that re-creates hoard's account at
//     every start (not binary-logged), the init and server command lines.
//   - sql.go: sessions, Ping, Bootstrap, CreateDatabases and CreateUsers.
//   - admin.go: listing and dropping databases; listing, showing,
//     renaming, re-passwording and dropping users; granting and revoking
//     access; root (all privileges but READ_ONLY ADMIN, so that it cannot
//     write on a replica).
//   - guard.go: CheckAdmin, whether hoard's account still logs in with
//     every privilege (a refused one is [datastore.ErrAdminLost]).
//   - config.go: the parameter catalogue, read from a throwaway mariadbd,
//     group values rendered into my.cnf, ApplyDynamic as SET GLOBAL.
//   - memory.go: MemoryUse, the memory a group's buffers commit.
//   - backup.go: Backup and Restore with mariadb-backup and mbstream
//     (xbstream, full and incremental from the parent's checkpoint); a
//     backup's Meta carries the GTID position a replica restored from it
//     starts at.
//   - replication.go: GTID replication. Every server writes a row-based
//     binary log in its data directory (kept a day) with a server_id
//     hashed from its instance id; a replica (Spec.ReplicaOf) is rendered
//     read_only. PrepareSource creates the reserved account os_repl
//     (REPLICATION SLAVE only); StartReplica sets gtid_slave_pos from the
//     backup, CHANGE MASTER ... MASTER_USE_GTID=slave_pos and START SLAVE,
//     unless the replica already follows that source (MariaDB keeps the
//     connection, password included, in master.info in the data
//     directory, and reconnects by itself); ReplicaStatus reads SHOW SLAVE
//     STATUS; Promote applies what the replica received, forgets the
//     source (RESET SLAVE ALL) and turns read_only off. No tenant account
//     keeps READ_ONLY ADMIN, so tenants' writes on a replica fail with
//     MariaDB's read-only error (1290); hoard's changes on a replica are
//     not binary-logged.
//   - switchover.go: changing the source of a replication set. Fence sets
//     read_only (which waits for tenants' running statements and commits,
//     and makes their open transactions fail at COMMIT; tenants that hold
//     it off for fenceLockWait have their connections killed) and returns
//     @@gtid_binlog_pos; Unfence turns it off on a server that follows no
//     source; WaitCaughtUp is MASTER_GTID_WAIT; Follow is StartReplica's
//     path, a former source starting from its own gtid_binlog_pos;
//     ReplicaPosition is what a replica received (gtid_slave_pos and
//     Gtid_IO_Pos) or a source's gtid_binlog_pos; ComparePositions orders
//     GTID lists domain by domain.
//   - quote.go: the only functions that put text into SQL. Identifiers are
//     backtick-quoted, user and host names become escaped string literals,
//     and passwords never reach the server as text at all: hoard sends the
//     mysql_native_password hash (IDENTIFIED BY PASSWORD '*HEX') because
//     MariaDB 10.11 does not accept a parameter marker in IDENTIFIED BY
//     (CREATE USER, ALTER USER and SET PASSWORD ... PASSWORD(?) all fail to
//     prepare with ERROR 1064).
//   - validate.go, validator.go: the Trove (MySQL family) rules for
//     database names, user names, hosts and passwords, exported for the
//     API and service layers, and the [datastore.Validator] built on them.
//
// Passwords are carried as [datastore.Secret] and never appear in errors or
// logs.
package mariadb
