// Package model holds hoard's plain domain types: instances, flavors,
// datastores, tasks and the identity records (projects, users, tokens),
// together with the typed status enums whose values are the exact strings of
// the Cloud Databases v1.0 wire API. It performs no I/O.
package model
