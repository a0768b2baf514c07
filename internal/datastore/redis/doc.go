// Package redis implements [datastore.Engine], [datastore.Process] and
// [datastore.Validator] for Redis (tested with 7.0), offered through the
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
//   - validate.go: ACL user name and password rules.
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
// # Restart semantics
//
// redis.conf is root-owned in a directory the server cannot write, so CONFIG
// SET changes only the running server and is gone after a restart; ACL
// changes persist only through ACL SAVE (hoard's own). SIGTERM saves an RDB
// snapshot first (save points are set), so data is kept. Redis has no
// databases in the Trove sense: the databases calls return
// fault.NotImplemented, which the API turns into 501.
package redis
