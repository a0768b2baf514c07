// Package mariadb implements [datastore.Engine] and [datastore.Process] for
// MariaDB (tested with 10.11), offered through the API under the datastore
// types "mysql" (primary) and "mariadb".
//
// # Sections
//
//   - engine.go: [Engine], [New], [Config], Discover and the version parser.
//   - process.go: the local process recipe: my.cnf rendering (with memory
//     sizing from the flavor RAM), the init and server command lines.
//   - sql.go: Ping, Bootstrap, CreateDatabases and CreateUsers.
//   - quote.go: the only functions that put text into SQL. Identifiers are
//     backtick-quoted, user and host names become escaped string literals,
//     and passwords never reach the server as text at all: hoard sends the
//     mysql_native_password hash (IDENTIFIED BY PASSWORD '*HEX') because
//     MariaDB 10.11 does not accept a parameter marker in IDENTIFIED BY
//     (CREATE USER, ALTER USER and SET PASSWORD ... PASSWORD(?) all fail to
//     prepare with ERROR 1064).
//   - validate.go: the Trove (MySQL family) rules for database names, user
//     names, hosts and passwords, exported for the API and service layers.
//
// Passwords are carried as [datastore.Secret] and never appear in errors or
// logs.
package mariadb
