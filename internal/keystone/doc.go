// Package keystone lets hoard sit behind an existing OpenStack Keystone
// instead of its built-in identity service: [Client] validates the tokens
// of API requests against Keystone (GET /v3/auth/tokens with
// X-Subject-Token, authenticated by a service token that it obtains with
// its service user's password and renews before it expires or when
// Keystone refuses it), and can register hoard's "database" service and
// endpoints in Keystone's catalog.
//
// Validations are cached for a bounded time (never past the token's own
// expiry), so a token revoked in Keystone stops working within that time.
// Keystone's role names are handed to hoard's policy
// ([identity.Principal.CanRead], [identity.Principal.CanWrite]) in lower
// case: reader and observer read, member and creator write, admin is
// admin.
//
// Errors are classified with package fault: an invalid, expired or revoked
// token is Unauthorized (401); Keystone unreachable, failing, or refusing
// hoard's own service credentials is Unavailable (503), its details only
// in the log.
package keystone
