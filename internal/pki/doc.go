// Package pki is hoard's own certificate authority: a CA certificate and
// key made on first start (the key sealed with package secret before it
// rests on disk) or given by the operator, and the leaf certificates it
// issues to database instances and to hoard's own API listener, with the
// rule that says when one must be renewed.
package pki
