// Package schema applies a store backend's embedded, numbered SQL
// migrations.
//
// A backend embeds its migrations as files named NNNN_name.sql (NNNN a
// decimal version, the first 1, with no gaps or repeats), loads them with
// [Load] and applies the missing ones with [Apply] through a small
// [Backend] that knows its own SQL dialect: how to read the applied
// version, run a transaction, execute a file and record a version. The
// version table itself, and any lock that serialises concurrent
// migrators, stay with the backend.
package schema
