package identity

import (
	"slices"
	"time"

	"github.com/hoard-db/hoard/internal/model"
)

// Principal is who a valid token speaks for.
type Principal struct {
	UserID      string
	UserName    string
	ProjectID   string
	ProjectName string
	Roles       []string
	ExpiresAt   time.Time
}

// What each role allows on a project's database resources. This table is
// the whole policy: the API asks [Principal.CanRead] and
// [Principal.CanWrite] and knows no role names. The "dbaas:" names are
// Rackspace's product roles, for tokens of a Keystone that hands them out;
// "_member_" is the member role of older Keystone deployments. Roles not
// listed here allow nothing.
var (
	writeRoles = []string{model.RoleAdmin, model.RoleMember, model.RoleCreator, "_member_", "dbaas:admin", "dbaas:creator"}
	readRoles  = append([]string{model.RoleReader, model.RoleObserver, "dbaas:observer"}, writeRoles...)
)

// IsAdmin reports whether the principal has the admin role.
func (p *Principal) IsAdmin() bool { return slices.Contains(p.Roles, model.RoleAdmin) }

// CanAccessTenant reports whether the principal may act on tenantID: its own
// project, or any project for an admin.
func (p *Principal) CanAccessTenant(tenantID string) bool {
	return p.ProjectID == tenantID || p.IsAdmin()
}

// CanRead reports whether the principal may read (GET, HEAD) the resources
// of a project it can access: any of reader, observer, member, creator or
// admin.
func (p *Principal) CanRead() bool { return p.hasAny(readRoles) }

// CanWrite reports whether the principal may create, change and delete the
// resources of a project it can access: member, creator or admin (reader
// and observer may not).
func (p *Principal) CanWrite() bool { return p.hasAny(writeRoles) }

func (p *Principal) hasAny(roles []string) bool {
	return slices.ContainsFunc(p.Roles, func(r string) bool { return slices.Contains(roles, r) })
}
