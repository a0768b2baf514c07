// Package redis implements [datastore.Engine], [datastore.Process],
// [datastore.Validator], [datastore.UserAdmin], [datastore.RootAdmin],
// [datastore.Replicator] and [datastore.Switchover] for Redis (tested with
// 7.0), offered through the API under the datastore type "redis".
//
// # Sections
//
//   - engine.go: [Engine], [New], [Config], Discover and the version parser.
//   - process.go: the local process recipe: redis.conf rendering (maxmemory
//     from the flavor RAM, a replica's settings), the init and server
//     command lines.
//   - resp.go: a minimal RESP2 client (commands as arrays of bulk strings,
//     replies parsed with limits); hoard needs a handful of commands and a
//     readiness probe without go-redis's dial back-off (engines.md §7).
//   - commands.go: Ping, Bootstrap, CreateUsers (ACL users) and the
//     operations Redis does not have.
//   - admin.go: listing, showing, renaming, re-passwording and deleting ACL
//     users, and root (not [datastore.DatabaseAdmin]: no databases).
//   - validate.go: ACL user name, host and password rules.
//   - config.go: [datastore.Configurable]: a safe subset of CONFIG GET *
//     (read from a throwaway server) with types and ranges per parameter,
//     all dynamic (CONFIG SET); group values are rendered into redis.conf
//     after hoard's settings, so they survive restarts while a tenant's
//     own CONFIG SET does not.
//   - backup.go: [datastore.Backuper]: BGSAVE, wait for rdb_saves to grow,
//     stream dump.rdb and users.acl as a tar; restore writes both into the
//     new data directory before the first start. Full backups only
//     ([datastore.FullBackupsOnly]).
//   - replication.go: [datastore.Replicator] with REPLICAOF and the ACL
//     user os_replicator; a replica's redis.conf lines; Prepare
//     ([datastore.Preparer]), which restricts a replica's tenant users and
//     root in its aclfile before it starts.
//   - switchover.go: [datastore.Switchover]: a fence with CLIENT PAUSE
//     WRITE, positions as replication offsets, Follow with REPLICAOF.
//
// # Accounts
//
// hoard's admin is the ACL user os_admin; replicas log in to a source as
// os_replicator (see Replication). Redis keeps ACL users in an
// aclfile, here <DataDir>/users.acl: the data directory is the only place
// the server may write (the configuration directory is hoard's, so CONFIG
// REWRITE fails). Redis refuses to start when a configured aclfile is
// missing, so InitArgs creates it empty (touch, run as the instance user).
// Right after the first start the default user has no password; Bootstrap
// connects over the Unix socket, creates os_admin (its password sent as a
// SHA-256 hash, "#<hex>"), authenticates as it, disables the default user
// and runs ACL SAVE. Tenant users (CreateUsers) are ACL users with all
// keys and channels and every command except the @admin category, but
// with CONFIG GET and CONFIG SET.
//
// # Users, hosts and root
//
// ACL users are not per host: a user's host is always "%" ("" means "%";
// any other is refused with fault.Invalid). ACL has no rename, so a rename
// creates the new user with the tenant rules and the old one's password
// hashes (its password keeps working) and deletes the old one, which
// disconnects its clients. Access grants and revokes are 501: there are no
// databases. Root enable creates the ACL user "root" with every permission
// ("~* &* +@all") but the ACL commands that change or reveal users, CLIENT
// PAUSE and UNPAUSE, SHUTDOWN and FAILOVER (see Switchover), and the hash
// of the generated password; the default user
// stays disabled, so that a one-argument AUTH never reaches a superuser.
// Root disable deletes it (disconnecting its clients). "root" is reserved
// and never listed. Every change is saved with ACL SAVE, so it survives a
// restart.
//
// # Replication
//
// PrepareSource creates the ACL user os_replicator on the source, with the
// hash of its password and only +psync +replconf +ping; like os_admin and
// root it is reserved (never listed, shown, changed or dropped, and no
// tenant may take the name) and root's rules keep it out of root's reach.
// A replica is seeded by restoring a backup (dump.rdb and users.acl) of
// the source, so it starts with the source's users, os_admin with the
// source's password included: it needs no Bootstrap. Render gives it
// replicaof, masteruser, masterauth (the one plain password in redis.conf,
// double-quoted; left out when the spec has none) and replica-read-only
// yes; Redis connects and makes a full synchronisation by itself (every
// server renders repl-diskless-sync-delay 0 so that it starts at once),
// and reconnects by itself after a source restart. StartReplica sets at
// runtime whatever of that a running server lacks (CONFIG SET, REPLICAOF)
// and waits for master_link_status:up. ReplicaStatus reads INFO
// replication: running while the link is up, else connecting, and broken
// once the link has been down for Config.ReplicaBrokenAfter (30 s by
// default; master_link_down_since_seconds, or the uptime of a server whose
// link was never up) unless a full synchronisation is under way. Redis
// always retries, so a broken replica runs again by itself when its source
// is back; Error says only that the link is down and for how long (Redis
// tells no cause but in its log). The lag is 0 while the replica heard
// from its source within the source's ping period (10 s) and applied all
// it read, else the seconds since it last did.
//
// A write on a replica fails with "READONLY You can't write against a
// read only replica.". So that tenants and root cannot lift that, on a
// replica they lose CONFIG GET and CONFIG SET (replica-read-only,
// masterauth) and root REPLICAOF and SLAVEOF: Prepare appends those rules
// to their lines in the aclfile before every start of a replica, and
// StartReplica, CreateUsers, a rename and EnableRoot set them at runtime.
// Promote runs REPLICAOF NO ONE (the data stays and writes are accepted
// at once), empties masterauth and gives tenants and root their source
// rules back. ACL users are not replicated: user changes on the source
// after the seed do not reach its replicas.
//
// # Switchover
//
// A position is a replication offset (decimal): a source and its replicas
// count the same replication stream, and a promoted replica goes on
// counting from where it was. Fence pauses a source's writes with CLIENT
// PAUSE <100 years> WRITE (Redis 6.2 and later): tenants' and root's
// writes wait unanswered while reads go on; it returns master_repl_offset,
// read after the pause. Before pausing it sets the rules of tenant users
// and root again, so that a root enabled by an older hoard loses CLIENT
// PAUSE and UNPAUSE too (tenants never had them: @admin). A source's
// offset still grows by the PINGs it sends its replicas every 10 s, so a
// repeated Fence may return a larger position; replicas receive those
// PINGs too. A fence is not kept across a restart of the server. Unfence
// is CLIENT UNPAUSE: the held writes run. WaitCaughtUp polls a replica's
// slave_repl_offset (master_repl_offset once promoted); position "" waits
// for the link to be down and all that was read to be applied.
// ReplicaPosition is slave_repl_offset (ErrNotReplica on a server that
// follows no source). Follow does what StartReplica does (the replica's
// rules, masteruser, masterauth, replica-read-only, REPLICAOF), then CLIENT
// UNPAUSE, and waits for the link: the writes a fence held back then fail
// with READONLY instead of running. Redis 7.0 continues partially (PSYNC)
// when a fenced source or a sibling follows a promoted replica, since the
// promoted replica keeps its former source's replication ID as replid2;
// a full synchronisation is made when that cannot be (a source whose
// offset went beyond, with a PING sent after the replica left), and is as
// correct. The promoted replica needs the replication user: ACL users are
// not replicated, so the service runs PrepareSource on it first.
//
// # Restart semantics
//
// redis.conf is root-owned in a directory the server cannot write, so CONFIG
// SET changes only the running server and is gone after a restart; ACL
// changes persist only through ACL SAVE (hoard's own). SIGTERM saves an RDB
// snapshot first (save points are set), so data is kept. A crash keeps
// data too: the append-only file is on, fsynced every second
// (appendfsync, which a configuration group may set to always or no), so
// a kill -9 of the server loses nothing acknowledged and a crash of the
// host at most the last second. Prepare seeds the AOF from dump.rdb when
// a data directory has a snapshot but no AOF (a restored backup, or an
// instance made before the AOF was on), since Redis with appendonly yes
// reads only the AOF. Redis has no
// databases in the Trove sense: the databases calls return
// fault.NotImplemented, which the API turns into 501.
package redis
