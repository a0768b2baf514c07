// Package admintest is the contract suite of the engine administration
// capabilities (datastore.DatabaseAdmin, datastore.UserAdmin,
// datastore.RootAdmin, with Engine.CreateUsers, the databases' create and
// the Validator): every engine (MariaDB, PostgreSQL, Redis) runs it from a
// test of its own package against a real server (enginetest), and a new
// engine is done when it passes.
//
// It is written in the style of testing/slogtest: a table of cases, each
// with an explanation of the rule it checks, each reporting every
// violation it finds (errors.Join). Databases, users, grants, passwords,
// root, hostile names and restart semantics are checked by what the
// engine does, through a [Client] the engine package supplies (log in,
// write, do what only the superuser may), not only by what the admin
// calls report. A capability the engine lacks (Redis has no databases) is
// skipped with the reason, never passed silently.
package admintest
