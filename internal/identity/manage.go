package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
	"github.com/hoard-db/hoard/internal/store"
)

// ProjectUpdate is a change to a project; nil fields stay as they are.
type ProjectUpdate struct {
	Name        *string
	Description *string
	Enabled     *bool
}

// UserUpdate is a change to a user; nil fields stay as they are.
type UserUpdate struct {
	Name     *string
	Enabled  *bool
	Password *string
}

// forget drops the cached principals that match, so that a change made
// through this process takes effect on its next request (other processes
// see it within the validation cache's TTL, since the tokens are gone from
// the store or their user or project changed).
func (s *Service) forget(match func(*Principal) bool) { s.cache.dropIf(match) }

// UpdateProject changes project id. A name another project has is a
// fault.Conflict; disabling a project stops its tokens at once.
func (s *Service) UpdateProject(ctx context.Context, id string, up ProjectUpdate) (*model.Project, error) {
	const op = "identity.update_project"
	p, err := s.st.GetProject(ctx, id)
	if err != nil {
		return nil, storeErr(op, "Could not find project: "+id+".", err)
	}
	if up.Name != nil {
		if err := validName(op, "project", *up.Name); err != nil {
			return nil, err
		}
		p.Name = *up.Name
	}
	if up.Description != nil {
		if err := safeText(op, "project description", *up.Description); err != nil {
			return nil, err
		}
		p.Description = *up.Description
	}
	if up.Enabled != nil {
		p.Enabled = *up.Enabled
	}
	if err := s.st.UpdateProject(ctx, *p); err != nil {
		return nil, storeErr(op, "a project with this name already exists", err)
	}
	s.forget(func(pr *Principal) bool { return pr.ProjectID == id })
	s.log.InfoContext(ctx, "project updated", "project_id", id, "project_name", p.Name, "enabled", p.Enabled)
	return p, nil
}

// DeleteProject deletes project id, its role assignments and the tokens
// scoped to it. A project that still owns instances, backups or
// configuration groups is a fault.Conflict. The store checks and deletes
// in one transaction (store.Identity.DeleteProjectIfUnused), serialised
// with the creates of the project's resources, so that a create racing
// the delete either is counted or finds no project.
func (s *Service) DeleteProject(ctx context.Context, id string) error {
	const op = "identity.delete_project"
	err := s.st.DeleteProjectIfUnused(ctx, id)
	var inUse *store.ProjectInUseError
	switch {
	case errors.As(err, &inUse):
		return fault.Errorf(fault.Conflict, op,
			"Cannot delete project %s while it owns %s: delete those first.", id, describe(inUse.Resources))
	case err != nil:
		return storeErr(op, "Could not find project: "+id+".", err)
	}
	s.forget(func(pr *Principal) bool { return pr.ProjectID == id })
	s.log.InfoContext(ctx, "project deleted", "project_id", id)
	return nil
}

// describe lists what a project owns: "2 instances and 1 backup".
func describe(n model.ProjectResources) string {
	var parts []string
	add := func(count int, one, many string) {
		switch {
		case count == 1:
			parts = append(parts, "1 "+one)
		case count > 1:
			parts = append(parts, fmt.Sprintf("%d %s", count, many))
		}
	}
	add(n.Instances, "instance", "instances")
	add(n.Backups, "backup", "backups")
	add(n.Configurations, "configuration group", "configuration groups")
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// UpdateUser changes user id. A new password (an admin's reset) or
// disabling the user revokes every token of the user.
func (s *Service) UpdateUser(ctx context.Context, id string, up UserUpdate) (*model.User, error) {
	const op = "identity.update_user"
	u, err := s.st.GetUser(ctx, id)
	if err != nil {
		return nil, storeErr(op, "Could not find user: "+id+".", err)
	}
	var hash []byte
	if up.Password != nil {
		if hash, err = s.hashPassword(op, *up.Password); err != nil {
			return nil, err
		}
	}
	if up.Name != nil {
		if err := validName(op, "user", *up.Name); err != nil {
			return nil, err
		}
		u.Name = *up.Name
	}
	disabled := up.Enabled != nil && !*up.Enabled && u.Enabled
	if up.Enabled != nil {
		u.Enabled = *up.Enabled
	}
	if up.Name != nil || up.Enabled != nil {
		if err := s.st.UpdateUser(ctx, *u); err != nil {
			return nil, storeErr(op, "a user with this name already exists", err)
		}
	}
	if hash != nil {
		if err := s.st.SetUserPassword(ctx, id, hash); err != nil {
			return nil, storeErr(op, "Could not find user: "+id+".", err)
		}
		u.PasswordHash = hash
	}
	if hash != nil || disabled {
		if err := s.revokeUser(ctx, op, id); err != nil {
			return nil, err
		}
	}
	s.forget(func(pr *Principal) bool { return pr.UserID == id })
	s.log.InfoContext(ctx, "user updated", "user_id", id, "user_name", u.Name, "enabled", u.Enabled,
		"password_changed", hash != nil)
	return u, nil
}

// revokeUser deletes every token of user id.
func (s *Service) revokeUser(ctx context.Context, op, id string) error {
	n, err := s.st.DeleteUserTokens(ctx, id, "")
	if err != nil {
		return fmt.Errorf("%s: revoke tokens: %w", op, err)
	}
	s.forget(func(pr *Principal) bool { return pr.UserID == id })
	s.log.InfoContext(ctx, "tokens revoked", "user_id", id, "count", n)
	return nil
}

// DeleteUser deletes user id, its role assignments and its tokens.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	const op = "identity.delete_user"
	if err := s.st.DeleteUser(ctx, id); err != nil {
		return storeErr(op, "Could not find user: "+id+".", err)
	}
	s.forget(func(pr *Principal) bool { return pr.UserID == id })
	s.log.InfoContext(ctx, "user deleted", "user_id", id)
	return nil
}

// ChangePassword is a user changing its own password: original must be
// the current one (else fault.Unauthorized, as a failed login). Every
// token of the user is revoked.
func (s *Service) ChangePassword(ctx context.Context, userID, original, password string) error {
	const op = "identity.change_password"
	u, err := s.checkPassword(ctx, userRef{ID: userID}, original)
	if err != nil {
		return err
	}
	hash, err := s.hashPassword(op, password)
	if err != nil {
		return err
	}
	if err := s.st.SetUserPassword(ctx, u.ID, hash); err != nil {
		return storeErr(op, "Could not find user: "+userID+".", err)
	}
	if err := s.revokeUser(ctx, op, u.ID); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "password changed", "user_id", u.ID)
	return nil
}

// RevokeRole takes role from user userID on project projectID and revokes
// the user's tokens on that project. An assignment that does not exist is
// fault.NotFound.
func (s *Service) RevokeRole(ctx context.Context, userID, projectID, role string) error {
	const op = "identity.revoke_role"
	a := model.RoleAssignment{UserID: userID, ProjectID: projectID, Role: role}
	if err := s.st.RevokeRole(ctx, a); err != nil {
		return storeErr(op, "Could not find role assignment.", err)
	}
	s.forget(func(pr *Principal) bool { return pr.UserID == userID && pr.ProjectID == projectID })
	s.log.InfoContext(ctx, "role revoked", "user_id", userID, "project_id", projectID, "role", role)
	return nil
}

// RoleAssignments lists the role assignments matching filter (empty fields
// match any).
func (s *Service) RoleAssignments(ctx context.Context, filter model.RoleAssignment) ([]model.RoleAssignment, error) {
	as, err := s.st.RoleAssignments(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("identity.role_assignments: %w", err)
	}
	return as, nil
}
