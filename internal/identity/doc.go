// Package identity is hoard's built-in, Keystone-compatible identity service:
// password authentication (v3 and v2.0), token validation, the service
// catalog with the database endpoint, and the management of projects, users,
// passwords and role assignments (Keystone v3 shapes, as the OpenStack CLI
// sends them).
//
// Roles are a fixed set ([Roles]); what each allows on a project's databases
// is [Principal.CanRead] and [Principal.CanWrite], which the API's
// authorization middleware asks. Every change that takes access away (a
// deleted or disabled user or project, a revoked role, a changed password)
// deletes the tokens concerned from the store and from this process's
// validation cache; other processes sharing the store stop honouring them
// within [DefaultValidationCacheTTL].
//
// A project that still owns database resources (instances, backups,
// configuration groups, which the database service keeps in the same
// store) is not deleted: the store counts them and deletes the project in
// one transaction (store.Identity.DeleteProjectIfUnused).
package identity
