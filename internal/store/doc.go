// Package store defines hoard's metadata store: the interfaces every backend
// implements, and the sentinel errors they return. The backends are
// store/sqlite (the default, one file) and store/postgres (for several hoard
// replicas sharing one store). The conformance suite in store/storetest runs
// against each; store/schema applies their embedded migrations and
// store/sqlrow holds what they do alike around their different SQL.
//
// Every method is safe for concurrent use. Methods that change more than one
// row do it in one transaction: in particular the state gate of an instance
// action, the new status and the task row are written together, so two
// concurrent actions can never both be accepted.
package store
