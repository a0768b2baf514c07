// Package mariadb implements [datastore.Engine], [datastore.Process] and
// the optional capabilities [datastore.Validator],
// [datastore.AdminChecker], [datastore.DatabaseAdmin],
// [datastore.UserAdmin], [datastore.RootAdmin], [datastore.Configurable],
// [datastore.MemorySizer] and [datastore.Backuper] (with incrementals) for
// MariaDB (tested with 10.11), offered through the API under the datastore
// types "mysql" (primary) and "mariadb".
//
// # Sections
//
//   - engine.go: [Engine], [New], [Config], Discover and the version parser.
//   - process.go: the local process recipe: my.cnf rendering (with memory
//     sizing from the flavor RAM, root's server files kept inside the
//     instance with secure_file_priv), the init-file that re-creates
//     hoard's account at every start, the init and server command lines.
//   - sql.go: sessions, Ping, Bootstrap, CreateDatabases and CreateUsers.
//   - admin.go: listing and dropping databases; listing, showing,
//     renaming, re-passwording and dropping users; granting and revoking
//     access; root.
//   - guard.go: CheckAdmin, whether hoard's account still logs in with
//     every privilege (a refused one is [datastore.ErrAdminLost]).
//   - config.go: the parameter catalogue, read from a throwaway mariadbd,
//     group values rendered into my.cnf, ApplyDynamic as SET GLOBAL.
//   - memory.go: MemoryUse, the memory a group's buffers commit.
//   - backup.go: Backup and Restore with mariadb-backup and mbstream
//     (xbstream, full and incremental from the parent's checkpoint).
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
