// Package secret seals small secrets (engine admin passwords, the users and
// passwords a create task still has to apply) before they rest in the
// metadata store, with AES-256-GCM and a key kept in a file only its owner
// can read. Whoever reads the database alone learns no password.
package secret
