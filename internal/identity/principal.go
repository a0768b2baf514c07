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

// IsAdmin reports whether the principal has the admin role.
func (p *Principal) IsAdmin() bool { return slices.Contains(p.Roles, model.RoleAdmin) }

// CanAccessTenant reports whether the principal may act on tenantID: its own
// project, or any project for an admin.
func (p *Principal) CanAccessTenant(tenantID string) bool {
	return p.ProjectID == tenantID || p.IsAdmin()
}
