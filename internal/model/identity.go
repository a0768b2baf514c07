package model

import "time"

// Roles known to the built-in identity service.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// DefaultDomainID and DefaultDomainName name the only identity domain.
const (
	DefaultDomainID   = "default"
	DefaultDomainName = "Default"
)

// Project is an identity project (tenant). Its ID is the {accountId} of the
// Cloud Databases URLs.
type Project struct {
	ID          string
	Name        string
	Description string
	Enabled     bool
	Created     time.Time
}

// User is an identity user. PasswordHash is a slow hash, never the password.
type User struct {
	ID           string
	Name         string
	PasswordHash []byte
	Enabled      bool
	Created      time.Time
}

// RoleAssignment gives a user a role on a project.
type RoleAssignment struct {
	UserID    string
	ProjectID string
	Role      string
}

// Token is an issued token. Only the SHA-256 hash of the token is stored.
type Token struct {
	Hash      []byte
	UserID    string
	ProjectID string
	Roles     []string
	Methods   []string
	IssuedAt  time.Time
	ExpiresAt time.Time
}
