// Package store defines hoard's metadata store: the interfaces every backend
// (SQLite now, PostgreSQL later) implements, and the sentinel errors they
// return. The conformance suite in store/storetest runs against each backend.
//
// Every method is safe for concurrent use. Methods that change more than one
// row do it in one transaction: in particular the state gate of an instance
// action, the new status and the task row are written together, so two
// concurrent actions can never both be accepted.
package store
