// Package redis implements [datastore.Engine], [datastore.Process],
// [datastore.Validator], [datastore.UserAdmin] and [datastore.RootAdmin]
// for Redis (tested with 7.0), offered through the
// API under the datastore type "redis".
//
// # Sections
//
//   - engine.go: [Engine], [New], [Config], Discover and the version parser.
//   - process.go: the local process recipe: redis.conf rendering (maxmemory
//     from the flavor RAM), the init and server command lines.
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
//
// # Accounts
//
// hoard's admin is the ACL user os_admin. Redis keeps ACL users in an
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
// ("~* &* +@all") and the hash of the generated password; the default user
// stays disabled, so that a one-argument AUTH never reaches a superuser.
// Root disable deletes it (disconnecting its clients). "root" is reserved
// and never listed. Every change is saved with ACL SAVE, so it survives a
// restart.
//
// # Restart semantics
//
// redis.conf is root-owned in a directory the server cannot write, so CONFIG
// SET changes only the running server and is gone after a restart; ACL
// changes persist only through ACL SAVE (hoard's own). SIGTERM saves an RDB
// snapshot first (save points are set), so data is kept. Redis has no
// databases in the Trove sense: the databases calls return
// fault.NotImplemented, which the API turns into 501.
package redis
