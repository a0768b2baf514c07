// Package postgresql implements [datastore.Engine], [datastore.Process],
// [datastore.Preparer], [datastore.Validator], [datastore.DatabaseAdmin],
// [datastore.UserAdmin] and [datastore.RootAdmin] for PostgreSQL (tested
// with 15), offered through the API under the datastore type "postgresql".
//
// # Sections
//
//   - engine.go: [Engine], [New], [Config], Discover and the version parser.
//   - process.go: the local process recipe: postgresql.conf, pg_hba.conf and
//     pg_ident.conf rendering (memory sizing from the flavor RAM), the initdb
//     and postgres command lines, and Prepare.
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
//   - validate.go: the name rules for databases (identifiers of at most 63
//     bytes, not postgres/template0/template1) and roles (not postgres,
//     os_admin, public, pg_*), encodings, collations and passwords.
//
// # First access
//
// initdb creates the bootstrap superuser "postgres" without a password. The
// rendered pg_hba.conf (in ConfDir, which the server cannot write) has
//
//	local all         postgres trust
//	local all         all      scram-sha-256
//	local replication all      scram-sha-256
//	host  all         all      0.0.0.0/0 scram-sha-256
//	host  all         all      ::/0      scram-sha-256
//
// so before Bootstrap only the local socket (in RunDir, reachable by root
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
//     memory and connection limits) is rendered into postgresql.conf AND
//     passed as -c options on the command line, which win over both
//     configuration files; ALTER SYSTEM on one of them never takes effect;
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
// Passwords are carried as [datastore.Secret] and never appear in errors or
// logs.
package postgresql
