package model

import "time"

// Roles known to the built-in identity service. Admin may do anything, in
// every project; member (and Rackspace's creator) create and change the
// resources of their project; reader (and Rackspace's observer) only read
// them.
const (
	RoleAdmin    = "admin"
	RoleMember   = "member"
	RoleCreator  = "creator"
	RoleReader   = "reader"
	RoleObserver = "observer"
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

// ProjectResources counts what a project owns in the database service; a
// project that owns anything cannot be deleted.
type ProjectResources struct {
	Instances      int
	Backups        int
	Configurations int
}

// Any reports whether the project owns anything.
func (r ProjectResources) Any() bool { return r.Instances+r.Backups+r.Configurations > 0 }
