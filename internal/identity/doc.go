// Package identity is hoard's built-in, Keystone-compatible identity service:
// password authentication (v3 and v2.0), token validation, the service
// catalog with the database endpoint, and projects, users and roles.
package identity
